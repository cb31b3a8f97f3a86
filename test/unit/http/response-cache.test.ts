import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheFor } from '../../../lib/http/response-cache.js';

describe('cacheFor', () => {
  it('computes at most once per maxAgeMs, and again once the value is older', () => {
    let now = 0;
    let computed = 0;
    const get = cacheFor(100, () => ++computed, () => now);
    const seen: number[] = [];
    for (const at of [0, 50, 99, 100, 150, 199, 200, 1000]) {
      now = at;
      seen.push(get());
    }
    assert.deepEqual(seen, [1, 1, 1, 2, 2, 2, 3, 4]);
  });

  it('clear() makes the next call compute afresh', () => {
    let computed = 0;
    const get = cacheFor(1000, () => ++computed, () => 0);
    assert.equal(get(), 1);
    assert.equal(get(), 1);
    get.clear();
    assert.equal(get(), 2);
  });

  it('shares one asynchronous computation among concurrent callers', async () => {
    let renders = 0;
    let finish!: (text: string) => void;
    const get = cacheFor(1000, () => {
      renders++;
      return new Promise<string>((resolve) => (finish = resolve));
    }, () => 0);
    const a = get();
    const b = get();
    finish('text');
    assert.deepEqual(await Promise.all([a, b]), ['text', 'text']);
    assert.equal(renders, 1);
  });

  it('does not keep a failure: a throw or a rejection is retried on the next call', async () => {
    let calls = 0;
    const throwing = cacheFor(1000, () => {
      if (++calls === 1) throw new Error('first fails');
      return calls;
    }, () => 0);
    assert.throws(() => throwing(), /first fails/);
    assert.equal(throwing(), 2);

    let attempts = 0;
    const rejecting = cacheFor(1000, () => (++attempts === 1 ? Promise.reject(new Error('no')) : Promise.resolve('ok')), () => 0);
    await assert.rejects(rejecting(), /no/);
    assert.equal(await rejecting(), 'ok');
    assert.equal(attempts, 2);
  });
});
