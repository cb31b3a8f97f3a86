import { test } from 'node:test';
import { bootCluster } from './boot.js';
import { seedsFor } from './cluster.js';
import { allSee, observersSeeing } from './scenarios.js';

const SIZE = 200;

test('after a partition heals, the views merge: every node sees every node up', () => {
  for (const seed of seedsFor([401, 402])) {
    const { cluster } = bootCluster({ seed, size: SIZE });
    cluster.checker.setNoFalseDown(false); // both sides rightly declare the other down
    const cut = 1 + cluster.random.int(SIZE - 2);
    const left = cluster.nodes.slice(0, cut).map((n) => n.address);
    const right = cluster.nodes.slice(cut).map((n) => n.address);
    cluster.network.partition([left, right]);
    // Each side must first find the other side down (slowly: most of its gossip goes into the cut).
    const splitAt = cluster.runUntil(
      () => observersSeeing(cluster, 0, ['down']) === SIZE - cut && observersSeeing(cluster, SIZE - 1, ['down']) === cut,
      cluster.now + 60_000,
      1000,
    );
    cluster.expect(splitAt !== null, `the sides did not see each other down within 60 s (split at ${cut})`);
    cluster.network.heal();
    const { pushPullIntervalMs } = cluster.config;
    const mergedAt = cluster.runUntil(() => allSee(cluster), cluster.now + 2 * pushPullIntervalMs, 500);
    cluster.expect(mergedAt !== null, `views did not merge within ${2 * pushPullIntervalMs} ms of the heal`);
  }
});
