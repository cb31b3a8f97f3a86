/**
 * Multicast discovery: how long from a new node's start, and from its mDNS
 * announcement, until it is `up` on every member of a running 3-node
 * cluster that found itself by multicast (no seed list anywhere).
 *
 * All processes run on loopback (CLUSTER_MULTICAST_INTERFACE=127.0.0.1,
 * HEARTBEAT_INTERVAL=500, HEARTBEAT_TIMEOUT=2000). Each trial starts a new
 * node, notes when its announcement reaches a browser in this process (a
 * bonjour-service browser on the same group), polls the three members'
 * /api/cluster/status every 20 ms until all show it `up`, then stops it
 * gracefully (leave + mDNS goodbye) before the next trial.
 *
 *   node dist/bench/multicast-discovery.js [trials]
 */
import { randomBytes } from 'node:crypto';
import Bonjour from 'bonjour-service';
import { SERVICE_TYPE } from '../discovery/multicast-announcement.js';
import { freePort, ProcessGroup, type TroupeProcess } from '../test/harness/troupe-process.js';
import { waitFor } from '../test/harness/wait-for.js';

const trials = Number(process.argv[2] ?? 10);
const POLL_MS = 20;
const cluster = `bench-${randomBytes(3).toString('hex')}`;
const env = { CLUSTER_DISCOVERY_TYPE: 'epmd', CLUSTER_MULTICAST_INTERFACE: '127.0.0.1', CLUSTER_NAME: cluster, LOG_LEVEL: 'warn' };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const upOn = async (observer: TroupeProcess, name: string) => (await observer.status()).members.some((m) => m.name === name && m.state === 'up');

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const announcedAt = new Map<string, number>();
  const browserSide = new Bonjour({ interface: '127.0.0.1', bind: '0.0.0.0' } as object);
  const browser = browserSide.find({ type: SERVICE_TYPE });
  const note = (service: { txt?: Record<string, unknown> }) => {
    const node = service.txt?.node;
    if (typeof node === 'string' && service.txt?.cluster === cluster && !announcedAt.has(node)) announcedAt.set(node, performance.now());
  };
  browser.on('up', note);
  browser.on('txt-update', note);
  try {
    const members = await Promise.all([1, 2, 3].map(async (i) => group.start({ name: `m${i}`, clusterPort: await freePort(), env })));
    await Promise.all(members.map((m) => m.ready()));
    const names = members.map((m) => m.nodeName);
    for (const member of members) {
      await waitFor(async () => (await Promise.all(names.map((n) => upOn(member, n)))).every(Boolean), {
        timeoutMs: 30_000,
        what: `${member.nodeName} to see the three members up`,
      });
    }
    console.log(`3-node cluster ${cluster} formed by multicast on loopback; ${trials} trials`);

    const fromStart: number[] = [];
    const fromAnnouncement: number[] = [];
    for (let trial = 1; trial <= trials; trial++) {
      const startedAt = performance.now();
      const joiner = group.start({ name: `j${trial}`, clusterPort: await freePort(), env });
      const pending = new Set(members);
      let upEverywhereAt = 0;
      while (pending.size > 0) {
        const seen = await Promise.all([...pending].map(async (m) => ((await upOn(m, joiner.nodeName).catch(() => false)) ? m : undefined)));
        for (const m of seen) if (m) pending.delete(m);
        upEverywhereAt = performance.now();
        if (pending.size === 0) break;
        if (joiner.exitCode !== undefined) throw new Error(joiner.exitedReason());
        if (upEverywhereAt - startedAt > 30_000) throw new Error(`trial ${trial}: ${joiner.nodeName} never up on every member`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      const announced = announcedAt.get(joiner.nodeName);
      fromStart.push(upEverywhereAt - startedAt);
      if (announced !== undefined) fromAnnouncement.push(upEverywhereAt - announced);
      console.log(
        `trial ${trial}: ${joiner.nodeName} up on all 3 members ${(upEverywhereAt - startedAt).toFixed(0)} ms after process start` +
          (announced === undefined ? ' (announcement not seen by the bench browser)' : `, ${(upEverywhereAt - announced).toFixed(0)} ms after its announcement (announced ${(announced - startedAt).toFixed(0)} ms after start)`),
      );
      await joiner.terminate();
      await waitFor(async () => !(await Promise.all(members.map((m) => upOn(m, joiner.nodeName)))).some(Boolean), { timeoutMs: 30_000, what: `${joiner.nodeName} to leave` });
    }

    const line = (label: string, values: number[]) => console.log(`${label}: p50 ${percentile(values, 50).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (n=${values.length})`);
    console.log('');
    line('process start → up on every member', fromStart);
    if (fromAnnouncement.length > 0) line('announcement → up on every member', fromAnnouncement);
  } finally {
    browser.stop();
    await new Promise<void>((resolve) => browserSide.destroy(() => resolve()));
    await group.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
