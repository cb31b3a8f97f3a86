import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogLimiter, OVERFLOW_KEY } from '../../../lib/transport/log-limiter.js';

describe('LogLimiter: once per key per interval, with the count suppressed', () => {
  it('logs the first event, suppresses the rest of the interval, then reports how many it suppressed', () => {
    const limiter = new LogLimiter({ intervalMs: 1000, maxKeys: 10 });
    const decisions = [0, 1, 500, 999, 1000, 1001, 2500].map((t) => limiter.decide('bad-cookie|10.0.0.9', t));
    assert.deepEqual(decisions, [
      { log: true, suppressed: 0 },
      { log: false },
      { log: false },
      { log: false },
      { log: true, suppressed: 3 },
      { log: false },
      { log: true, suppressed: 1 },
    ]);
  });

  it('keeps keys apart', () => {
    const limiter = new LogLimiter({ intervalMs: 1000, maxKeys: 10 });
    assert.deepEqual(limiter.decide('a', 0), { log: true, suppressed: 0 });
    assert.deepEqual(limiter.decide('b', 1), { log: true, suppressed: 0 });
    assert.deepEqual(limiter.decide('a', 2), { log: false });
    assert.deepEqual(limiter.decide('b', 3), { log: false });
  });

  it('holds at most maxKeys keys plus the overflow: new keys beyond share one budget', () => {
    const limiter = new LogLimiter({ intervalMs: 1000, maxKeys: 3 });
    const logged = [];
    for (let i = 0; i < 1000; i++) {
      const decision = limiter.decide(`peer-${i}`, i / 10);
      if (decision.log) logged.push(`peer-${i}`);
    }
    assert.deepEqual(logged, ['peer-0', 'peer-1', 'peer-2', 'peer-3'], 'three keys, then one line for all others');
    assert.equal(limiter.size, 4);
    assert.equal(limiter.keyFor('peer-999'), OVERFLOW_KEY);
    assert.equal(limiter.keyFor('peer-1'), 'peer-1');
  });

  it('forgets keys idle for a whole interval, making room for new ones', () => {
    const limiter = new LogLimiter({ intervalMs: 1000, maxKeys: 2 });
    limiter.decide('a', 0);
    limiter.decide('b', 10);
    assert.deepEqual(limiter.decide('c', 500), { log: true, suppressed: 0 }, 'the overflow key logs once');
    assert.equal(limiter.keyFor('c'), OVERFLOW_KEY);
    assert.deepEqual(limiter.decide('d', 1500), { log: true, suppressed: 0 });
    assert.equal(limiter.keyFor('d'), 'd', 'a and b expired and were forgotten');
    assert.ok(limiter.size <= 3);
  });
});
