/**
 * Failure detection in a real 3-process cluster on loopback, and the RSS of
 * an idle node.
 *
 * HEARTBEAT_INTERVAL=500, HEARTBEAT_TIMEOUT=2000. Each trial kills one node
 * with SIGKILL and measures the time until every other node's
 * /api/cluster/status shows it `down` (polled every 10 ms), then restarts it
 * and waits until it is up everywhere, then lets its start-up lag window pass
 * (peers extend suspicion of a member by the event-loop lag it last reported).
 * Goal: ≤ timeout + 2 intervals.
 *
 *   node dist/bench/failure-detection.js [trials]
 */
import { readFileSync } from 'node:fs';
import { freePort, ProcessGroup, stateOf, waitAllUp } from '../test/harness/troupe-process.js';

const INTERVAL = 500;
const TIMEOUT = 2000;
const trials = Number(process.argv[2] ?? 10);

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.replace(/\D+/g, '')) / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const env = { HEARTBEAT_INTERVAL: String(INTERVAL), HEARTBEAT_TIMEOUT: String(TIMEOUT), LOG_LEVEL: 'warn' };
  try {
    const ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((port, i) => `f${i + 1}@127.0.0.1:${port}`);
    const nodes = ports.map((port, i) => group.start({ name: `f${i + 1}`, clusterPort: port, seeds, env }));
    await Promise.all(nodes.map((n) => n.ready()));
    await waitAllUp(nodes, 30_000);

    await new Promise((resolve) => setTimeout(resolve, 5000)); // idle, then sample RSS
    const rss = nodes.map((n) => rssMb(n.pid));
    console.log(`idle node RSS in a 3-node cluster: ${rss.map((r) => r.toFixed(1)).join(', ')} MB (max ${Math.max(...rss).toFixed(1)} MB; goal ≤ 80 MB)`);

    const detections: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const index = trial % nodes.length;
      const victim = nodes[index]!;
      const observers = nodes.filter((n) => n !== victim);
      const killedAt = performance.now();
      await victim.kill();
      const pending = new Set(observers);
      let lastSeen = killedAt;
      while (pending.size > 0) {
        for (const observer of [...pending]) {
          if ((await stateOf(observer, victim.nodeName)) === 'down') {
            pending.delete(observer);
            lastSeen = performance.now();
          }
        }
        if (performance.now() - killedAt > 30_000) throw new Error(`trial ${trial}: ${victim.nodeName} never declared down`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      detections.push(lastSeen - killedAt);
      console.log(`trial ${trial + 1}: ${victim.nodeName} down everywhere after ${(lastSeen - killedAt).toFixed(0)} ms`);
      const restarted = group.start({ ...victim.options, dataDir: victim.dataDir });
      nodes[index] = restarted;
      await restarted.ready();
      await waitAllUp(nodes, 30_000);
      // A process that just started reports its start-up event-loop lag in its acks, and
      // peers extend suspicion of a lagging member by that much (busy is not dead). Let the
      // ~2 s lag window pass so every trial measures a settled node.
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    const goal = TIMEOUT + 2 * INTERVAL;
    console.log(`kill -9 → down on every other node over ${trials} trials: p50 ${percentile(detections, 50).toFixed(0)} ms, max ${Math.max(...detections).toFixed(0)} ms (goal ≤ ${goal} ms: timeout ${TIMEOUT} + 2 × interval ${INTERVAL}; max/goal ${(Math.max(...detections) / goal).toFixed(2)})`);
  } finally {
    await group.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
