import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { Cluster } from './cluster.js';

test('a candidate needs a majority: with two of five nodes reachable nobody leads, and the terms of the minority stay put under pre-vote', () => {
  const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
  for (const x of ['a', 'b']) for (const y of ['c', 'd', 'e']) c.cut.add(`${x}|${y}`);
  c.run(1000);
  assert.equal(c.core('a').role === 'leader' || c.core('b').role === 'leader', false);
  assert.equal(c.core('a').term, 0, 'pre-vote never won, so no term was raised');
  const majorityLeader = c.leader();
  assert.ok(majorityLeader !== null && ['c', 'd', 'e'].includes(majorityLeader));
});

test('at most one leader per term across many seeded elections', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = new Cluster(['a', 'b', 'c'], { seed });
    const seen = new Map<number, string>();
    for (let t = 0; t < 20; t++) {
      c.run(37);
      for (const n of c.nodes.values()) {
        if (n.core.role !== 'leader') continue;
        const prior = seen.get(n.core.term);
        assert.ok(prior === undefined || prior === n.id, `seed ${seed}: ${prior} and ${n.id} both lead term ${n.core.term}`);
        seen.set(n.core.term, n.id);
      }
      if (t === 10) c.isolate(c.leader() ?? 'a');
    }
  }
});

test('pre-vote: a node rejoining after a partition does not disrupt the healthy leader or raise the term', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  const term = c.core(leader).term;
  const loner = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.isolate(loner);
  c.run(2000); // many election timeouts alone: only pre-votes, which nobody answers
  assert.equal(c.core(loner).term, term, 'the isolated node never raised its term');
  assert.ok(c.core(loner).stats.electionsStarted > 3);
  c.heal();
  c.run(1000);
  assert.equal(c.leader(), leader);
  assert.equal(c.core(leader).term, term);
});

test('without pre-vote a rejoining node with a higher term would depose the leader (the case pre-vote exists for)', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } });
  const leader = c.elect();
  const term = c.core(leader).term;
  const loner = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.isolate(loner);
  c.run(1000);
  assert.ok(c.core(loner).term > term);
  c.heal();
  c.run(1000);
  assert.ok(c.core(c.leader()!).term > term, 'the term moved on: the old leader was deposed');
});

test('check-quorum: a leader cut off from the majority steps down within about an election timeout, and a follower in lease ignores votes', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.isolate(leader);
  c.run(c.config.electionTimeoutMinMs * 2 + 1);
  assert.notEqual(c.core(leader).role, 'leader');
  const newLeader = c.leader();
  assert.ok(newLeader !== null && newLeader !== leader);
  c.heal();
  c.run(500);
  assert.equal(c.leader(), newLeader);
  // A vote request at a higher term reaching a follower that hears its leader is ignored (thesis §4.2.3).
  const follower = ['a', 'b', 'c'].find((id) => id !== newLeader)!;
  const core = c.core(follower);
  const term = core.term;
  c.step(follower, { type: 'message', msg: { type: 'request-vote', group: 'g1', term: term + 5, from: 'x', to: follower, lastIndex: 999, lastTerm: 999, transfer: false } });
  assert.equal(core.term, term);
  assert.equal(core.stats.votesIgnoredInLease, 1);
});

test('proposals without a leader are refused with NotLeaderError carrying the leader hint', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.propose('a', 'x');
  const refused = c.node('a').events.find((e) => e.type === 'proposal-refused');
  assert.ok(refused?.type === 'proposal-refused' && refused.error instanceof NotLeaderError);
  assert.equal(refused.error.leaderHint, null);
  assert.equal(refused.error.code, 'ERR_NOT_LEADER');
  const leader = c.elect();
  const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.node(follower).events = [];
  c.propose(follower, 'y');
  const again = c.node(follower).events.find((e) => e.type === 'proposal-refused');
  assert.ok(again?.type === 'proposal-refused' && again.error instanceof NotLeaderError);
  assert.equal(again.error.leaderHint, leader);
});

test('a candidate counts its own vote only once term and vote are durable', () => {
  const c = new Cluster(['solo']);
  const n = c.node('solo');
  n.autoPersist = false;
  c.step('solo', { type: 'campaign' });
  assert.equal(n.core.role, 'candidate', 'won the pre-vote alone, but the vote is not yet on disk');
  c.flush('solo');
  assert.equal(n.core.role, 'leader');
  assert.equal(n.core.log.committed, 0, 'the first entry of the term is not durable yet');
  c.flush('solo');
  assert.equal(n.core.log.committed, 1);
});

test('the election timeout is drawn from the injected random within [min, max)', () => {
  const c = new Cluster(['a', 'b', 'c'], { seed: 5 });
  const deadlines = new Set<number>();
  for (const n of c.nodes.values()) {
    const d = n.core.electionDeadline - 0;
    assert.ok(d >= c.config.electionTimeoutMinMs && d < c.config.electionTimeoutMaxMs, `deadline ${d}`);
    deadlines.add(d);
  }
  assert.ok(deadlines.size > 1, 'nodes drew different timeouts');
});

test('leader-lost: followers whose link to a dead leader broke elect a new one well within an election timeout', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.run(50);
  c.isolate(leader);
  const start = c.now;
  for (const id of ['a', 'b', 'c'].filter((x) => x !== leader)) c.step(id, { type: 'leader-lost', leader });
  const spread = c.config.electionTimeoutMaxMs - c.config.electionTimeoutMinMs;
  c.run(Math.floor(spread / 4) + 20);
  const next = ['a', 'b', 'c'].filter((x) => x !== leader).find((id) => c.core(id).role === 'leader');
  assert.ok(next !== undefined, `a new leader within ${Math.floor(spread / 4) + 20} ms (election timeout ${c.config.electionTimeoutMinMs} ms)`);
  assert.ok(c.now - start < c.config.electionTimeoutMinMs);
});

test('leader-lost on a false alarm does not disturb a live leader: the other voter still holds its lease', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  const term = c.core(leader).term;
  c.run(50);
  const follower = ['a', 'b', 'c'].find((x) => x !== leader)!;
  c.step(follower, { type: 'leader-lost', leader });
  c.run(1000);
  assert.equal(c.leader(), leader);
  assert.equal(c.core(leader).term, term, 'no election took the term further');
});
