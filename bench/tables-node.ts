/**
 * One troupe node for bench/tables.ts, in its own process: `startNode` from
 * lib/index.ts with the configuration the driver sends over IPC, plus a load
 * generator that calls the node's own `node.tables` in this process (the
 * library path: an application embedded in a node). The driver forks one of
 * these per node; `kill -9` of this process is a node crash.
 *
 * IPC, driver → node (each answered with `{ id, ok, value | error }`):
 *   start     { name, clusterPort, seeds, dataDir, raftElectionTimeoutMs? } → { httpPort, pid }
 *   create    { table, partitions, replicationFactor } → TableInfo
 *   describe  { table } → TableInfo (leaders as this node knows them)
 *   members   → number of members this node sees up
 *   raft-stats → the raft host's counters: write batches (one LMDB transaction + flush each), frames and messages sent
 *   fill      { table, keys, value } → writes every key once (64 at a time)
 *   probe     { table, keys[] } → puts each key once (one per partition: routing works from here)
 *   load      LoadRequest → LoadSummary
 *   profile-start            → starts V8's CPU profiler in this process (node:inspector)
 *   profile-stop  { path }   → stops it and writes the profile (.cpuprofile) to `path`
 *   stop      → stops the node (no leave) and exits 0
 *
 * The profiler commands give a profile of exactly a measured window
 * (BENCH_CPU_PROF in the driver); `node --cpu-prof` (or NODE_OPTIONS with
 * the harness's TroupeProcess env) profiles a whole process instead, written
 * at a graceful exit only.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { startNode, type TroupeNode } from '../lib/index.js';
import { keyName, latencySummary } from './tables-common.js';

export interface LoadRequest {
  table: string;
  op: 'put' | 'get' | 'get-stale';
  clients: number;
  warmupMs: number;
  durationMs: number;
  keys: number;
  value: unknown;
}

export interface LoadSummary {
  ops: number;
  errors: number;
  firstError: string | null;
  durationMs: number;
  opsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Requests the router ran on this node's own replica vs sent to another node, during the measurement. */
  local: number;
  forwarded: number;
}

type Command = { id: number; type: string; [key: string]: unknown };

let node: TroupeNode | undefined;
let profiler: Session | undefined;

function tables(): NonNullable<TroupeNode['tables']> {
  const t = node?.tables;
  if (t === undefined) throw new Error('the node is not started');
  return t;
}

async function start(cmd: Command): Promise<{ httpPort: number; pid: number }> {
  const seeds = cmd['seeds'] as string[];
  node = await startNode({
    config: {
      nodeName: `${cmd['name'] as string}@127.0.0.1`,
      clusteringEnabled: true,
      discoveryTypes: ['static'],
      clusterNodes: seeds,
      clusterPort: cmd['clusterPort'] as number,
      port: 0,
      httpBind: '127.0.0.1',
      clusterBind: '127.0.0.1',
      dataDir: cmd['dataDir'] as string,
      cookie: 'bench-tables-cookie',
      // The harness's timers (test/harness/troupe-process.ts): SWIM down after about 2.5 s.
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 2000,
      ...(cmd['raftElectionTimeoutMs'] === undefined ? {} : { raftElectionTimeoutMs: cmd['raftElectionTimeoutMs'] as number }),
      replicationFactor: 3,
      logLevel: 'warn',
    },
  });
  return { httpPort: node.httpPort, pid: process.pid };
}

async function fill(table: string, keys: number, value: unknown): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const key = keyName(next++);
      await tables().put(table, key, value, { timeoutMs: 10_000 });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return keys;
}

async function load(req: LoadRequest): Promise<LoadSummary> {
  const t = tables();
  const router = node!.router!;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  const op = (key: string): Promise<unknown> =>
    req.op === 'put' ? t.put(req.table, key, req.value) : t.get(req.table, key, req.op === 'get-stale' ? { consistency: 'stale' } : {});
  const client = async (): Promise<void> => {
    for (let n = 1; !stop; n++) {
      // A stale read of a local replica settles without I/O: yield now and then, or the clients' promise chains starve the timers that end the run.
      if (n % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
      const key = keyName(Math.floor(Math.random() * req.keys));
      const started = performance.now();
      try {
        await op(key);
        if (measuring) latencies.push(performance.now() - started);
      } catch (err) {
        if (measuring) {
          errors++;
          firstError ??= (err as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  const running = Array.from({ length: req.clients }, client);
  await new Promise((resolve) => setTimeout(resolve, req.warmupMs));
  const before = { ...router.stats };
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, req.durationMs));
  measuring = false;
  const durationMs = performance.now() - started;
  const after = { ...router.stats };
  stop = true;
  await Promise.all(running);
  return {
    ops: latencies.length,
    errors,
    firstError,
    durationMs,
    opsPerSecond: latencies.length / (durationMs / 1000),
    ...latencySummary(latencies),
    local: after.local - before.local,
    forwarded: after.forwarded - before.forwarded,
  };
}

async function run(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'start':
      return start(cmd);
    case 'create':
      return tables().create(cmd['table'] as string, { partitions: cmd['partitions'] as number, replicationFactor: cmd['replicationFactor'] as number }, { timeoutMs: 30_000 });
    case 'describe':
      return (await tables().list()).find((t) => t.name === cmd['table']);
    case 'raft-stats': {
      const st = node!.raft!.stats();
      const latency = node!.raft!.host().batchLatency;
      return { batches: st.batches, framesSent: st.framesSent, messagesSent: st.messagesSent, entriesPersisted: st.entriesPersisted, batchSeconds: latency.sum, batchCount: latency.count };
    }
    case 'members':
      return node!.members().filter((m) => m.state === 'up').length;
    case 'fill':
      return fill(cmd['table'] as string, cmd['keys'] as number, cmd['value']);
    case 'probe':
      for (const key of cmd['keys'] as string[]) await tables().put(cmd['table'] as string, key, 'probe', { timeoutMs: 2_000 });
      return true;
    case 'load':
      return load(cmd['request'] as LoadRequest);
    case 'profile-start':
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
      return true;
    case 'profile-stop': {
      if (profiler === undefined) throw new Error('the profiler is not running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(cmd['path'] as string, JSON.stringify(profile));
      return true;
    }
    case 'stop':
      await node?.stop({ leave: false });
      process.send!({ id: cmd.id, ok: true, value: null }, () => process.exit(0));
      return new Promise(() => {}); // answered above
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

if (process.argv[2] === '--node' && process.send !== undefined) {
  process.on('message', (cmd: Command) => {
    run(cmd).then(
      (value) => process.send!({ id: cmd.id, ok: true, value }),
      (err: unknown) => process.send!({ id: cmd.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
