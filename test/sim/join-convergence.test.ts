import { test } from 'node:test';
import { bootCluster } from './boot.js';
import { seedsFor } from './cluster.js';
import { allSee } from './scenarios.js';

const SIZE = 200;

test('a wave of 200 joins (each through 1-3 random seeds) converges: every node sees every node up', () => {
  for (const seed of seedsFor([101, 102, 103])) {
    const { cluster, convergedAt } = bootCluster({ seed, size: SIZE });
    cluster.expect(convergedAt <= 20_000, `converged only at ${convergedAt} ms`);
    cluster.run(cluster.now + 10_000);
    cluster.expect(allSee(cluster), 'views diverged again after converging');
    for (const node of cluster.running()) {
      cluster.expect(node.events.some((e) => e.event.type === 'self-up'), `${node.name} never emitted self-up`);
    }
  }
});
