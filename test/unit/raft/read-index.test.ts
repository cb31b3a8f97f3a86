import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { Cluster } from './cluster.js';
import { queued } from './helpers.js';

test('ReadIndex waits for a commit in the leader\'s term, then for a heartbeat quorum, and answers with the commit index', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.step('a', { type: 'campaign' });
  // Deliver the election but hold every append: a is leader without a commit in its term.
  for (let i = 0; i < 100 && c.queue.length > 0; i++) {
    const m = c.queue.shift()!;
    if (m.type.includes('vote')) c.deliverOne(m);
  }
  const a = c.node('a');
  assert.equal(a.core.role, 'leader');
  c.take();
  c.step('a', { type: 'read-index', requestId: 'r1' });
  assert.equal(queued(c, 'heartbeat').length, 0, 'no read round before the first commit of the term');
  assert.deepEqual(a.readStates, []);
  c.tickTo(c.now + c.config.heartbeatIntervalMs); // appends go out again with the heartbeat answers
  c.stabilize();
  const commit = a.core.log.committed;
  assert.ok(commit >= 1);
  assert.deepEqual(a.readStates, [{ requestId: 'r1', index: commit }]);

  // A later read needs a fresh heartbeat round: answers to older rounds do not count.
  c.step('a', { type: 'read-index', requestId: 'r2' });
  const round = queued(c, 'heartbeat', 'a');
  assert.equal(round.length, 2);
  assert.ok(round.every((h) => h.context > 0));
  assert.equal(a.readStates.length, 1);
  c.deliverOne(c.take((m) => m.type === 'heartbeat' && m.to === 'b')[0]!);
  c.deliverOne(c.take((m) => m.type === 'heartbeat-response')[0]!);
  assert.deepEqual(a.readStates[1], { requestId: 'r2', index: commit }, 'a and b are a majority of three');
});

test('ReadIndex on a leader cut off from its quorum never answers, and is refused when it steps down', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.stabilize();
  c.isolate(leader);
  c.step(leader, { type: 'read-index', requestId: 'stale?' });
  c.run(c.config.electionTimeoutMinMs * 3);
  const n = c.node(leader);
  assert.deepEqual(n.readStates, []);
  const refused = n.events.find((e) => e.type === 'read-index-refused');
  assert.ok(refused?.type === 'read-index-refused' && refused.error instanceof NotLeaderError);
});

test('a follower forwards ReadIndex to the leader and gets a read state back', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.stabilize();
  const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.step(follower, { type: 'read-index', requestId: 'f1' });
  c.stabilize();
  assert.deepEqual(c.node(follower).readStates, [{ requestId: 'f1', index: c.core(leader).log.committed }]);
});

test('a single voter answers ReadIndex at once after its first commit', () => {
  const c = new Cluster(['solo']);
  c.elect();
  c.stabilize();
  c.step('solo', { type: 'read-index', requestId: 'r' });
  assert.deepEqual(c.node('solo').readStates, [{ requestId: 'r', index: 1 }]);
});
