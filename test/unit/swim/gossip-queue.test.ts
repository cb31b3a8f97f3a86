import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GossipQueue } from '../../../lib/protocol/swim/gossip-queue.js';
import type { MemberRecord, RecordState } from '../../../lib/protocol/swim/record.js';

const r = (name: string, incarnation = 1, state: RecordState = 'up'): MemberRecord => ({ name, address: `${name}:1`, generation: 1, incarnation, state });
const names = (rs: MemberRecord[]) => rs.map((x) => x.name);

test('take hands out fewest-transmitted first, oldest first among equals, up to max', () => {
  const q = new GossipQueue();
  q.enqueue(r('a'));
  q.enqueue(r('b'));
  q.enqueue(r('c'));
  assert.deepEqual(names(q.take(2, 10)), ['a', 'b']);
  assert.deepEqual(names(q.take(2, 10)), ['c', 'a'], 'c was sent 0 times, a and b once');
  q.enqueue(r('d'));
  assert.deepEqual(names(q.take(10, 10)), ['d', 'b', 'c', 'a']);
});

test('a record leaves the queue after `limit` transmissions', () => {
  const q = new GossipQueue();
  q.enqueue(r('a'));
  for (let i = 0; i < 3; i++) assert.deepEqual(names(q.take(5, 3)), ['a']);
  assert.equal(q.size, 0);
  assert.deepEqual(q.take(5, 3), []);
});

test('a newer record of the same member supersedes the queued one and starts at zero transmissions', () => {
  const q = new GossipQueue();
  q.enqueue(r('a', 1, 'up'));
  q.take(1, 10);
  q.take(1, 10);
  assert.equal(q.peek('a')?.transmits, 2);
  q.enqueue(r('a', 1, 'suspect'));
  assert.equal(q.size, 1);
  assert.deepEqual(q.peek('a'), { record: r('a', 1, 'suspect'), transmits: 0 });
  q.remove('a');
  assert.equal(q.size, 0);
});

test('queued records are copies: later changes to the caller object do not leak in', () => {
  const q = new GossipQueue();
  const rec = r('a');
  q.enqueue(rec);
  rec.incarnation = 99;
  assert.equal(q.take(1, 5)[0]!.incarnation, 1);
});
