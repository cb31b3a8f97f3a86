import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeededRandom, type Random } from '../../../lib/protocol/random.js';
import { backoffCeilingMs, backoffPolicyProblem, nextBackoffMs } from '../../../lib/transport/backoff.js';

const policy = { baseMs: 100, maxMs: 5_000 };

/** A Random that always draws `value`, to pin the ends of the jitter range. */
function fixed(value: number): Random {
  return { next: () => value, int: (n) => Math.floor(value * n), fork: () => fixed(value) };
}

describe('backoffCeilingMs', () => {
  const cases: Array<[attempt: number, ceilingMs: number]> = [
    [0, 100],
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1_600],
    [5, 3_200],
    [6, 5_000],
    [7, 5_000],
    [1_000, 5_000],
    [Number.MAX_SAFE_INTEGER, 5_000],
    [-3, 100],
  ];
  for (const [attempt, ceilingMs] of cases) {
    it(`attempt ${attempt} → ${ceilingMs} ms`, () => assert.equal(backoffCeilingMs(attempt, policy), ceilingMs));
  }
});

describe('nextBackoffMs', () => {
  it('stays in [0, ceiling) for every attempt and seed', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }), (seed, attempt, baseMs, extraMs) => {
        const p = { baseMs, maxMs: baseMs + extraMs };
        const delay = nextBackoffMs(attempt, p, new SeededRandom(seed));
        assert.ok(Number.isInteger(delay));
        assert.ok(delay >= 0 && delay < backoffCeilingMs(attempt, p), `${delay} for attempt ${attempt}`);
      }),
    );
  });

  it('draws from the whole range: full jitter', () => {
    assert.equal(nextBackoffMs(3, policy, fixed(0)), 0);
    assert.equal(nextBackoffMs(3, policy, fixed(0.999_999)), 799);
    const random = new SeededRandom(7);
    const draws = Array.from({ length: 2_000 }, () => nextBackoffMs(4, policy, random));
    assert.ok(Math.min(...draws) < 160, 'some draws in the lowest tenth');
    assert.ok(Math.max(...draws) >= 1_440, 'some draws in the highest tenth');
  });

  it('grows: the mean delay doubles per attempt until the cap', () => {
    const random = new SeededRandom(11);
    const mean = (attempt: number): number => {
      let sum = 0;
      for (let i = 0; i < 4_000; i++) sum += nextBackoffMs(attempt, policy, random);
      return sum / 4_000;
    };
    const means = [0, 1, 2, 3, 4, 5, 6, 7].map(mean);
    for (let i = 1; i < 6; i++) assert.ok(means[i]! > means[i - 1]! * 1.7, `mean grows from attempt ${i - 1} to ${i}: ${means.join(', ')}`);
    assert.ok(means[7]! < policy.maxMs, 'the cap bounds the delay');
  });

  it('replays from a seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    for (let attempt = 0; attempt < 20; attempt++) assert.equal(nextBackoffMs(attempt, policy, a), nextBackoffMs(attempt, policy, b));
  });
});

describe('backoffPolicyProblem', () => {
  it('accepts a valid policy and names the broken rule otherwise', () => {
    assert.equal(backoffPolicyProblem(policy), null);
    assert.match(backoffPolicyProblem({ baseMs: 0, maxMs: 10 }) ?? '', /baseMs/);
    assert.match(backoffPolicyProblem({ baseMs: 100, maxMs: 10 }) ?? '', /maxMs/);
    assert.match(backoffPolicyProblem({ baseMs: Number.NaN, maxMs: 10 }) ?? '', /baseMs/);
  });
});
