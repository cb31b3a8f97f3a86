import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceRateLimiter } from '../../../lib/transport/source-rate-limiter.js';

describe('SourceRateLimiter: a token bucket per source address', () => {
  it('admits a burst, then one per refill period', () => {
    const limiter = new SourceRateLimiter({ burst: 3, refillPerSecond: 2, maxSources: 10 });
    const at = (t: number) => limiter.take('10.0.0.9', t);
    assert.deepEqual([at(0), at(0), at(0), at(0), at(100), at(499), at(500), at(500), at(1000)], [true, true, true, false, false, false, true, false, true]);
  });

  it('refills to the burst, never beyond', () => {
    const limiter = new SourceRateLimiter({ burst: 2, refillPerSecond: 10, maxSources: 10 });
    limiter.take('a', 0);
    const admitted = [1, 2, 3].map(() => limiter.take('a', 60_000));
    assert.deepEqual(admitted, [true, true, false]);
  });

  it('keeps sources apart', () => {
    const limiter = new SourceRateLimiter({ burst: 1, refillPerSecond: 1, maxSources: 10 });
    assert.deepEqual([limiter.take('a', 0), limiter.take('a', 0), limiter.take('b', 0), limiter.take('b', 0)], [true, false, true, false]);
  });

  it('bounds memory: a thousand sources, each connecting once, beyond maxSources share one bucket', () => {
    const limiter = new SourceRateLimiter({ burst: 2, refillPerSecond: 1, maxSources: 3 });
    let admitted = 0;
    for (let i = 0; i < 1000; i++) if (limiter.take(`10.0.${Math.floor(i / 256)}.${i % 256}`, 0)) admitted++;
    assert.equal(admitted, 3 + 2, 'one each for the three tracked sources, then the shared bucket\'s burst for all others');
    assert.ok(limiter.size <= 4);
  });

  it('forgets a source whose bucket refilled, making room for new ones', () => {
    const limiter = new SourceRateLimiter({ burst: 2, refillPerSecond: 1, maxSources: 1 });
    limiter.take('a', 0);
    assert.equal(limiter.take('b', 0), true, 'b is in the shared bucket');
    assert.equal(limiter.take('c', 0), true);
    assert.equal(limiter.take('d', 0), false, 'the shared bucket is empty');
    assert.equal(limiter.tracks('b'), false);
    assert.equal(limiter.take('e', 2000), true);
    assert.equal(limiter.tracks('e'), true, 'a refilled by then and was forgotten, which made room for e');
    assert.equal(limiter.tracks('a'), false);
    assert.ok(limiter.size <= 2);
  });
});
