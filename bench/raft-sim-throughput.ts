/**
 * Raft core throughput on the deterministic simulator: committed entries
 * per second of CPU (user + system of this process), with batching on
 * (client requests of each millisecond share one append and one disk
 * write), for one group and for 8 groups on 5 nodes.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/raft-sim-throughput.js
 *
 * Everything runs in one process: 5 nodes' cores, storage (in memory, with
 * a 1–6 ms simulated fsync), the KV state machine, the network (healthy,
 * 1–20 ms) and the clients (64 per group, writes only, no pause), so the
 * figure is the cost of the whole simulated cluster per committed entry,
 * an upper bound on the core's own CPU per entry (the linearizability check
 * of the histories is left out). No faults, no SWIM;
 * production sizes (1 MiB appends, snapshots every 8192 entries), the
 * simulator's timers (50 ms heartbeat).
 * SIM_SECONDS (default 10) is the virtual time per run; TRIALS (default 3).
 */

import { runRaftKvSim } from '../test/sim/raft-kv-sim.js';

const virtualMs = Number(process.env['SIM_SECONDS'] ?? 10) * 1000;
const trials = Number(process.env['TRIALS'] ?? 3);

function measure(groups: number, seed: number): { committed: number; cpuMs: number; virtualMs: number } {
  const before = process.cpuUsage();
  const r = runRaftKvSim({
    seed, groups, clientsPerGroup: 64, keysPerGroup: 8, faults: false, swim: false, batch: true, thinkMs: 0, readShare: 0, checkHistories: false,
    faultMs: 0, settleMs: virtualMs,
    // Production sizes (the simulation tests use tiny ones to force snapshots); simulator timers.
    raft: { maxBytesPerAppend: 1024 * 1024, snapshotThresholdEntries: 8192, snapshotTrailingEntries: 2048, snapshotChunkBytes: 1024 * 1024 },
  });
  const used = process.cpuUsage(before);
  return { committed: r.committed, cpuMs: (used.user + used.system) / 1000, virtualMs };
}

runRaftKvSim({ seed: 999, groups: 1, faults: false, swim: false, batch: true, faultMs: 0, settleMs: 2000, checkHistories: false }); // warm up the JIT
console.log(`Raft on the simulator, 5 nodes, batching on, ${virtualMs / 1000} s virtual per run, ${trials} trials`);
console.log('groups  committed/run  CPU s/run  committed per CPU s  per group per CPU s  committed per virtual s');
for (const groups of [1, 8]) {
  let committed = 0;
  let cpuMs = 0;
  for (let t = 0; t < trials; t++) {
    await new Promise((resolve) => setImmediate(resolve)); // let the storage's write promises settle between runs
    const m = measure(groups, 1 + t);
    committed += m.committed;
    cpuMs += m.cpuMs;
  }
  const perCpu = committed / (cpuMs / 1000);
  console.log(
    `${String(groups).padStart(6)}  ${String(Math.round(committed / trials)).padStart(13)}  ${(cpuMs / trials / 1000).toFixed(2).padStart(9)}  ` +
    `${Math.round(perCpu).toString().padStart(19)}  ${Math.round(perCpu / groups).toString().padStart(19)}  ${Math.round(committed / trials / (virtualMs / 1000)).toString().padStart(23)}`,
  );
}
