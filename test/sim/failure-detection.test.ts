import { test } from 'node:test';
import { bootCluster } from './boot.js';
import { seedsFor } from './cluster.js';
import assert from 'node:assert/strict';
import { allSee, observersSeeing, simConfig } from './scenarios.js';

const SIZE = 200;

/*
 * Detection time = time until some prober's round-robin reaches the dead
 * node (each period a given node is probed by someone with probability
 * 1 - (1 - 1/N)^N ≈ 63%, so e/(e-1) ≈ 1.6 periods on average and a tail of
 * e^-t beyond t periods) + the failed probe period + suspicionTimeoutMs +
 * gossip of the down record (well under a period). Hence the bounds: each
 * seed within suspicionTimeoutMs + 7 periods (missed by about 0.3% of
 * seeds: the random-probing tail), the mean within + 3.5.
 */
test('a crashed node is declared down by every live node within suspicionTimeoutMs + a few probe periods', () => {
  const seeds = seedsFor([201, 202, 203, 204, 205]);
  let total = 0;
  const { suspicionTimeoutMs, probeIntervalMs } = simConfig();
  for (const seed of seeds) {
    const { cluster } = bootCluster({ seed, size: SIZE });
    const bound = suspicionTimeoutMs + 7 * probeIntervalMs;
    const victim = 1 + cluster.random.int(SIZE - 1);
    cluster.crash(victim);
    const crashedAt = cluster.now;
    const downAt = cluster.runUntil(() => observersSeeing(cluster, victim, ['down']) === SIZE - 1, crashedAt + bound, 50);
    if (downAt === null) return cluster.fail(`after ${bound} ms only ${observersSeeing(cluster, victim, ['down'])} of ${SIZE - 1} nodes see ${cluster.nodes[victim]!.name} down`);
    total += downAt - crashedAt;
  }
  const mean = total / seeds.length;
  assert.ok(seeds.length === 1 || mean <= suspicionTimeoutMs + 3.5 * probeIntervalMs, `mean time to down everywhere ${mean} ms over seeds ${seeds.join(',')}`);
});

test('a crashed node that restarts is readmitted as a new generation and seen up everywhere', () => {
  for (const seed of seedsFor([211])) {
    const { cluster } = bootCluster({ seed, size: SIZE });
    const victim = 5;
    cluster.crash(victim);
    cluster.run(cluster.now + 2000);
    cluster.start(victim, [0]); // restart before anyone declared it down
    const generation = cluster.nodes[victim]!.generation;
    const healedAt = cluster.runUntil(() => allSee(cluster), cluster.now + 30_000, 500);
    cluster.expect(healedAt !== null, 'views did not converge after the restart');
    cluster.expect(generation === 2, 'restart did not start generation 2');
    // Restart after the whole cluster declared it down: the new generation replaces the down record.
    cluster.crash(victim);
    const downAt = cluster.runUntil(() => observersSeeing(cluster, victim, ['down']) === SIZE - 1, cluster.now + 30_000, 200);
    cluster.expect(downAt !== null, 'the crashed node was not declared down');
    cluster.start(victim, [1 + cluster.random.int(SIZE - 1)]);
    const readmittedAt = cluster.runUntil(() => allSee(cluster), cluster.now + 30_000, 500);
    cluster.expect(readmittedAt !== null, 'views did not converge after the restart of a down node');
  }
});
