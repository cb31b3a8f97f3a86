import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../lib/protocol/random.js';
import { SeedRetry } from '../../lib/protocol/seed-retry.js';

const config = { baseDelayMs: 1000, maxDelayMs: 30_000 };

function due(retry: SeedRetry): string[] {
  const ready = retry.ready();
  retry.advance(ready);
  return ready.messages.map((m) => m.to).sort();
}

describe('SeedRetry', () => {
  it('contacts every new candidate at once, except itself', () => {
    const retry = new SeedRetry(config, 'self:1', new SeededRandom(1));
    retry.step({ type: 'candidates', addresses: ['a:1', 'b:1', 'self:1'] }, 0);
    assert.deepEqual(due(retry), ['a:1', 'b:1']);
    assert.deepEqual(due(retry), [], 'advance acknowledges');
  });

  it('retries an absent candidate with growing, bounded, jittered delays', () => {
    const retry = new SeedRetry(config, 'self:1', new SeededRandom(2));
    retry.step({ type: 'candidates', addresses: ['a:1'] }, 0);
    due(retry);
    let now = 0;
    const gaps: number[] = [];
    for (let i = 0; i < 12; i++) {
      const wake = retry.ready().nextWakeAt!;
      gaps.push(wake - now);
      now = wake;
      retry.step({ type: 'tick' }, now);
      assert.deepEqual(due(retry), ['a:1']);
    }
    for (const gap of gaps) assert.ok(gap >= config.baseDelayMs / 2 && gap <= config.maxDelayMs, `gap ${gap}`);
    assert.ok(Math.max(...gaps.slice(6)) > Math.max(...gaps.slice(0, 2)), 'delays grow');
  });

  it('leaves live members alone and wakes for nothing when all candidates are live', () => {
    const retry = new SeedRetry(config, 'self:1', new SeededRandom(3));
    retry.step({ type: 'candidates', addresses: ['a:1', 'b:1'] }, 0);
    due(retry);
    retry.step({ type: 'live-members', addresses: ['a:1', 'b:1'] }, 10);
    assert.equal(retry.ready().nextWakeAt, null);
    retry.step({ type: 'tick' }, 100_000);
    assert.deepEqual(due(retry), []);
  });

  it('contacts a member again once it is no longer live', () => {
    const retry = new SeedRetry(config, 'self:1', new SeededRandom(4));
    retry.step({ type: 'candidates', addresses: ['a:1'] }, 0);
    due(retry);
    retry.step({ type: 'live-members', addresses: ['a:1'] }, 10);
    retry.step({ type: 'live-members', addresses: [] }, 60_000);
    assert.deepEqual(due(retry), ['a:1']);
  });

  it('forgets candidates that discovery no longer proposes', () => {
    const retry = new SeedRetry(config, 'self:1', new SeededRandom(5));
    retry.step({ type: 'candidates', addresses: ['a:1'] }, 0);
    due(retry);
    retry.step({ type: 'candidates', addresses: [] }, 1);
    assert.equal(retry.ready().nextWakeAt, null);
  });
});
