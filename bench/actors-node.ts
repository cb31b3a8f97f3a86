/**
 * One troupe node for bench/actors.ts, in its own process: `startNode` with
 * the configuration the driver sends over IPC, two actors of its own (a
 * counter and an echo, plain nact actors), a second, bare transport with an
 * Rpc beside the node's (the raw request/reply and one-way send the actor
 * layer is compared with, on its own connection between the same two
 * processes), and the load generators, which run inside this process (an
 * application embedded in a node).
 *
 * Actors (spawned at start under the node's actor system):
 *   counter  counts every message (`received`); answers `{ sync }` to its
 *            sender with the count (the acknowledgement of a windowed sender)
 *   echo     answers every message to its sender, unchanged (and echo-0 … echo-7 the same)
 *
 * Bare rpc methods (served on the bench transport): `echo`, `count` (the
 * counter's messages), `raw-count` (frames received on the bench channel),
 * `stats` (this node's actor-layer stats), `cpu` (process.cpuUsage()),
 * `profile-start` and `profile-stop { path }`.
 *
 * IPC, driver → node (each answered with `{ id, ok, value | error }`):
 *   start   { name, clusterPort, seeds, dataDir } → { rawAddress }
 *   members → number of members this node sees up
 *   peer    { node, rawAddress } → null: the node the loads run against
 *   load    LoadRequest → LoadSummary
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dispatch, query, spawn, type Ref } from 'nact';
import { RemoteRef, startNode, type TroupeNode } from '../lib/index.js';
import { Rpc } from '../lib/rpc/rpc.js';
import type { PeerIdentity, Transport } from '../lib/transport/transport.js';
import { loopbackTransport } from './loopback-transport.js';
import { latencySummary } from './tables-common.js';
import { forkedNodeConfig, serveCommands } from '../test/harness/forked-node.js';

export type LoadKind = 'local-dispatch' | 'raw-send' | 'dispatch' | 'local-query' | 'raw-echo' | 'rpc' | 'query';

export interface LoadRequest {
  kind: LoadKind;
  warmupMs: number;
  durationMs: number;
  /** Latency kinds: requests in flight at once. */
  inFlight?: number;
  /**
   * Latency kinds: the requests take these kinds in turn (request i is of `rotate[i % n]`), so that the round
   * trips of several paths are measured under the same conditions of the machine; `byKind` has each one's figures.
   */
  rotate?: LoadKind[];
  /** Remote query: the echo actors of the peer the requests are spread over (request i goes to `echo-${i % actors}`). @default 1 */
  actors?: number;
  /** Throughput kinds: messages sent per event-loop turn. */
  batch?: number;
  /**
   * Throughput kinds through actors: at most about this many messages unacknowledged (a `{ sync }` query after
   * every window/2 messages, two of them outstanding at most); 0 sends without acknowledgements.
   */
  window?: number;
  /** Profile both nodes over the measured window into `<profile>-<node>.cpuprofile`. */
  profile?: string;
}

export interface LoadSummary {
  durationMs: number;
  /** Messages received by the counting actor (or frames by the bench channel), or requests answered, in the window. */
  ops: number;
  perSecond: number;
  /** Messages sent in the window (throughput kinds). */
  sent: number;
  /** Frames the peer's actor layer received in the window (messages, queries and replies, delivered or not). */
  peerFrames: number;
  p50: number;
  p99: number;
  /** Latency kinds: the figures of each kind (one entry without `rotate`). */
  byKind: Record<string, { ops: number; p50: number; p99: number }>;
  errors: number;
  firstError: string | null;
  /** Dead letters by reason during the load, both nodes summed. */
  deadLetters: Record<string, number>;
  /** CPU of each node over the window, % of one core: [this node, the peer]. */
  cpu: [number, number];
}

type Command = { id: number; type: string; [key: string]: unknown };
const BENCH_CHANNEL = 'bench';
const BENCH_REPLY_CHANNEL = 'bench-reply';

let node: TroupeNode | undefined;
let raw: Transport | undefined;
let rawRpc: Rpc | undefined;
let counter: Ref<any> | undefined;
let echo: Ref<any> | undefined;
/** Echo actors beside `echo` (echo-0 … echo-7), for queries spread over several actors. */
const SPREAD_ECHOES = 8;
let peer: { node: string; rawAddress: string } | undefined;
let received = 0;
let rawReceived = 0;
let profiler: Session | undefined;
const echoWaiters = new Map<number, () => void>();

const countingActor = (state: null, msg: { sync?: unknown }, ctx: { sender?: unknown }): null => {
  if (msg?.sync !== undefined) dispatch(ctx.sender as Ref<any>, { synced: msg.sync, count: received });
  else received++;
  return state;
};

async function start(cmd: Command): Promise<{ rawAddress: string }> {
  node = await startNode({ config: forkedNodeConfig(cmd, 'bench-actors-cookie') });
  counter = spawn(node.system!, countingActor as never, 'counter');
  const echoActor = ((state: null, msg: unknown, ctx: { sender?: unknown }) => (dispatch(ctx.sender as Ref<any>, msg), state)) as never;
  echo = spawn(node.system!, echoActor, 'echo');
  for (let i = 0; i < SPREAD_ECHOES; i++) spawn(node.system!, echoActor, `echo-${i}`);
  raw = loopbackTransport(`${cmd['name'] as string}-raw@127.0.0.1`);
  rawRpc = new Rpc(raw);
  raw.onMessage(BENCH_CHANNEL, (from: PeerIdentity, payload: unknown) => {
    rawReceived++;
    if (Array.isArray(payload) && payload[0] === 'req') raw!.send(from.address, BENCH_REPLY_CHANNEL, payload[1]);
  });
  raw.onMessage(BENCH_REPLY_CHANNEL, (_from, payload) => echoWaiters.get(payload as number)?.());
  rawRpc.handle('echo', (arg) => arg);
  rawRpc.handle('count', () => received);
  rawRpc.handle('raw-count', () => rawReceived);
  rawRpc.handle('stats', () => node!.actors!.stats);
  rawRpc.handle('cpu', () => process.cpuUsage());
  rawRpc.handle('profile-start', () => profileStart());
  rawRpc.handle('profile-stop', (arg) => profileStop((arg as { path: string }).path));
  const { address } = await raw.start();
  return { rawAddress: address };
}

async function profileStart(): Promise<true> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
  return true;
}

async function profileStop(path: string): Promise<true> {
  if (profiler === undefined) throw new Error('the profiler is not running');
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(path, JSON.stringify(profile));
  return true;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const peerCall = <T>(method: string, arg: unknown = null): Promise<T> => rawRpc!.call<T>(peer!.rawAddress, method, arg, { timeoutMs: 30_000 });
const cpuMicros = (u: NodeJS.CpuUsage): number => u.user + u.system;
const addInto = (sum: Record<string, number>, a: Record<string, number>, b: Record<string, number>, sign: 1 | -1): void => {
  for (const [k, v] of Object.entries(a)) sum[k] = (sum[k] ?? 0) + sign * (v - (b[k] ?? 0));
};

/** The sender of a throughput kind: runs until `stopped()`; returns the messages it sent. */
async function sendLoad(req: LoadRequest, stopped: () => boolean, sent: { n: number }): Promise<void> {
  const batch = req.batch ?? 500;
  const window = req.window ?? 0;
  const actors = node!.actors!;
  const target = req.kind === 'dispatch' ? new RemoteRef(peer!.node, ['counter']) : undefined;
  const acks: Promise<unknown>[] = [];
  let sinceSync = 0;
  while (!stopped()) {
    if (req.kind === 'raw-send') {
      // The bare transport's own bound: keep at most 8,000 frames queued (below its 10,000), as bench/transport.ts does.
      const queued = raw!.links().find((l) => l.peer.address === peer!.rawAddress)?.queuedFrames ?? 0;
      for (let i = 0; i < Math.min(batch, 8_000 - queued); i++, sent.n++) raw!.send(peer!.rawAddress, BENCH_CHANNEL, sent.n);
      await turn();
      continue;
    }
    for (let i = 0; i < batch; i++, sent.n++) {
      if (target === undefined) dispatch(counter!, { seq: sent.n });
      else actors.dispatch(target, { seq: sent.n });
    }
    sinceSync += batch;
    if (window > 0 && sinceSync >= window / 2) {
      acks.push(target === undefined ? query(counter!, { sync: sent.n } as never, 30_000) : actors.query(target, { sync: sent.n }, 30_000));
      sinceSync = 0;
    }
    if (acks.length >= 2) await acks.shift();
    else await turn();
  }
  await Promise.all(acks);
}

/** One request of a latency kind. */
function request(kind: LoadKind, i: number, actors: number): Promise<unknown> {
  switch (kind) {
    case 'local-query':
      return query(echo!, { q: i } as never, 5_000);
    case 'query':
      return node!.actors!.query(new RemoteRef(peer!.node, [actors > 1 ? `echo-${i % actors}` : 'echo']), { q: i }, 5_000);
    case 'rpc':
      return rawRpc!.call(peer!.rawAddress, 'echo', { q: i }, { timeoutMs: 5_000 });
    case 'raw-echo':
      return new Promise<void>((resolve) => {
        echoWaiters.set(i, () => (echoWaiters.delete(i), resolve()));
        raw!.send(peer!.rawAddress, BENCH_CHANNEL, ['req', i]);
      });
    default:
      throw new Error(`${kind} is not a request kind`);
  }
}

async function load(req: LoadRequest): Promise<LoadSummary> {
  const throughput = req.kind === 'local-dispatch' || req.kind === 'raw-send' || req.kind === 'dispatch';
  const sample = async (): Promise<number> => (req.kind === 'local-dispatch' ? received : peerCall<number>(req.kind === 'raw-send' ? 'raw-count' : 'count'));
  const kinds = req.rotate ?? [req.kind];
  const latencies = kinds.map((): number[] => []);
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  const sent = { n: 0 };
  let next = 0;
  const client = async (): Promise<void> => {
    while (!stop) {
      const started = performance.now();
      try {
        const i = next++;
        await request(kinds[i % kinds.length]!, i, Math.min(req.actors ?? 1, SPREAD_ECHOES));
        if (measuring) latencies[i % kinds.length]!.push(performance.now() - started);
      } catch (err) {
        if (measuring) (errors++, (firstError ??= (err as Error).message));
      }
    }
  };
  const deadBefore = [{ ...node!.actors!.stats.deadLetters }, await peerCall<{ deadLetters: Record<string, number> }>('stats')];
  const running = throughput ? [sendLoad(req, () => stop, sent)] : Array.from({ length: req.inFlight ?? 1 }, client);
  await sleep(req.warmupMs);
  if (req.profile) await Promise.all([profileStart(), peerCall('profile-start')]);
  const [count0, sent0, cpu0, frames0] = [await sample(), sent.n, [process.cpuUsage(), await peerCall<NodeJS.CpuUsage>('cpu')], (await peerCall<{ received: number }>('stats')).received];
  const started = performance.now();
  measuring = true;
  await sleep(req.durationMs);
  measuring = false;
  const [count1, sent1, cpu1, frames1] = [await sample(), sent.n, [process.cpuUsage(), await peerCall<NodeJS.CpuUsage>('cpu')], (await peerCall<{ received: number }>('stats')).received];
  const durationMs = performance.now() - started;
  if (req.profile) await Promise.all([profileStop(`${req.profile}-${node!.name.split('@')[0]}.cpuprofile`), peerCall('profile-stop', { path: `${req.profile}-${peer!.node.split('@')[0]}.cpuprofile` })]);
  stop = true;
  await Promise.all(running);
  const deadLetters: Record<string, number> = {};
  addInto(deadLetters, node!.actors!.stats.deadLetters, deadBefore[0] as Record<string, number>, 1);
  addInto(deadLetters, (await peerCall<{ deadLetters: Record<string, number> }>('stats')).deadLetters, (deadBefore[1] as { deadLetters: Record<string, number> }).deadLetters, 1);
  const ops = throughput ? count1 - count0 : latencies.reduce((n, l) => n + l.length, 0);
  const cpu = [0, 1].map((i) => ((cpuMicros(cpu1[i]!) - cpuMicros(cpu0[i]!)) / 1000 / durationMs) * 100) as [number, number];
  const { p50, p99 } = latencySummary(latencies.flat());
  const byKind = Object.fromEntries(kinds.map((kind, i) => [kind, { ops: latencies[i]!.length, ...latencySummary(latencies[i]!) }]));
  return { durationMs, ops, perSecond: ops / (durationMs / 1000), sent: sent1 - sent0, peerFrames: frames1 - frames0, p50, p99, byKind, errors, firstError, deadLetters, cpu };
}

async function run(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'start':
      return start(cmd);
    case 'members':
      return node!.members().filter((m) => m.state === 'up').length;
    case 'peer':
      peer = { node: cmd['node'] as string, rawAddress: cmd['rawAddress'] as string };
      return null;
    case 'load':
      return load(cmd['request'] as LoadRequest);
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

if (process.argv[2] === '--node' && process.send !== undefined) serveCommands((cmd) => run(cmd as Command));
