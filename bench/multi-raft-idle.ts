/**
 * Idle cost of multi-Raft: GROUPS groups replicated on each of 3 nodes in one
 * process (memory transport, LMDB in temporary directories). After the
 * groups elect leaders and settle, it measures for WINDOW_MS: frames per
 * second per node pair on the 'raft' channel, ticks per second, and CPU per
 * second of the whole process divided by 3 (process.cpuUsage), once with
 * quiescence and once with it off (heartbeats still coalesced per node pair).
 *
 *   npm run build && node dist/bench/multi-raft-idle.js [groups=1000] [windowMs=5000]
 */
import { createGroups, leaderOf, startRaftCluster } from '../test/harness/raft-host-node.js';
import { waitFor } from '../test/harness/wait-for.js';
import { defaultRaftConfig } from '../lib/protocol/raft/config.js';

const GROUPS = Number(process.argv[2] ?? 1000);
const WINDOW_MS = Number(process.argv[3] ?? 5000);

async function run(quiesce: boolean): Promise<void> {
  // Production timers (100 ms heartbeats, 1-2 s election timeout).
  const cluster = await startRaftCluster({ nodes: 3, config: defaultRaftConfig(), ...(quiesce ? {} : { quiesceAfterTicks: Number.POSITIVE_INFINITY }) });
  try {
    const groups = Array.from({ length: GROUPS }, (_, i) => `t/${i}`);
    await createGroups(cluster, groups);
    await waitFor(() => groups.every((g) => leaderOf(cluster, g) !== undefined), { timeoutMs: 120_000, what: 'every group to elect a leader', intervalMs: 200 });
    if (quiesce) {
      await waitFor(() => cluster.nodes.every((n) => n.raft.host().awakeGroups() === 0), { timeoutMs: 60_000, what: 'every group to quiesce', intervalMs: 200 });
    } else {
      await new Promise((r) => setTimeout(r, 2000));
    }
    const frames0 = cluster.nodes.map((n) => n.raft.stats().framesSent);
    const msgs0 = cluster.nodes.map((n) => n.raft.stats().messagesSent);
    const ticks0 = cluster.nodes.map((n) => n.raft.stats().ticks);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const frames = cluster.nodes.reduce((sum, n, i) => sum + n.raft.stats().framesSent - frames0[i]!, 0);
    const msgs = cluster.nodes.reduce((sum, n, i) => sum + n.raft.stats().messagesSent - msgs0[i]!, 0);
    const ticks = cluster.nodes.reduce((sum, n, i) => sum + n.raft.stats().ticks - ticks0[i]!, 0);
    const pairs = 3; // unordered node pairs among 3 nodes; frames counted both ways
    const cpuPerNode = (cpu.user + cpu.system) / 1000 / (seconds * 1000) / 3;
    console.log(JSON.stringify({
      groups: GROUPS, quiesce, windowS: Number(seconds.toFixed(2)),
      framesPerSecondPerPair: Number((frames / seconds / pairs).toFixed(1)),
      raftMessagesPerSecondPerPair: Number((msgs / seconds / pairs).toFixed(1)),
      ticksPerSecondPerNode: Number((ticks / seconds / 3).toFixed(1)),
      cpuPercentOfACorePerNode: Number((cpuPerNode * 100).toFixed(2)),
    }));
  } finally {
    await cluster.close();
  }
}

await run(true);
await run(false);
