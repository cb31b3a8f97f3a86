import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handoverWaitMs, initialSingletonState, leaseHolds, stepSingleton, type SingletonInput, type SingletonState } from '../../../lib/remote/singleton-decision.js';

const config = { leaseMs: 1_000, tickMs: 300, restartDelayMs: 500 };
const state = (over: Partial<SingletonState> = {}): SingletonState => ({ ...initialSingletonState(), ...over });
const holding = (over: Partial<SingletonState> = {}): SingletonState => state({ phase: 'holding', running: true, confirmedAt: 100, ...over });

describe('stepSingleton', () => {
  const cases: { name: string; from: SingletonState; input: SingletonInput; now: number; actions: string[]; to: Partial<SingletonState> }[] = [
    { name: 'a contender that finds the key absent claims it', from: state(), input: { type: 'observed', holder: 'none', startedAt: 10 }, now: 20, actions: ['claim'], to: { phase: 'contending' } },
    { name: 'not before its restart delay', from: state({ claimNotBefore: 600 }), input: { type: 'observed', holder: 'none', startedAt: 10 }, now: 20, actions: [], to: { phase: 'contending' } },
    { name: 'a claim written within the lease spawns', from: state(), input: { type: 'claimed', startedAt: 100, afterSweep: false }, now: 150, actions: ['spawn'], to: { phase: 'holding', running: true, confirmedAt: 100 } },
    { name: 'a claim answered after its lease waits for a read', from: state(), input: { type: 'claimed', startedAt: 100, afterSweep: false }, now: 1_200, actions: [], to: { phase: 'holding', running: false } },
    { name: 'a key swept from a gone node is claimed', from: state(), input: { type: 'observed', holder: 'swept', startedAt: 10 }, now: 20, actions: ['claim'], to: { phase: 'contending' } },
    { name: 'a claim that replaced a swept mark waits out the old holder\'s lease and a tick', from: state(), input: { type: 'claimed', startedAt: 100, afterSweep: true }, now: 150, actions: [], to: { phase: 'holding', running: false, spawnNotBefore: 1_400 } },
    { name: 'it spawns at the first tick after the wait, its own lease confirmed', from: holding({ running: false, confirmedAt: 1_300, spawnNotBefore: 1_400 }), input: { type: 'tick' }, now: 1_400, actions: ['spawn'], to: { running: true } },
    { name: 'not before', from: holding({ running: false, confirmedAt: 1_300, spawnNotBefore: 1_400 }), input: { type: 'tick' }, now: 1_399, actions: [], to: { running: false } },
    { name: 'nor without its own lease', from: holding({ running: false, confirmedAt: 100, spawnNotBefore: 1_400 }), input: { type: 'tick' }, now: 1_400, actions: [], to: { running: false } },
    { name: 'a lost claim keeps contending', from: state(), input: { type: 'claim-lost' }, now: 0, actions: [], to: { phase: 'contending', running: false } },
    { name: 'a read that finds the claim renews the lease', from: holding(), input: { type: 'observed', holder: 'self', startedAt: 900 }, now: 950, actions: [], to: { confirmedAt: 900, running: true } },
    { name: 'an older read does not move the lease back', from: holding({ confirmedAt: 900 }), input: { type: 'observed', holder: 'self', startedAt: 500 }, now: 950, actions: [], to: { confirmedAt: 900 } },
    { name: 'the lease runs out: the instance stops (fenced), the claim is kept', from: holding(), input: { type: 'tick' }, now: 1_100, actions: ['stop'], to: { phase: 'holding', running: false } },
    { name: 'within the lease a tick does nothing', from: holding(), input: { type: 'tick' }, now: 1_099, actions: [], to: { running: true } },
    { name: 'a fenced holder whose claim is found again restarts its instance', from: holding({ running: false }), input: { type: 'observed', holder: 'self', startedAt: 2_000 }, now: 2_050, actions: ['spawn'], to: { running: true, confirmedAt: 2_000 } },
    { name: 'a holder whose claim was swept stops and claims again', from: holding(), input: { type: 'observed', holder: 'none', startedAt: 500 }, now: 550, actions: ['stop', 'claim'], to: { phase: 'contending', running: false, confirmedAt: null } },
    { name: 'a holder that finds another\'s claim stops', from: holding(), input: { type: 'observed', holder: 'other', startedAt: 500 }, now: 550, actions: ['stop'], to: { phase: 'contending', running: false } },
    { name: 'a former life\'s claim is cleared', from: state(), input: { type: 'observed', holder: 'former', startedAt: 0 }, now: 0, actions: ['clear-former'], to: { phase: 'contending' } },
    { name: 'an instance that stopped by itself releases and waits before claiming again', from: holding(), input: { type: 'instance-stopped' }, now: 300, actions: ['release'], to: { phase: 'contending', running: false, claimNotBefore: 800, releasing: true } },
    { name: 'close stops and releases', from: holding(), input: { type: 'close' }, now: 300, actions: ['stop', 'release'], to: { phase: 'closed', running: false } },
    { name: 'close of a contender releases nothing', from: state(), input: { type: 'close' }, now: 300, actions: [], to: { phase: 'closed' } },
    { name: 'a claim that lands after close is given back', from: state({ phase: 'closed' }), input: { type: 'claimed', startedAt: 0, afterSweep: false }, now: 10, actions: ['release'], to: { phase: 'closed', running: false } },
    { name: 'a read that started before this node\'s claim is ignored', from: holding({ claimedAt: 100 }), input: { type: 'observed', holder: 'none', startedAt: 50 }, now: 200, actions: [], to: { phase: 'holding', running: true } },
    { name: 'a read that finds the claim while its release is in flight is ignored', from: state({ releasing: true }), input: { type: 'observed', holder: 'self', startedAt: 900 }, now: 950, actions: [], to: { phase: 'contending', running: false } },
    { name: 'a read that started before the release finished is ignored', from: state({ releasedAt: 500 }), input: { type: 'observed', holder: 'self', startedAt: 400 }, now: 550, actions: [], to: { phase: 'contending', running: false } },
    { name: 'a claim found after its release finished is still this node\'s (the release could not remove it)', from: state({ releasedAt: 500 }), input: { type: 'observed', holder: 'self', startedAt: 600 }, now: 650, actions: ['spawn'], to: { phase: 'holding', running: true } },
    { name: 'a finished release is recorded', from: state({ releasing: true }), input: { type: 'released' }, now: 700, actions: [], to: { releasing: false, releasedAt: 700 } },
    { name: 'closed: nothing else happens', from: state({ phase: 'closed' }), input: { type: 'observed', holder: 'none', startedAt: 0 }, now: 10, actions: [], to: { phase: 'closed', running: false } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { state: next, actions } = stepSingleton(c.from, c.input, c.now, config);
      assert.deepEqual(actions, c.actions);
      for (const [k, v] of Object.entries(c.to)) assert.deepEqual(next[k as keyof SingletonState], v, k);
    });
  }

  it('handoverWaitMs: the lease and one tick (a lease that ran out is noticed at the next tick)', () => {
    assert.equal(handoverWaitMs(config), 1_300);
  });

  it('leaseHolds: strictly within leaseMs of the confirming read\'s start', () => {
    assert.ok(leaseHolds(0, 999, 1_000));
    assert.ok(!leaseHolds(0, 1_000, 1_000));
    assert.ok(!leaseHolds(null, 0, 1_000));
  });
});
