import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../lib/protocol/raft/errors.js';
import { Cluster } from './cluster.js';
import { logTerms, queued, restore } from './helpers.js';

test('three nodes elect one leader, replicate proposals and apply them in order everywhere', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  for (let i = 0; i < 5; i++) c.propose(leader, `x${i}`);
  c.stabilize();
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.node(id).machine, ['x0', 'x1', 'x2', 'x3', 'x4'], id);
  assert.deepEqual(['a', 'b', 'c'].filter((id) => c.core(id).role === 'leader'), [leader]);
});

test('figure 8: an old-term entry stored on a majority is not committed by counting; it commits with the first entry of the current term', () => {
  const c = new Cluster(['s1', 's2', 's3', 's4', 's5']);
  // s1 led term 2 and wrote 2@2 on s2; s5 led term 3 and wrote 2@3 alone; 2@2 then reached s3 too
  // (figure 8 (c)). Everyone is at term 3.
  restore(c, 's1', [1, 2], 3, { commit: 1 });
  restore(c, 's2', [1, 2], 3, { commit: 1 });
  restore(c, 's3', [1, 2], 3, { commit: 1 });
  restore(c, 's4', [1], 3, { commit: 1 });
  restore(c, 's5', [1, 3], 3, { commit: 1 });
  c.step('s1', { type: 'campaign' });
  for (let i = 0; i < 100 && c.queue.length > 0; i++) {
    const m = c.queue.shift()!;
    if (m.type.includes('vote')) c.deliverOne(m); // deliver the election only
  }
  const s1 = c.core('s1');
  assert.equal(s1.role, 'leader');
  assert.equal(s1.term, 4);
  // s1 holds [1@1, 2@2, 3@4]; s2 and s3 tell it they hold index 2 (2@2 on a majority: s1, s2, s3), not yet 3@4.
  c.take();
  for (const from of ['s2', 's3']) c.deliverOne({ type: 'append-response', group: 'g1', term: 4, from, to: 's1', index: 2, reject: false, rejectHint: 0, logTerm: 0 });
  assert.equal(s1.log.committed, 1, '2@2 is on a majority but of an older term: not committed (s5 could still be elected and overwrite it)');
  // Once a majority holds 3@4 as well, both commit.
  c.take();
  c.run(300);
  assert.equal(s1.log.committed, 3);
  for (const id of ['s2', 's3', 's4', 's5']) assert.deepEqual(logTerms(c.core(id)), [1, 2, 4], `${id}: log matching, s5's 2@3 was overwritten`);
});

test('log matching and leader completeness: divergent uncommitted tails are overwritten, committed entries survive a change of leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const first = c.elect();
  for (let i = 0; i < 3; i++) c.propose(first, `c${i}`);
  c.stabilize();
  const committed = c.core(first).log.committed;
  // The leader appends more that nobody else receives, then is cut off.
  c.isolate(first);
  for (let i = 0; i < 3; i++) c.propose(first, `lost${i}`);
  c.run(1000);
  const second = c.leader()!;
  assert.notEqual(second, first);
  c.propose(second, 'after');
  c.stabilize();
  c.heal();
  c.run(500);
  for (const id of ['a', 'b', 'c']) {
    const core = c.core(id);
    assert.deepEqual(logTerms(core), logTerms(c.core(second)), `${id} matches the leader's log`);
    assert.ok(core.log.committed >= committed);
    assert.deepEqual(c.node(id).machine, ['c0', 'c1', 'c2', 'after']);
  }
});

test('conflict hints: a follower with a long divergent tail is repaired in about one round trip per term, not per entry', () => {
  const c = new Cluster(['a', 'b', 'c']);
  // b has 50 entries from terms 2 and 3 that the others never had; a and c share 10 entries of term 1, then 5 of term 4.
  const common = Array(10).fill(1);
  restore(c, 'b', [...common, ...Array(25).fill(2), ...Array(25).fill(3)], 3);
  restore(c, 'a', [...common, ...Array(5).fill(4)], 4);
  restore(c, 'c', [...common, ...Array(5).fill(4)], 4);
  c.step('a', { type: 'campaign' });
  let rejections = 0;
  for (let i = 0; i < 10_000 && c.queue.length > 0; i++) {
    const m = c.queue.shift()!;
    if (m.type === 'append-response' && m.reject && m.from === 'b') rejections++;
    c.deliverOne(m);
  }
  assert.deepEqual(logTerms(c.core('b')), logTerms(c.core('a')));
  assert.ok(rejections <= 3, `b rejected ${rejections} probes (linear back-off would take ~50)`);
});

test('commit waits for durability: followers acknowledge only after their fsync, the leader counts itself only after its own', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  const followers = ['a', 'b', 'c'].filter((id) => id !== leader);
  for (const n of c.nodes.values()) n.autoPersist = false;
  const before = c.core(leader).log.committed;
  c.propose(leader, 'x');
  c.stabilize();
  assert.equal(queued(c, 'append-response').length, 0);
  assert.equal(c.core(leader).log.committed, before, 'nobody has the entry on disk');
  c.flush(leader);
  c.stabilize();
  assert.equal(c.core(leader).log.committed, before, 'the leader alone is not a majority');
  c.flush(followers[0]!); // its held acknowledgement now leaves
  c.stabilize();
  assert.equal(c.core(leader).log.committed, before + 1, 'leader + one follower, both durable');
  // A follower that knows the entry is committed still applies it only after its own write is durable.
  c.stabilize();
  c.tickTo(c.now + c.config.heartbeatIntervalMs);
  c.stabilize();
  const lagging = c.node(followers[1]!);
  assert.equal(lagging.core.log.committed, before + 1);
  assert.ok(!lagging.machine.includes('x'));
  c.flush(lagging.id);
  assert.ok(lagging.machine.includes('x'));
});

test('a leader whose own write is not durable still commits once a majority of followers holds the entry (thesis §10.2.1)', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.node(leader).autoPersist = false;
  const before = c.core(leader).log.committed;
  c.propose(leader, 'x');
  c.stabilize();
  assert.equal(c.core(leader).log.committed, before + 1);
  assert.ok(!c.node(leader).machine.includes('x'), 'but the leader applies it only once it is durable locally');
  c.flush(leader);
  assert.ok(c.node(leader).machine.includes('x'));
});

test('batching and pipelining: proposals of one turn share one append; at most maxInflightAppends appends are in flight per follower', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { maxInflightAppends: 2 } });
  const leader = c.elect();
  const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
  c.take();
  const core = c.core(leader);
  for (let i = 0; i < 10; i++) core.step({ type: 'propose', requestId: `p${i}`, data: new Uint8Array([i]) }, c.now);
  c.process(leader);
  const appends = queued(c, 'append', leader, follower);
  assert.equal(appends.length, 1, 'ten proposals, one append');
  assert.equal(appends[0]!.entries.length, 10);
  for (let round = 0; round < 3; round++) {
    c.propose(leader, `q${round}`);
  }
  assert.equal(queued(c, 'append', leader, follower).length, 2, 'the window of two is full: the third waits');
  c.stabilize();
  assert.equal(c.node(follower).machine.length, 13);
});

test('flow control: past maxUncommittedBytes a leader refuses proposals until entries commit', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { maxUncommittedBytes: 10 } });
  const leader = c.elect();
  c.isolate(leader);
  c.propose(leader, 'aaaaaaaa'); // 8 bytes
  c.propose(leader, 'bbbbbbbb'); // would be 16
  const refused = c.node(leader).events.filter((e) => e.type === 'proposal-refused');
  assert.equal(refused.length, 1);
  assert.ok(refused[0]!.type === 'proposal-refused' && refused[0]!.error instanceof ProposalDroppedError && refused[0]!.error.reason === 'uncommitted-limit');
  c.heal();
  c.stabilize();
  c.propose(leader, 'cccccccc');
  assert.equal(c.node(leader).events.filter((e) => e.type === 'proposal-refused').length, 1, 'accepted again once committed');
});

test('quiescable: only a leader whose log is committed, applied and held by every follower, with nothing in flight', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  c.stabilize();
  assert.equal(c.core(leader).quiescable(), true);
  const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
  assert.equal(c.core(follower).quiescable(), false);
  c.cut.add(`${leader}|${follower}`);
  c.propose(leader, 'x');
  c.stabilize();
  assert.equal(c.core(leader).quiescable(), false, 'a follower lacks the entry');
  c.heal();
  c.run(100);
  assert.equal(c.core(leader).quiescable(), true);
  c.step(leader, { type: 'read-index', requestId: 'r' });
  assert.equal(c.core(leader).quiescable(), false, 'a read waits for its heartbeat round');
});
