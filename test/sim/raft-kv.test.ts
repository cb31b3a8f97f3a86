/**
 * The Raft key-value simulation over many seeds: 5 nodes, 8 groups, SWIM
 * beside them, clients on every group, a fault schedule per seed; every
 * history must be linearizable per key and the Raft invariants must hold
 * after every step (see raft-kv-sim.ts). 200 seeds by default;
 * SEEDS=5000 npm run test:sim runs more, SEED=n replays one.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRaftKvSim } from './raft-kv-sim.js';
import { simSeeds } from './seeds.js';

const DEFAULT_SEEDS = 200;

test(`Raft KV: every history is linearizable per key under crashes, loss, duplication, reordering and partitions`, async (t) => {
  const seeds = simSeeds(DEFAULT_SEEDS);
  const total = { operations: 0, ok: 0, unknown: 0, committed: 0, snapshotsRestored: 0, crashes: 0, faults: 0 };
  const started = performance.now();
  for (const seed of seeds) {
    const r = runRaftKvSim({ seed }); // throws a SimFailure naming the seed on any anomaly
    // MemoryRaftStorage settles its write promises in microtasks: let them run, or a long loop keeps every run alive.
    await new Promise((resolve) => setImmediate(resolve));
    total.operations += r.operations;
    total.ok += r.ok;
    total.unknown += r.unknown;
    total.committed += r.committed;
    total.snapshotsRestored += r.snapshotsRestored;
    total.crashes += r.crashes;
    total.faults += r.faultsInjected.length;
  }
  t.diagnostic(`${seeds.length} seeds in ${Math.round(performance.now() - started)} ms: ${JSON.stringify(total)}`);
  // The runs must have exercised what they claim to (a vacuous schedule would pass trivially).
  assert.ok(total.ok > seeds.length * 100, `too few completed operations: ${total.ok}`);
  if (seeds.length >= 20) {
    assert.ok(total.crashes > 0, 'no crash was injected');
    assert.ok(total.snapshotsRestored > 0, 'no snapshot was ever installed');
    assert.ok(total.unknown > 0, 'no operation ended with an unknown outcome');
  }
});
