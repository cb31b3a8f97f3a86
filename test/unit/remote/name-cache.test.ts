import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NameCache } from '../../../lib/remote/name-cache.js';

describe('NameCache', () => {
  it('serves an answer until its TTL, absent names included', () => {
    const cache = new NameCache<string | null>(1_000);
    assert.ok(cache.fill('a', 'ref-a', cache.ticket(), 0));
    assert.ok(cache.fill('gone', null, cache.ticket(), 0));
    assert.equal(cache.get('a', 999), 'ref-a');
    assert.equal(cache.get('gone', 999), null, 'absent is an answer');
    assert.equal(cache.get('a', 1_000), undefined, 'expired');
    assert.equal(cache.get('never', 0), undefined, 'a miss');
  });

  it('drops a name on change, and refuses an answer read across any change', () => {
    const cache = new NameCache<string>(1_000);
    cache.fill('a', 'old', cache.ticket(), 0);
    const ticket = cache.ticket(); // a read of b starts
    cache.invalidate('a'); // a change (to any name) arrives before its answer
    assert.equal(cache.get('a', 1), undefined);
    assert.equal(cache.fill('b', 'maybe-stale', ticket, 2), false);
    assert.equal(cache.get('b', 3), undefined);
    assert.ok(cache.fill('b', 'fresh', cache.ticket(), 4));
    assert.equal(cache.get('b', 5), 'fresh');
  });

  it('clear drops everything and voids reads in flight', () => {
    const cache = new NameCache<string>(1_000);
    cache.fill('a', 'x', cache.ticket(), 0);
    const ticket = cache.ticket();
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.fill('a', 'x', ticket, 1), false);
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const cache = new NameCache<number>(1_000, 3);
    for (let i = 0; i < 5; i++) cache.fill(`n${i}`, i, cache.ticket(), 0);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('n0', 1), undefined);
    assert.equal(cache.get('n1', 1), undefined);
    assert.equal(cache.get('n4', 1), 4);
  });
});
