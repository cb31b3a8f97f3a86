import { test } from 'node:test';
import { bootCluster } from './boot.js';
import { seedsFor } from './cluster.js';
import { observersSeeing } from './scenarios.js';

const SIZE = 200;
const LEAVERS = 5;

test('a graceful leave is seen as left (never down) everywhere, even after the process stops', () => {
  for (const seed of seedsFor([501, 502])) {
    const { cluster } = bootCluster({ seed, size: SIZE, network: { lossRate: 0.01, duplicateRate: 0.01, minDelayMs: 1, maxDelayMs: 20 } });
    // The shell's part: stop the process once the core says its `left` record went out.
    cluster.onEvent = (node, event) => {
      if (event.type === 'leave-complete') cluster.at(cluster.now, () => cluster.crash(node.index));
    };
    const leavers = new Set<number>();
    while (leavers.size < LEAVERS) leavers.add(1 + cluster.random.int(SIZE - 1));
    for (const i of leavers) cluster.input(i, { type: 'leave' });
    cluster.run(cluster.now + 3 * cluster.config.suspicionTimeoutMs); // long enough that a missed leave would have ended down
    for (const i of leavers) {
      cluster.expect(!cluster.nodes[i]!.running, `${cluster.nodes[i]!.name} never emitted leave-complete`);
      const seen = observersSeeing(cluster, i, ['left']);
      cluster.expect(seen === SIZE - LEAVERS, `${cluster.nodes[i]!.name} is left for ${seen} of ${SIZE - LEAVERS} nodes`);
    }
    for (const node of cluster.running()) {
      const downs = node.events.filter((e) => e.event.type === 'member-down');
      cluster.expect(downs.length === 0, `${node.name} declared a leaver down`);
    }
  }
});
