/**
 * Actors across nodes between two node processes on loopback: remote
 * `dispatch` throughput and remote `query` latency and throughput, beside
 * local nact dispatch and query, the bare transport and the bare rpc
 * between the same two processes, measured in the same run.
 *
 * Processes: this driver and two nodes (bench/actors-node.ts: `startNode`
 * in a forked child each, static seeds). Every load runs inside the first
 * node's process (n1) against the second (n2); the driver only starts the
 * phases and prints. Each node also runs a bare TCP transport with an Rpc
 * (lib/rpc/rpc.ts) on its own connection: the raw request/reply and the raw
 * one-way send.
 *
 * Phases (throughput: messages received by n2's counting actor, or frames
 * by its bench channel, per second of the measured window; latency: p50/p99
 * of requests completed in it):
 *   local nact dispatch      n1 → a nact actor of n1, BENCH_BATCH per turn, windowed (below)
 *   raw transport send       n1 → n2's bench channel, BENCH_BATCH per turn, ≤ 8,000 frames queued
 *   remote dispatch, windowed    n1 → n2's counter, BENCH_BATCH per turn; a `{ sync }` query after
 *                            every BENCH_WINDOW/2 messages, two outstanding at most, so at most
 *                            about BENCH_WINDOW messages wait (below the mailbox bound, 10,000)
 *   remote dispatch, unacknowledged  the same without the queries: what the bounds drop is counted
 *   local nact query         1 in flight
 *   round trips              1 in flight, the three below in turn (request i of the i-th kind mod 3),
 *                            so the latency ratios hold under the same conditions of the machine
 *   raw transport echo       a frame to n2, answered on another channel; 64 in flight
 *   rpc call                 Rpc.call of an `echo` method on n2; 64 in flight
 *   remote query             node.actors.query of n2's echo actor; 64 in flight; then 64 in
 *                            flight spread over 8 echo actors (nact runs one message of an actor
 *                            per event-loop turn: this tells that limit from the layer's)
 *
 * Goals (issue 9): remote dispatch ≥ 200,000 messages/s pipelined; remote
 * query ≥ 125,000/s with 64 in flight and p50 ≤ 2× the raw transport round
 * trip (1 in flight). Pub/sub fan-out is not measured: there is no
 * node.topics yet.
 *
 * Knobs: BENCH_SECONDS (3) measured per phase after BENCH_WARMUP_SECONDS
 * (1); BENCH_BATCH (500) messages per turn; BENCH_WINDOW (4000);
 * BENCH_IN_FLIGHT (64); BENCH_ONLY (a comma-separated list of phase keys:
 * local-dispatch, raw-send, dispatch, dispatch-unacked, local-query,
 * round-trip, raw-echo, rpc, query, query-spread); BENCH_CPU_PROF=<dir>: both nodes profiled (V8's
 * profiler through node:inspector) over the measured window of each phase,
 * into <dir>/<phase>-<node>.cpuprofile (read them with
 * bench/cpu-profile-top.ts --by-area).
 *
 *   npm run build && node dist/bench/actors.js
 */
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForkedNodeGroup, type ForkedNode } from '../test/harness/forked-node.js';
import { reservePorts } from '../test/harness/ports.js';
import { waitFor } from '../test/harness/wait-for.js';
import type { LoadKind, LoadRequest, LoadSummary } from './actors-node.js';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const num = (name: string, fallback: number): number => (env[name] === undefined || env[name] === '' ? fallback : Number(env[name]));
const SECONDS = num('BENCH_SECONDS', 3);
const WARMUP_SECONDS = num('BENCH_WARMUP_SECONDS', 1);
const BATCH = num('BENCH_BATCH', 500);
const WINDOW = num('BENCH_WINDOW', 4_000);
const IN_FLIGHT = num('BENCH_IN_FLIGHT', 64);
const ONLY = env['BENCH_ONLY'] ? new Set(env['BENCH_ONLY'].split(',')) : undefined;
const CPU_PROF = env['BENCH_CPU_PROF'] ? resolvePath(env['BENCH_CPU_PROF']) : undefined;

const GOAL_DISPATCH_PER_SECOND = 200_000;
const GOAL_QUERY_PER_SECOND = 125_000;
const GOAL_QUERY_P50_RATIO = 2;

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const us = (ms: number): string => `${fmt(ms * 1000)} µs`;

interface Phase {
  key: string;
  label: string;
  kind: LoadKind;
  inFlight?: number;
  window?: number;
  actors?: number;
  rotate?: LoadKind[];
}

const PHASES: Phase[] = [
  { key: 'local-dispatch', label: 'local nact dispatch (one process), windowed', kind: 'local-dispatch', window: WINDOW },
  { key: 'raw-send', label: 'raw transport send n1 → n2', kind: 'raw-send' },
  { key: 'dispatch', label: `remote dispatch n1 → n2, windowed (${fmt(WINDOW)})`, kind: 'dispatch', window: WINDOW },
  { key: 'dispatch-unacked', label: 'remote dispatch n1 → n2, unacknowledged', kind: 'dispatch', window: 0 },
  { key: 'local-query', label: 'local nact query, 1 in flight', kind: 'local-query', inFlight: 1 },
  { key: 'round-trip', label: 'round trips, 1 in flight, in turn:', kind: 'query', inFlight: 1, rotate: ['raw-echo', 'rpc', 'query'] },
  { key: 'raw-echo', label: `raw transport echo, ${IN_FLIGHT} in flight`, kind: 'raw-echo', inFlight: IN_FLIGHT },
  { key: 'rpc', label: `rpc call, ${IN_FLIGHT} in flight`, kind: 'rpc', inFlight: IN_FLIGHT },
  { key: 'query', label: `remote query, ${IN_FLIGHT} in flight`, kind: 'query', inFlight: IN_FLIGHT },
  { key: 'query-spread', label: `remote query, ${IN_FLIGHT} in flight over 8 actors`, kind: 'query', inFlight: IN_FLIGHT, actors: 8 },
];

const ROUND_TRIP_LABELS: Partial<Record<LoadKind, string>> = { 'raw-echo': 'raw transport echo', rpc: 'rpc call', query: 'remote query' };

function describeResult(phase: Phase, s: LoadSummary): string {
  const dead = Object.entries(s.deadLetters).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${fmt(n)}`).join(', ');
  const cpu = `CPU n1 ${fmt(s.cpu[0])}% n2 ${fmt(s.cpu[1])}%`;
  if (phase.inFlight === undefined) {
    const sentNote = phase.kind === 'local-dispatch' ? '' : `, sent ${fmt(s.sent / (s.durationMs / 1000))}/s`;
    const frames = s.peerFrames / (s.durationMs / 1000);
    const perFrame = phase.kind === 'dispatch' && frames > 0 ? `; n2's actor layer took ${fmt(frames)} frames/s, ${fmt((s.cpu[1] / 100 / frames) * 1e6, 2)} µs of n2's CPU each` : '';
    return `${fmt(s.perSecond).padStart(10)} msgs/s received${sentNote}; dead letters: ${dead || 'none'}; ${cpu}${perFrame}`;
  }
  return `${fmt(s.perSecond).padStart(10)} req/s   p50 ${us(s.p50)}  p99 ${us(s.p99)}; errors ${s.errors}${s.firstError ? ` (${s.firstError})` : ''}; ${cpu}`;
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
  console.log(`2 node processes on loopback; ${SECONDS} s measured per phase after ${WARMUP_SECONDS} s warm-up; ${fmt(BATCH)} messages per turn; ${IN_FLIGHT} in flight; messages { seq } and { q }`);
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  const group = new ForkedNodeGroup();
  const results = new Map<string, LoadSummary>();
  try {
    const ports = await reservePorts(2);
    const names = ['n1', 'n2'];
    const seeds = names.map((n, i) => `${n}@127.0.0.1:${ports[i]}`);
    const nodes = names.map((name) => group.start({ script: join(here, 'actors-node.js'), name }));
    const started = await Promise.all(nodes.map((n, i) => n.call<{ rawAddress: string }>('start', { name: names[i], clusterPort: ports[i], seeds, dataDir: n.dataDir })));
    const exited = (): string | undefined => nodes.map((n) => n.exitedReason()).find((r) => r !== undefined);
    for (const n of nodes) await waitFor(async () => (await n.call<number>('members')) === 2, { timeoutMs: 20_000, what: `${n.nodeName} to see 2 members up`, abortIf: exited });
    const [n1, n2] = nodes as [ForkedNode, ForkedNode];
    await n1.call('peer', { node: n2.nodeName, rawAddress: started[1]!.rawAddress });
    console.log('');
    for (const phase of PHASES) {
      if (ONLY && !ONLY.has(phase.key)) continue;
      const id = `${phase.key}${phase.inFlight === undefined || phase.actors !== undefined ? '' : `-${phase.inFlight}`}`;
      const request: LoadRequest = {
        kind: phase.kind, warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000, batch: BATCH,
        ...(phase.inFlight === undefined ? {} : { inFlight: phase.inFlight }),
        ...(phase.window === undefined ? {} : { window: phase.window }),
        ...(phase.actors === undefined ? {} : { actors: phase.actors }),
        ...(phase.rotate === undefined ? {} : { rotate: phase.rotate }),
        ...(CPU_PROF ? { profile: join(CPU_PROF, id) } : {}),
      };
      const summary = await n1.call<LoadSummary>('load', { request }, (SECONDS + WARMUP_SECONDS) * 1000 + 60_000);
      if (phase.rotate === undefined) {
        results.set(id, summary);
        console.log(`  ${phase.label.padEnd(46)} ${describeResult(phase, summary)}`);
        continue;
      }
      console.log(`  ${phase.label} CPU n1 ${fmt(summary.cpu[0])}% n2 ${fmt(summary.cpu[1])}%; errors ${summary.errors}${summary.firstError ? ` (${summary.firstError})` : ''}`);
      for (const kind of phase.rotate) {
        const k = summary.byKind[kind]!;
        results.set(`${kind}-1`, { ...summary, ...k, perSecond: k.ops / (summary.durationMs / 1000) });
        console.log(`    ${ROUND_TRIP_LABELS[kind]!.padEnd(44)} ${fmt(k.ops / (summary.durationMs / 1000)).padStart(10)} req/s   p50 ${us(k.p50)}  p99 ${us(k.p99)}`);
      }
    }
  } finally {
    await group.cleanup();
  }

  const r = (id: string): LoadSummary | undefined => results.get(id);
  const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
  console.log('\nratios:');
  const ratio = (what: string, a: LoadSummary | undefined, b: LoadSummary | undefined, value: (s: LoadSummary) => number, unit: string): void => {
    if (a && b) console.log(`  ${what}: ${fmt(value(a) / value(b), 2)}${unit}`);
  };
  ratio('remote query p50 / raw transport echo p50 (1 in flight)', r('query-1'), r('raw-echo-1'), (s) => s.p50, '×');
  ratio('remote query p50 / rpc call p50 (1 in flight)', r('query-1'), r('rpc-1'), (s) => s.p50, '×');
  ratio(`remote query / raw transport echo, req/s with ${IN_FLIGHT} in flight`, r(`query-${IN_FLIGHT}`), r(`raw-echo-${IN_FLIGHT}`), (s) => s.perSecond, '');
  ratio(`remote query / rpc call, req/s with ${IN_FLIGHT} in flight`, r(`query-${IN_FLIGHT}`), r(`rpc-${IN_FLIGHT}`), (s) => s.perSecond, '');
  ratio(`remote query over 8 actors / over 1, req/s with ${IN_FLIGHT} in flight`, r('query-spread'), r(`query-${IN_FLIGHT}`), (s) => s.perSecond, '');
  ratio('remote dispatch (windowed) / local nact dispatch, msgs/s', r('dispatch'), r('local-dispatch'), (s) => s.perSecond, '');
  ratio('remote dispatch (windowed) / raw transport send, msgs/s', r('dispatch'), r('raw-send'), (s) => s.perSecond, '');

  console.log('\ngoals (issue 9):');
  const dispatch = r('dispatch');
  const query64 = r(`query-${IN_FLIGHT}`);
  const query1 = r('query-1');
  const echo1 = r('raw-echo-1');
  if (dispatch) console.log(`  remote dispatch ≥ ${fmt(GOAL_DISPATCH_PER_SECOND)} msgs/s pipelined: ${fmt(dispatch.perSecond)}/s → ${verdict(dispatch.perSecond >= GOAL_DISPATCH_PER_SECOND)}`);
  if (query64) console.log(`  remote query ≥ ${fmt(GOAL_QUERY_PER_SECOND)}/s with ${IN_FLIGHT} in flight: ${fmt(query64.perSecond)}/s → ${verdict(query64.perSecond >= GOAL_QUERY_PER_SECOND)}`);
  if (query1 && echo1) console.log(`  remote query p50 ≤ ${GOAL_QUERY_P50_RATIO}× the raw transport round trip: ${us(query1.p50)} vs ${us(echo1.p50)} = ${fmt(query1.p50 / echo1.p50, 2)}× → ${verdict(query1.p50 <= GOAL_QUERY_P50_RATIO * echo1.p50)}`);
  console.log('  pub/sub fan-out to 100 subscribers over 3 nodes: measured by bench/pubsub.ts (node dist/bench/pubsub.js)');
  console.log(`\nload average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; whole run ${fmt((performance.now() - startedAt) / 1000)} s${CPU_PROF ? `; CPU profiles of the nodes in ${CPU_PROF}` : ''}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
