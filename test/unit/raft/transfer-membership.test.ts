import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../lib/protocol/raft/errors.js';
import type { RaftEvent } from '../../../lib/protocol/raft/ready.js';
import { Cluster } from './cluster.js';
import { queued } from './helpers.js';

const refusals = (events: RaftEvent[]) =>
  events.flatMap((e) => (e.type === 'proposal-refused' && e.error instanceof ProposalDroppedError ? [e.error.reason] : []));

test('leader transfer: the target is brought up to date, gets TimeoutNow, and wins the next term; proposals meanwhile are refused', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.propose(leader, 'x');
  // The target has not received 'x' yet when the transfer starts.
  c.take((m) => m.to === target);
  const term = c.core(leader).term;
  c.step(leader, { type: 'transfer-leader', to: target });
  assert.equal(queued(c, 'timeout-now').length, 0, 'no TimeoutNow before the target holds the whole log');
  c.propose(leader, 'during');
  assert.deepEqual(refusals(c.node(leader).events), ['transferring']);
  c.stabilize();
  assert.equal(c.leader(), target);
  assert.equal(c.core(target).term, term + 1);
  assert.ok(c.node(target).machine.includes('x'));
});

test('a transfer to an unreachable node is aborted after an election timeout and the leader serves again', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  const target = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.cut.add(`${leader}|${target}`);
  c.propose(leader, 'x');
  c.stabilize();
  c.step(leader, { type: 'transfer-leader', to: target });
  c.run(c.config.electionTimeoutMinMs + 1);
  assert.ok(c.node(leader).events.some((e) => e.type === 'transfer-aborted'));
  c.node(leader).events = [];
  c.propose(leader, 'y');
  assert.deepEqual(refusals(c.node(leader).events), []);
});

test('membership: add a learner, which never votes or counts, promote it once caught up, one change at a time', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.stabilize();
  const d = c.add('d', { voters: ['a', 'b', 'c'], learners: [] }); // a new node, not yet a member of its own configuration
  c.step(leader, { type: 'change-membership', requestId: 'add-d', change: { type: 'add-learner', node: 'd' } });
  c.step(leader, { type: 'change-membership', requestId: 'add-e', change: { type: 'add-learner', node: 'e' } });
  assert.deepEqual(refusals(c.node(leader).events), ['config-pending'], 'one change at a time');
  c.stabilize();
  assert.deepEqual(c.core(leader).membership, { voters: ['a', 'b', 'c'], learners: ['d'] });
  for (let i = 0; i < 5; i++) c.propose(leader, `x${i}`);
  c.stabilize();
  assert.deepEqual(d.machine, ['x0', 'x1', 'x2', 'x3', 'x4'], 'the learner receives the log');
  assert.deepEqual(d.core.membership.learners, ['d']);

  // Never counted: with both other voters cut off, leader + learner commit nothing.
  const others = ['a', 'b', 'c'].filter((id) => id !== leader);
  for (const o of others) c.cut.add(`${leader}|${o}`);
  const commit = c.core(leader).log.committed;
  c.propose(leader, 'y');
  c.stabilize();
  assert.equal(c.core(leader).log.committed, commit);
  assert.equal(d.core.log.lastIndex(), commit + 1, 'd holds the entry, and it does not count');
  c.heal();
  c.stabilize();

  // Never votes: d never campaigns and no candidate asks it, even with the leader gone for long.
  c.isolate(leader);
  c.run(2000);
  assert.equal(d.core.stats.electionsStarted, 0);
  c.heal();
  c.run(500);
  const now = c.leader()!;
  assert.ok(now !== 'd');
  c.take();
  c.step(now, { type: 'change-membership', requestId: 'promote-d', change: { type: 'promote', node: 'd' } });
  c.stabilize();
  assert.deepEqual(c.core(now).membership, { voters: ['a', 'b', 'c', 'd'], learners: [] });
  assert.deepEqual(d.core.membership, { voters: ['a', 'b', 'c', 'd'], learners: [] });
  assert.ok(d.core.promotable());
});

test('a learner that has not caught up is not promoted', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.stabilize();
  c.add('d', { voters: ['a', 'b', 'c'], learners: [] });
  c.cut.add(`${leader}|d`);
  c.step(leader, { type: 'change-membership', requestId: 'add-d', change: { type: 'add-learner', node: 'd' } });
  c.stabilize();
  c.step(leader, { type: 'change-membership', requestId: 'promote-d', change: { type: 'promote', node: 'd' } });
  assert.deepEqual(refusals(c.node(leader).events), ['learner-behind']);
  c.step(leader, { type: 'change-membership', requestId: 'add-a', change: { type: 'add-learner', node: 'a' } });
  assert.deepEqual(refusals(c.node(leader).events), ['learner-behind', 'invalid']);
});

test('a leader that removes itself steps down once the change commits, and the rest elect a new leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.stabilize();
  c.step(leader, { type: 'change-membership', requestId: 'rm', change: { type: 'remove', node: leader } });
  c.stabilize();
  const old = c.node(leader);
  assert.notEqual(old.core.role, 'leader');
  assert.ok(old.events.some((e) => e.type === 'removed'));
  const rest = ['a', 'b', 'c'].filter((id) => id !== leader);
  for (const id of rest) assert.deepEqual(c.core(id).membership.voters, rest);
  const elections = old.core.stats.electionsStarted;
  c.run(1000);
  const next = c.leader();
  assert.ok(next !== null && rest.includes(next));
  assert.equal(old.core.stats.electionsStarted, elections, 'a removed node never campaigns');
  c.propose(next, 'after');
  c.stabilize();
  for (const id of rest) assert.ok(c.node(id).machine.includes('after'));
});

test('removing a follower: the leader stops replicating to it and a quorum of the rest suffices', () => {
  const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
  const leader = c.elect();
  c.stabilize();
  const gone = ['a', 'b', 'c', 'd', 'e'].filter((id) => id !== leader).slice(0, 2);
  c.step(leader, { type: 'change-membership', requestId: 'rm1', change: { type: 'remove', node: gone[0]! } });
  c.stabilize();
  c.step(leader, { type: 'change-membership', requestId: 'rm2', change: { type: 'remove', node: gone[1]! } });
  c.stabilize();
  assert.equal(c.core(leader).membership.voters.length, 3);
  c.take();
  c.propose(leader, 'x');
  assert.ok(c.queue.every((m) => !gone.includes(m.to)));
});

test('a leader of two voters cannot remove itself (the two-voter wedge); it transfers leadership first', () => {
  const c = new Cluster(['a', 'b']);
  const leader = c.elect();
  c.stabilize();
  const other = leader === 'a' ? 'b' : 'a';
  c.step(leader, { type: 'change-membership', requestId: 'rm-self', change: { type: 'remove', node: leader } });
  assert.deepEqual(refusals(c.node(leader).events), ['invalid']);
  c.step(leader, { type: 'transfer-leader', to: other });
  c.stabilize();
  assert.equal(c.leader(), other);
  c.step(other, { type: 'change-membership', requestId: 'rm', change: { type: 'remove', node: leader } });
  c.stabilize();
  assert.deepEqual(c.core(other).membership.voters, [other]);
  c.propose(other, 'alone');
  assert.ok(c.node(other).machine.includes('alone'));
});
