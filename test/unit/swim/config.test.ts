import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultSwimConfig, gossipInterval, joinTimeout, lagTolerance, probeTimeout, retransmitLimit, validateSwimConfig, type SwimConfig,
} from '../../../lib/protocol/swim/config.js';

test('probeTimeout: a fifth of the period, clamped to [10, 1000] ms', () => {
  const table: [number, number][] = [[5000, 1000], [1000, 200], [500, 100], [20, 10], [10_000, 1000], [60_000, 1000], [52, 10]];
  for (const [interval, expected] of table) assert.equal(probeTimeout(interval), expected, `probeTimeout(${interval})`);
});

test('retransmitLimit: mult * ceil(log10(n + 1)), at least 1', () => {
  const table: [number, number, number][] = [
    [4, 0, 4], [4, 1, 4], [4, 9, 4], [4, 10, 8], [4, 99, 8], [4, 100, 12], [4, 200, 12], [4, 999, 12], [4, 1000, 16], [3, 5, 3], [1, 1_000_000, 7], [0, 10, 1],
  ];
  for (const [mult, n, expected] of table) assert.equal(retransmitLimit(mult, n), expected, `retransmitLimit(${mult}, ${n})`);
});

test('gossipInterval, joinTimeout, lagTolerance', () => {
  for (const [interval, expected] of [[5000, 200], [1000, 200], [500, 100], [10, 5]] as const) assert.equal(gossipInterval(interval), expected);
  assert.equal(joinTimeout(5000), 5000);
  for (const [probe, expected] of [[1000, 100], [200, 20], [100, 10], [10, 5]] as const) assert.equal(lagTolerance(probe), expected);
});

test('defaultSwimConfig(5000, 10000) has the documented defaults and is valid', () => {
  const c = defaultSwimConfig();
  assert.deepEqual(c, {
    probeIntervalMs: 5000, suspicionTimeoutMs: 10_000, probeTimeoutMs: 1000, indirectProbes: 3, gossipIntervalMs: 200, gossipFanout: 3,
    retransmitMult: 4, maxPiggyback: 20, pushPullIntervalMs: 30_000, joinTimeoutMs: 5000, lagToleranceMs: 100, gossipToTheDeadMs: 30_000,
  });
  assert.equal(validateSwimConfig(c), null);
  assert.notEqual(defaultSwimConfig(), defaultSwimConfig(), 'a fresh object every call');
  assert.equal(validateSwimConfig(defaultSwimConfig(500, 2000)), null, 'the local test profile is valid');
  assert.equal(defaultSwimConfig(60_000, 120_000).pushPullIntervalMs, 240_000, 'push-pull stays above twice the timeout');
});

test('validateSwimConfig states the first broken rule', () => {
  const cases: [Partial<SwimConfig>, keyof SwimConfig, RegExp][] = [
    [{ probeIntervalMs: 0 }, 'probeIntervalMs', /positive integer/],
    [{ gossipFanout: 1.5 }, 'gossipFanout', /positive integer/],
    [{ indirectProbes: -1 }, 'indirectProbes', /non-negative/],
    [{ probeTimeoutMs: 5000 }, 'probeTimeoutMs', /less than probeIntervalMs/],
    [{ suspicionTimeoutMs: 5000 }, 'suspicionTimeoutMs', /HEARTBEAT_TIMEOUT must be > HEARTBEAT_INTERVAL/],
    [{ maxPiggyback: Number.NaN }, 'maxPiggyback', /positive integer/],
  ];
  for (const [override, field, rule] of cases) {
    const problem = validateSwimConfig({ ...defaultSwimConfig(), ...override });
    assert.equal(problem?.field, field, JSON.stringify(override));
    assert.match(problem!.rule, rule);
  }
  assert.equal(validateSwimConfig({ ...defaultSwimConfig(), indirectProbes: 0 }), null, 'k = 0 disables indirect probes');
});

test('the membership core refuses an invalid config with a ConfigError naming the field', async () => {
  const { Membership } = await import('../../../lib/protocol/swim/membership.js');
  const { SeededRandom } = await import('../../../lib/protocol/random.js');
  const { ConfigError } = await import('../../../lib/errors.js');
  assert.throws(
    () => new Membership({ ...defaultSwimConfig(), suspicionTimeoutMs: 1000 }, { name: 'a', address: 'a:1', generation: 1 }, new SeededRandom(1), 0),
    (err: unknown) => err instanceof ConfigError && err.setting === 'SwimConfig.suspicionTimeoutMs' && /HEARTBEAT_TIMEOUT/.test(err.message),
  );
});
