import { test } from 'node:test';
import { bootCluster } from './boot.js';
import { seedsFor } from './cluster.js';
import { allSee } from './scenarios.js';

const SIZE = 200;
const STALLED = 8;

/*
 * One node after another blocks its event loop for suspicionTimeoutMs/2 (at
 * a random phase of the probe period). Stalls do not overlap, and neither do
 * the windows in which a woken node is watched, so whatever it suspects in
 * its window would be a false suspicion: the other nodes all run.
 */
test('a node whose event loop stalls for suspicionTimeoutMs/2 is never declared down, and suspects nobody when it wakes', () => {
  for (const seed of seedsFor([601, 602, 603])) {
    const { cluster } = bootCluster({ seed, size: SIZE });
    const stallMs = cluster.config.suspicionTimeoutMs / 2;
    const { probeIntervalMs } = cluster.config;
    const watchMs = stallMs + 2 * probeIntervalMs;
    const gapMs = watchMs + 3 * probeIntervalMs;
    const victims = new Set<number>();
    while (victims.size < STALLED) victims.add(cluster.random.int(SIZE));
    let at = cluster.now;
    for (const i of victims) {
      at += gapMs;
      const stallAt = at + cluster.random.int(probeIntervalMs);
      const node = cluster.nodes[i]!;
      let before = 0;
      cluster.at(stallAt, () => {
        before = node.core!.stats().suspicionsRaised;
        cluster.stall(i, stallMs);
      });
      cluster.at(stallAt + watchMs, () => {
        const raised = node.core!.stats().suspicionsRaised - before;
        cluster.expect(raised === 0, `${node.name} suspected ${raised} members after its stall`);
      });
    }
    // The checker fails the run at any member-down of a running (here: stalled) node.
    cluster.run(at + gapMs);
    const settledAt = cluster.runUntil(() => allSee(cluster), cluster.now + 3 * cluster.config.suspicionTimeoutMs, 500);
    cluster.expect(settledAt !== null, 'views are not all up after the stalls');
  }
});
