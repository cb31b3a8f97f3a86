import { test } from 'node:test';
import { bootCluster } from './boot.js';
import { seedsFor } from './cluster.js';
import { allSee } from './scenarios.js';

const SIZE = 200;
const STALLED = 10;

test('a node whose event loop stalls for suspicionTimeoutMs/2 is never declared down, and suspects nobody when it wakes', () => {
  for (const seed of seedsFor([601, 602, 603])) {
    const { cluster } = bootCluster({ seed, size: SIZE });
    const stallMs = cluster.config.suspicionTimeoutMs / 2;
    const { probeIntervalMs } = cluster.config;
    const victims = new Set<number>();
    while (victims.size < STALLED) victims.add(cluster.random.int(SIZE));
    const before = new Map([...victims].map((i) => [i, cluster.nodes[i]!.core!.stats().suspicionsRaised]));
    // Stalls start at random phases of the probe period, spread over a few periods.
    const start = cluster.now;
    for (const i of victims) cluster.at(start + cluster.random.int(3 * probeIntervalMs), () => cluster.stall(i, stallMs));
    cluster.run(start + 3 * probeIntervalMs + stallMs + 2 * probeIntervalMs);
    for (const i of victims) {
      const raised = cluster.nodes[i]!.core!.stats().suspicionsRaised - before.get(i)!;
      cluster.expect(raised === 0, `${cluster.nodes[i]!.name} suspected ${raised} members after its stall`);
    }
    // The checker fails at any member-down of a running (stalled) node; wait out every suspicion.
    const settledAt = cluster.runUntil(() => allSee(cluster), cluster.now + 3 * cluster.config.suspicionTimeoutMs, 500);
    cluster.expect(settledAt !== null, 'views are not all up after the stalls');
  }
});
