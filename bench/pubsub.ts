/**
 * Pub/sub fan-out: one topic, BENCH_SUBSCRIBERS (100) subscriber actors
 * spread over 3 node processes (bench/pubsub-node.ts), a publisher on node 1.
 *
 * Phases:
 *   latency     BENCH_LATENCY_MESSAGES (500) messages, one per event-loop
 *               turn: publish → delivery time at every subscriber, p50/p99
 *   throughput  BENCH_MESSAGES (5000) messages, BENCH_PER_TURN (100) per
 *               turn: deliveries per second until every subscriber has every
 *               message (or the deadline), and what did not arrive
 *
 *   npm run build && node dist/bench/pubsub.js
 */
import { dirname, join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ForkedNodeGroup, type ForkedNode } from '../test/harness/forked-node.js';
import { reservePorts } from '../test/harness/ports.js';
import { waitFor } from '../test/harness/wait-for.js';
import { latencySummary } from './tables-common.js';

const here = dirname(fileURLToPath(import.meta.url));
const num = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const SUBSCRIBERS = num('BENCH_SUBSCRIBERS', 100);
const LATENCY_MESSAGES = num('BENCH_LATENCY_MESSAGES', 500);
const MESSAGES = num('BENCH_MESSAGES', 5_000);
const PER_TURN = num('BENCH_PER_TURN', 100);
const TOPIC = 'bench';
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function collect(nodes: ForkedNode[]): Promise<{ count: number; latencies: number[] }> {
  const parts = await Promise.all(nodes.map((n) => n.call<{ count: number; latencies: number[] }>('received')));
  return { count: parts.reduce((a, p) => a + p.count, 0), latencies: parts.flatMap((p) => p.latencies) };
}

/** Publishes and waits until every subscriber had every message, or the deliveries stop growing for 3 s. */
async function phase(nodes: ForkedNode[], messages: number, perTurn: number): Promise<{ delivered: number; ms: number; latencies: number[] }> {
  await collect(nodes);
  const started = performance.now();
  await nodes[0]!.call('publish', { topic: TOPIC, messages, perTurn }, 120_000);
  let delivered = 0;
  const latencies: number[] = [];
  let lastGrowth = performance.now();
  let lastAt = started;
  await waitFor(async () => {
    const got = await collect(nodes);
    if (got.count > 0) {
      delivered += got.count;
      latencies.push(...got.latencies);
      lastGrowth = lastAt = performance.now();
    }
    return delivered >= messages * SUBSCRIBERS || performance.now() - lastGrowth > 3_000 || undefined;
  }, { timeoutMs: 120_000, what: 'the deliveries', intervalMs: 20 });
  return { delivered, ms: lastAt - started, latencies };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
  console.log(`3 node processes on loopback; topic ${TOPIC}: ${SUBSCRIBERS} subscribers spread over the 3 nodes, publisher on n1`);
  const group = new ForkedNodeGroup();
  try {
    const ports = await reservePorts(3);
    const names = ['p1', 'p2', 'p3'];
    const seeds = names.map((n, i) => `${n}@127.0.0.1:${ports[i]}`);
    const nodes = names.map((name) => group.start({ script: join(here, 'pubsub-node.js'), name }));
    await Promise.all(nodes.map((n, i) => n.call('start', { name: names[i], clusterPort: ports[i], seeds, dataDir: n.dataDir })));
    for (const n of nodes) await waitFor(async () => (await n.call<number>('members')) === 3 || undefined, { timeoutMs: 20_000, what: `${n.nodeName} to see 3 members up` });
    await Promise.all(nodes.map((n, i) => n.call('subscribe', { topic: TOPIC, count: Math.floor(SUBSCRIBERS / 3) + (i < SUBSCRIBERS % 3 ? 1 : 0) })));
    for (const n of nodes) await waitFor(async () => (await n.call<number>('subscribers', { topic: TOPIC })) === SUBSCRIBERS || undefined, { timeoutMs: 10_000, what: `${n.nodeName} to know all ${SUBSCRIBERS} subscribers` });

    const lat = await phase(nodes, LATENCY_MESSAGES, 1);
    const l = latencySummary(lat.latencies);
    console.log(`  latency, ${fmt(LATENCY_MESSAGES)} messages one per turn: publish → delivery p50 ${fmt(l.p50, 2)} ms, p99 ${fmt(l.p99, 2)} ms; delivered ${fmt(lat.delivered)} of ${fmt(LATENCY_MESSAGES * SUBSCRIBERS)}`);
    const tp = await phase(nodes, MESSAGES, PER_TURN);
    const t = latencySummary(tp.latencies);
    console.log(`  throughput, ${fmt(MESSAGES)} messages ${PER_TURN} per turn: ${fmt(tp.delivered / (tp.ms / 1000))} deliveries/s (${fmt(MESSAGES / (tp.ms / 1000))} messages/s fanned out to ${SUBSCRIBERS}); delivered ${fmt(tp.delivered)} of ${fmt(MESSAGES * SUBSCRIBERS)}; publish → delivery p50 ${fmt(t.p50, 1)} ms, p99 ${fmt(t.p99, 1)} ms`);
  } finally {
    await group.cleanup();
  }
}

await main();
