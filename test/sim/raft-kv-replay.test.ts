/**
 * The Raft KV simulation is a faithful witness: a seed replays bit-for-bit
 * (same trace hash twice, another seed differs), and a deliberately broken
 * shell is caught, so a pass means something.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimFailure } from './cluster.js';
import { runRaftKvSim } from './raft-kv-sim.js';
import type { ShellFault } from './raft-protocol.js';

test('a Raft KV seed replays bit-for-bit: same trace hash twice, another seed differs', () => {
  const seed = Number(process.env['SEED'] || 7);
  const a = runRaftKvSim({ seed });
  const b = runRaftKvSim({ seed });
  assert.ok(a.traceLines > 10_000, `trace too short: ${a.traceLines} steps`);
  assert.deepEqual(b, a);
  assert.notEqual(runRaftKvSim({ seed: seed + 1 }).hash, a.hash);
});

/** Runs seeds 1, 2, … with a broken shell until one fails (with a replayable report); returns that seed and why. */
async function firstCaught(fault: ShellFault, maxSeeds: number, diskMs?: [number, number]): Promise<{ seed: number; how: string } | null> {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    await new Promise((resolve) => setImmediate(resolve)); // let the storage's write promises of the last run settle
    try {
      runRaftKvSim({ seed, fault, ...(diskMs === undefined ? {} : { diskMs }) });
    } catch (err) {
      if (!(err instanceof SimFailure)) throw err;
      assert.match(err.message, new RegExp(`replay: SEED=${seed} npm run test:sim`));
      if (err.message.includes('not linearizable')) assert.match(err.message, /history of key g\d+\/k\d+/);
      return { seed, how: err.message.split('\n')[0]! };
    }
  }
  return null;
}

// Acknowledging before the fsync loses data only if a crash lands inside the window, so that case runs with a slow disk.
const BROKEN: [ShellFault, number, [number, number] | undefined][] = [['ack-before-commit', 3, undefined], ['local-reads', 3, undefined], ['ack-before-persist', 30, [10, 60]]];

for (const [fault, maxSeeds, diskMs] of BROKEN) {
  test(`a shell that breaks the contract (${fault}) is caught`, async (t) => {
    const caught = await firstCaught(fault, maxSeeds, diskMs);
    assert.ok(caught !== null, `${fault} passed ${maxSeeds} seeds: the simulation cannot tell a broken system from a correct one`);
    if (fault !== 'ack-before-persist') assert.match(caught.how, /is not linearizable/);
    t.diagnostic(`caught at seed ${caught.seed}: ${caught.how}`);
  });
}
