import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRecords, isLive, mergeAll, mergeRecord, rank, type MemberRecord, type RecordState } from '../../../lib/protocol/swim/record.js';

const r = (generation: number, incarnation: number, state: RecordState, address = 'a:1'): MemberRecord => ({ name: 'n', address, generation, incarnation, state });

test('rank: joining < up < leaving < suspect < down < left < removed', () => {
  const order: RecordState[] = ['joining', 'up', 'leaving', 'suspect', 'down', 'left', 'removed'];
  order.forEach((state, i) => assert.equal(rank(state), i));
});

test('compareRecords: generation, then tombstone, then incarnation, then state, then address', () => {
  const table: [MemberRecord, MemberRecord, number, string][] = [
    [r(2, 0, 'joining'), r(1, 9, 'left'), 1, 'higher generation wins whatever the rest'],
    [r(1, 1, 'up'), r(1, 1, 'suspect'), -1, 'suspect beats up at equal incarnation'],
    [r(1, 2, 'up'), r(1, 1, 'suspect'), 1, 'a refutation (higher incarnation) beats the suspicion'],
    [r(1, 2, 'up'), r(1, 1, 'down'), 1, 'an alive node at a higher incarnation beats down'],
    [r(1, 3, 'left'), r(1, 3, 'down'), 1, 'left outranks down at equal incarnation'],
    [r(1, 3, 'leaving'), r(1, 3, 'suspect'), -1, 'suspect outranks leaving'],
    [r(1, 0, 'removed'), r(1, 99, 'up'), 1, 'a tombstone beats every record of its generation'],
    [r(1, 0, 'removed'), r(2, 0, 'joining'), -1, 'a new generation beats the tombstone'],
    [r(1, 1, 'up', 'a:1'), r(1, 1, 'up', 'b:1'), -1, 'address breaks ties'],
    [r(1, 1, 'up'), r(1, 1, 'up'), 0, 'same record'],
  ];
  for (const [a, b, expected, why] of table) {
    assert.equal(Math.sign(compareRecords(a, b)), expected, why);
    assert.equal(Math.sign(compareRecords(b, a)), 0 - expected, `${why} (reversed)`);
    assert.equal(mergeRecord(a, b), expected >= 0 ? a : b, `${why} (merge)`);
  }
});

test('mergeAll keeps the highest record per name', () => {
  const view = mergeAll(new Map(), [r(1, 1, 'up'), r(1, 1, 'suspect'), { ...r(1, 0, 'up'), name: 'm' }, r(1, 0, 'down')]);
  assert.deepEqual([...view.values()].map((x) => `${x.name}:${x.state}@${x.incarnation}`), ['n:suspect@1', 'm:up@0']);
});

test('isLive: the states in which a member is probed', () => {
  assert.deepEqual((['joining', 'up', 'leaving', 'suspect', 'down', 'left', 'removed'] as const).filter(isLive), ['joining', 'up', 'leaving', 'suspect']);
});
