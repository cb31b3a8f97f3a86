/**
 * Replicated tables on 3 local node processes: durable write throughput and
 * latency through the library and over HTTP, linearizable and stale reads
 * over HTTP, and leader failover after kill -9, beside the limits of this
 * machine measured in the same run (LMDB durable commits, TCP loopback
 * request/reply, plain node:http request/response).
 *
 * Processes: this driver; 3 nodes (bench/tables-node.ts: `startNode` in a
 * forked child each, static seeds, HEARTBEAT_INTERVAL=500 and
 * HEARTBEAT_TIMEOUT=2000 like the test harness, Raft timers at their
 * defaults unless RAFT_ELECTION_TIMEOUT is set); an HTTP load generator
 * (bench/tables-http-load.ts) for the HTTP phases; a TCP echo server for the
 * loopback limit. One table, BENCH_PARTITIONS partitions (8), replication
 * factor 3 (every node holds every partition), 100-byte values, durable
 * (a write is acknowledged once applied at its leader, after a majority
 * fsynced it).
 *
 * Phases (BENCH_ONLY=limits,lib,http,read,failover selects some):
 *   limits    LMDB on the same filesystem as the nodes' data: sequential
 *             awaited puts (lmdb-js default durability: the promise resolves
 *             at commit), sequential put + `flushed` (durable), and batches
 *             of 64 and 1024 puts per transaction + `flushed`; a plain TCP
 *             echo of a 150-byte frame, 1 and 64 in flight on one connection;
 *             3 plain node:http servers (no framework, fixed answers) under
 *             the HTTP phases' load generator, PUT and GET, 64 clients.
 *   lib       writes through the library: the load runs inside node 1's own
 *             process (an application embedded in a node), `node.tables.put`
 *             with 1, 16, 64 concurrent clients; keys uniform over
 *             BENCH_KEYS, so most writes go to a partition led elsewhere and
 *             are forwarded by the router (the fraction is printed).
 *   http      writes over HTTP from the load generator, keep-alive, client i
 *             talking to node i mod 3: PUT /api/tables/bench/keys/:k.
 *   read      GET of existing keys over HTTP, BENCH_READ_CLIENTS (64)
 *             clients, linearizable (ReadIndex at the leader) and stale
 *             (X-Consistency: stale: the replica of the node asked); then
 *             the same two through the library inside node 1, to tell the
 *             HTTP layer's share from the read path's.
 *   failover  BENCH_FAILOVER_TRIALS (10) trials: writers start a PUT of one
 *             key of partition p every 10 ms (HTTP, to the two other nodes,
 *             each attempt with a 5 s timeout), the process of p's leader is
 *             SIGKILLed, and the time from the kill to the first 2xx of a
 *             write started after it is the failover time; then the node is
 *             restarted with its data dir and the cluster settles.
 *
 * Knobs: BENCH_SECONDS (5) measured per phase after BENCH_WARMUP_SECONDS (1);
 * BENCH_CLIENTS (1,16,64); BENCH_READ_CLIENTS (64); BENCH_KEYS (1000);
 * BENCH_PARTITIONS (8); BENCH_FAILOVER_TRIALS (10); BENCH_LIMIT_SECONDS (2);
 * RAFT_ELECTION_TIMEOUT (ms, node default 1000); BENCH_CPU_PROF=<dir>: every
 * node is profiled (V8's profiler through node:inspector) over the measured
 * window of each load phase, into <dir>/<phase>-<node>.cpuprofile (read them
 * with bench/cpu-profile-top.ts).
 *
 *   npm run build && node dist/bench/tables.js
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open as openLmdb } from 'lmdb';
import { partitionOfKey } from '../lib/tables/key-partition.js';
import { freePort } from '../test/harness/troupe-process.js';
import { percentile, VALUE } from './tables-common.js';
import { runTablesHttpLoad, type HttpLoadResult } from './tables-http-load.js';
import type { LoadRequest, LoadSummary } from './tables-node.js';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const num = (name: string, fallback: number): number => (env[name] === undefined || env[name] === '' ? fallback : Number(env[name]));
const SECONDS = num('BENCH_SECONDS', 5);
const WARMUP_SECONDS = num('BENCH_WARMUP_SECONDS', 1);
const CLIENTS = (env['BENCH_CLIENTS'] ?? '1,16,64').split(',').map(Number);
const READ_CLIENTS = num('BENCH_READ_CLIENTS', 64);
const KEYS = num('BENCH_KEYS', 1000);
const PARTITIONS = num('BENCH_PARTITIONS', 8);
const TRIALS = num('BENCH_FAILOVER_TRIALS', 10);
const LIMIT_SECONDS = num('BENCH_LIMIT_SECONDS', 2);
const ELECTION_TIMEOUT = env['RAFT_ELECTION_TIMEOUT'] ? Number(env['RAFT_ELECTION_TIMEOUT']) : undefined;
const ONLY = new Set((env['BENCH_ONLY'] ?? 'limits,lib,http,read,failover').split(','));
const CPU_PROF = env['BENCH_CPU_PROF'] ? resolvePath(env['BENCH_CPU_PROF']) : undefined;
const TABLE = 'bench';
const ECHO_BYTES = 150;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const CLK_TCK = 100;

// Goals (64 clients).
const GOAL_LIB_WRITES = 20_000;
const GOAL_HTTP_WRITES = 10_000;
const GOAL_WRITE_P99_MS = 20;
const GOAL_LIN_READS = 25_000;
const GOAL_FAILOVER_MS = 1_000;

// ---------------------------------------------------------------- formatting

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (v: number): string => (v >= 100 ? fmt(v) : v >= 10 ? fmt(v, 1) : fmt(v, 2));
const pct = (a: number, b: number): string => (b > 0 ? `${fmt((100 * a) / b, 1)}%` : 'n/a');
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

// ---------------------------------------------------------------- process figures

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Runs `fn`, and returns beside its result the CPU of each pid (% of one core) from `warmupMs` after the start for `windowMs`. */
async function cpuOver<T>(pids: number[], warmupMs: number, windowMs: number, fn: () => Promise<T>, hooks: { start?: () => Promise<unknown>; stop?: () => Promise<unknown> } = {}): Promise<[T, number[]]> {
  let cpu: number[] = [];
  const window = (async () => {
    await sleep(warmupMs);
    const before = pids.map(cpuTicks);
    await hooks.start?.();
    await sleep(windowMs);
    cpu = pids.map((pid, i) => ((cpuTicks(pid) - before[i]!) / CLK_TCK / (windowMs / 1000)) * 100);
    await hooks.stop?.();
  })();
  const value = await fn();
  await window;
  return [value, cpu];
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- limits: LMDB

interface Rate {
  perSecond: number;
  p50: number;
  p99: number;
}

async function lmdbLimits(): Promise<{ put: Rate; durable: Rate; batch64: Rate; batch1024: Rate; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-bench-lmdb-'));
  const root = openLmdb({ path: join(dir, 'limit.mdb'), compression: false, maxDbs: 4 });
  const db = root.openDB<Buffer, string>({ name: 'limit', encoding: 'binary' });
  const value = Buffer.alloc(100, 7);
  const key = (i: number): string => `k${String(i % KEYS).padStart(6, '0')}`;
  const timed = async (opsPerStep: number, step: (i: number) => Promise<unknown>): Promise<Rate> => {
    for (let i = 0; i < 50; i++) await step(i); // warm-up
    const samples: number[] = [];
    const start = performance.now();
    let i = 0;
    while (performance.now() - start < LIMIT_SECONDS * 1000) {
      const t = performance.now();
      await step(i++);
      samples.push(performance.now() - t);
    }
    const elapsed = performance.now() - start;
    const sorted = Float64Array.from(samples).sort();
    return { perSecond: (samples.length * opsPerStep) / (elapsed / 1000), p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  try {
    const put = await timed(1, (i) => db.put(key(i), value));
    const durable = await timed(1, async (i) => {
      await db.put(key(i), value);
      await root.flushed;
    });
    const batch = (size: number) => async (i: number) => {
      await root.transaction(() => {
        for (let j = 0; j < size; j++) db.put(key(i * size + j), value);
      });
      await root.flushed;
    };
    const batch64 = await timed(64, batch(64));
    const batch1024 = await timed(1024, batch(1024));
    return { put, durable, batch64, batch1024, path: dir };
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- limits: TCP echo

/** The echo server role: echoes every byte back (the client frames its messages). */
async function serveEcho(): Promise<void> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.send!({ port: (server.address() as { port: number }).port });
  process.on('disconnect', () => process.exit(0));
}

async function echoLimits(): Promise<{ one: Rate; many: Rate }> {
  const child = fork(fileURLToPath(import.meta.url), ['--echo'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [{ port }] = (await once(child, 'message')) as [{ port: number }];
    const socket: Socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await once(socket, 'connect');
    const frame = Buffer.alloc(ECHO_BYTES, 3);
    let received = 0;
    let onBytes: (() => void) | null = null;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      onBytes?.();
    });
    const run = async (inFlight: number, durationMs: number): Promise<Rate> => {
      const sentAt: number[] = [];
      const samples: number[] = [];
      let sent = 0;
      let done = 0;
      received = 0;
      const start = performance.now();
      await new Promise<void>((resolve) => {
        const pump = (): void => {
          const now = performance.now();
          while (received - done * ECHO_BYTES >= ECHO_BYTES) {
            samples.push(now - sentAt[done]!);
            done++;
          }
          if (now - start >= durationMs) {
            if (done === sent) resolve();
            return;
          }
          let burst = 0;
          while (sent - done < inFlight) {
            sentAt.push(performance.now());
            sent++;
            burst++;
          }
          if (burst > 0) socket.write(burst === 1 ? frame : Buffer.concat(Array.from({ length: burst }, () => frame)));
        };
        onBytes = pump;
        pump();
      });
      onBytes = null;
      const elapsed = performance.now() - start;
      const sorted = Float64Array.from(samples).sort();
      return { perSecond: done / (elapsed / 1000), p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
    };
    await run(1, 300); // warm-up
    await run(64, 300);
    const one = await run(1, LIMIT_SECONDS * 1000);
    const many = await run(64, LIMIT_SECONDS * 1000);
    socket.destroy();
    return { one, many };
  } finally {
    child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- limits: plain HTTP

/**
 * The plain HTTP server role: node:http, keep-alive, no framework, no
 * routing: a PUT's body is read and answered `{"version":1}`, a GET is
 * answered the JSON a table read returns for a 100-byte value.
 */
async function servePlainHttp(): Promise<void> {
  const read = JSON.stringify({ key: 'k000000', value: VALUE, version: 1 });
  const server = createHttpServer((req, res) => {
    const answer = (body: string): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === 'PUT') {
      req.resume();
      req.on('end', () => answer('{"version":1}'));
    } else answer(read);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.send!({ port: (server.address() as { port: number }).port });
  process.on('disconnect', () => process.exit(0));
}

/** 3 plain HTTP server processes (one per node of the cluster) under the load generator of the HTTP phases. */
async function plainHttpLimits(clients: number): Promise<{ put: HttpLoadResult; get: HttpLoadResult; serverCpu: { put: number; get: number } }> {
  const children = [0, 1, 2].map(() => fork(fileURLToPath(import.meta.url), ['--plain-http'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    const ports = await Promise.all(children.map(async (c) => ((await once(c, 'message')) as [{ port: number }])[0].port));
    const base = { urls: ports.map((port) => `http://127.0.0.1:${port}`), table: TABLE, clients, warmupMs: WARMUP_SECONDS * 1000, durationMs: LIMIT_SECONDS * 1000, keys: KEYS, body: JSON.stringify(VALUE) };
    const pids = children.map((c) => c.pid!);
    const sum = (cpu: number[]): number => cpu.reduce((a, b) => a + b, 0);
    const [put, putCpu] = await cpuOver(pids, base.warmupMs, base.durationMs, () => runTablesHttpLoad({ ...base, op: 'put' }));
    const [get, getCpu] = await cpuOver(pids, base.warmupMs, base.durationMs, () => runTablesHttpLoad({ ...base, op: 'get' }));
    return { put, get, serverCpu: { put: sum(putCpu), get: sum(getCpu) } };
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- node processes

class NodeProc {
  child!: ChildProcess;
  httpPort = 0;
  exited!: Promise<void>;
  alive = false;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  stderr = '';

  constructor(readonly name: string, readonly clusterPort: number, readonly seeds: string[], readonly dataDir: string) {}

  get nodeName(): string {
    return `${this.name}@127.0.0.1`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async start(): Promise<void> {
    this.child = fork(join(here, 'tables-node.js'), ['--node'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.alive = true;
    this.child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-20_000)));
    this.child.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new Error(`${this.name}: ${msg.error}`));
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', () => {
        this.alive = false;
        for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited; stderr tail:\n${this.stderr.slice(-2000)}`));
        this.pending.clear();
        resolve();
      }),
    );
    const { httpPort } = await this.call<{ httpPort: number }>('start', { name: this.name, clusterPort: this.clusterPort, seeds: this.seeds, dataDir: this.dataDir, raftElectionTimeoutMs: ELECTION_TIMEOUT });
    this.httpPort = httpPort;
  }

  call<T>(type: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ id, type, ...args });
    });
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful: stops the node (no leave) and lets the process exit. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    await this.call('stop', {}, 15_000).catch(() => this.child.kill('SIGKILL'));
    await this.exited;
  }
}

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last: ${(last as Error).message})` : ''}`);
    await sleep(50);
  }
}

const allSeeAllUp = (nodes: NodeProc[]) => async () => (await Promise.all(nodes.map((n) => n.call<number>('members', {}, 5_000)))).every((c) => c === nodes.length);

interface TableInfo {
  replicas: Array<{ partition: number; leader: string | null; voters: string[] }>;
}

/** The node whose replica of `partition` leads, by asking every node about itself. */
async function leaderOf(nodes: NodeProc[], partition: number): Promise<NodeProc | undefined> {
  for (const n of nodes.filter((x) => x.alive)) {
    const info = await n.call<TableInfo>('describe', { table: TABLE }, 5_000);
    if (info.replicas[partition]?.leader === n.nodeName) return n;
  }
  return undefined;
}

async function leaderCounts(nodes: NodeProc[]): Promise<string> {
  const counts = new Map(nodes.map((n) => [n.name, 0]));
  for (let p = 0; p < PARTITIONS; p++) {
    const l = await leaderOf(nodes, p);
    if (l) counts.set(l.name, counts.get(l.name)! + 1);
  }
  return [...counts].map(([n, c]) => `${n} ${c}`).join(', ');
}

/** A key of each partition, for probes and failover writers. */
function keysByPartition(prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.filter(Boolean).length < PARTITIONS; i++) {
    const key = `${prefix}${i}`;
    const p = partitionOfKey(key, PARTITIONS);
    if (out[p] === undefined) out[p] = key;
  }
  return out;
}

// ---------------------------------------------------------------- phases

interface RaftCounters {
  batches: number;
  framesSent: number;
  messagesSent: number;
  /** Log entries written, all nodes: 3 per entry with factor 3, so 3 / (this per op) is the coalescing factor. */
  entriesPersisted: number;
  /** Time the write batches took (start to commit and flush), seconds, and how many were timed. */
  batchSeconds: number;
  batchCount: number;
}

const COUNTER_NAMES = ['batches', 'framesSent', 'messagesSent', 'entriesPersisted', 'batchSeconds', 'batchCount'] as const;
const combine = (a: RaftCounters, b: RaftCounters, sign: 1 | -1): RaftCounters =>
  Object.fromEntries(COUNTER_NAMES.map((k) => [k, a[k] + sign * b[k]])) as unknown as RaftCounters;

interface PhaseCpu {
  /** % of one core per node during the phase. */
  nodes: number[];
  rss: number[];
  /** The raft hosts' counters over the measured window, all nodes summed. */
  raft: RaftCounters;
}

const raftCounters = async (nodes: NodeProc[]): Promise<RaftCounters> => {
  const all = await Promise.all(nodes.map((n) => n.call<RaftCounters>('raft-stats')));
  return all.reduce((a, b) => combine(a, b, 1));
};

/**
 * Runs a phase, measuring each node's CPU (from /proc) over its measured
 * window (after the warm-up, for BENCH_SECONDS); with BENCH_CPU_PROF,
 * profiles every node over the same window into
 * `<dir>/<phase>-<node>.cpuprofile`.
 */
async function withCpu<T>(nodes: NodeProc[], phase: string, fn: () => Promise<T>): Promise<[T, PhaseCpu]> {
  let before: RaftCounters | undefined;
  let after: RaftCounters | undefined;
  const [value, cpu] = await cpuOver(nodes.map((n) => n.pid), WARMUP_SECONDS * 1000, SECONDS * 1000, fn, {
    start: async () => {
      before = await raftCounters(nodes);
      if (CPU_PROF) await Promise.all(nodes.map((n) => n.call('profile-start')));
    },
    stop: async () => {
      after = await raftCounters(nodes);
      if (CPU_PROF) await Promise.all(nodes.map((n) => n.call('profile-stop', { path: join(CPU_PROF!, `${phase}-${n.name}.cpuprofile`) })));
    },
  });
  const raft = combine(after!, before!, -1);
  return [value, { nodes: cpu, rss: nodes.map((n) => rssMb(n.pid)), raft }];
}

/** Node CPU (% of a core per node over the measured window), the CPU per operation it implies (all 3 nodes summed), and RSS. */
const cpuLine = (nodes: NodeProc[], c: PhaseCpu, opsPerSecond: number): string => {
  const ops = opsPerSecond * SECONDS;
  return `node CPU ${nodes.map((n, i) => `${n.name} ${fmt(c.nodes[i]!)}%`).join(' ')} = ${opsPerSecond > 0 ? fmt((c.nodes.reduce((a, b) => a + b, 0) / 100 / opsPerSecond) * 1e6) : '?'} µs per op; ` +
    `per op: ${ops > 0 ? `${fmt(c.raft.batches / ops, 2)} raft write batches, ${fmt(c.raft.framesSent / ops, 2)} raft frames, ${fmt(c.raft.entriesPersisted / ops, 2)} log entries` : '?'} (3 nodes); write batch ${c.raft.batchCount > 0 ? `${fmt((c.raft.batchSeconds / c.raft.batchCount) * 1000, 2)} ms on average` : 'n/a'}; RSS ${c.rss.map((r) => fmt(r, 1)).join('/')} MB`;
};

interface WriteFigure {
  clients: number;
  opsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

async function failoverTrials(nodes: NodeProc[]): Promise<number[]> {
  const keys = keysByPartition('failover-');
  const times: number[] = [];
  // No socket limit: an attempt stuck on the dead leader must not hold back the next one in the agent's queue.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const put = (url: string, key: string, timeoutMs: number): Promise<number> =>
    new Promise((resolve) => {
      const body = JSON.stringify(VALUE);
      const req = request(`${url}/api/tables/${TABLE}/keys/${key}`, { method: 'PUT', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end(body);
    });
  for (let trial = 0; trial < TRIALS; trial++) {
    const partition = trial % PARTITIONS;
    const leader = await waitUntil(`a leader of partition ${partition}`, 20_000, () => leaderOf(nodes, partition));
    const survivors = nodes.filter((n) => n !== leader);
    let killedAt = Infinity;
    let firstOk: number | undefined;
    let lastOkBefore = 0;
    let attempts = 0;
    let failedAfter = 0;
    let slowestFailure = 0;
    let stop = false;
    const inFlight = new Set<Promise<void>>();
    const writers = (async () => {
      while (!stop) {
        const url = survivors[attempts++ % survivors.length]!.url;
        const started = performance.now();
        const p: Promise<void> = put(url, keys[partition]!, 5_000).then((status) => {
          const now = performance.now();
          if (status >= 200 && status < 300) {
            if (started >= killedAt) firstOk ??= now;
            else if (now < killedAt) lastOkBefore = now;
          } else if (started >= killedAt) {
            failedAfter++;
            slowestFailure = Math.max(slowestFailure, now - started);
          }
          inFlight.delete(p);
        });
        inFlight.add(p);
        await sleep(10);
      }
    })();
    await sleep(500); // the partition is busy (awake) when its leader dies
    killedAt = performance.now();
    await leader.kill();
    const deadline = killedAt + 30_000;
    while (firstOk === undefined && performance.now() < deadline) await sleep(5);
    stop = true;
    await writers;
    await Promise.all(inFlight);
    const newLeader = await waitUntil('the new leader', 10_000, () => leaderOf(nodes, partition)).catch(() => undefined);
    if (firstOk === undefined) {
      console.log(`  trial ${trial + 1}: partition ${partition}, killed ${leader.name}: no write succeeded within 30 s`);
      times.push(Infinity);
    } else {
      times.push(firstOk - killedAt);
      console.log(
        `  trial ${trial + 1}: partition ${partition}, killed ${leader.name} (leader); first write acknowledged ${ms(firstOk - killedAt)} ms after the kill ` +
          `(last before it ${ms(killedAt - lastOkBefore)} ms before); new leader ${newLeader?.name ?? '?'}; ` +
          `attempts started after the kill that failed: ${failedAfter}, the slowest answering after ${ms(slowestFailure)} ms`,
      );
    }
    // Restart the killed node with its data and let the cluster settle before the next trial.
    await leader.start();
    await waitUntil('3 members up on every node after the restart', 30_000, allSeeAllUp(nodes));
    await waitUntil(`writes through the restarted ${leader.name} to every partition`, 30_000, () => leader.call('probe', { table: TABLE, keys: keysByPartition('probe-') }, 20_000));
    await sleep(500);
  }
  agent.destroy();
  return times;
}

// ---------------------------------------------------------------- driver

/** No cluster phase was asked for. */
class Skip extends Error {}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const load0 = loadavg();
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}; load average ${load0.map((l) => l.toFixed(2)).join(' ')} at start (a shared machine: other work runs beside this benchmark)`);
  console.log(
    `table ${TABLE}: ${PARTITIONS} partitions, replication factor 3 on 3 node processes, ${Buffer.byteLength(JSON.stringify(VALUE))}-byte values, ${KEYS} keys, durable (fsync before acknowledgement); ` +
      `${SECONDS} s measured per phase after ${WARMUP_SECONDS} s warm-up; Raft election timeout ${ELECTION_TIMEOUT ?? 1000}–${2 * (ELECTION_TIMEOUT ?? 1000)} ms`,
  );

  let limits: { lmdb: Awaited<ReturnType<typeof lmdbLimits>>; echo: Awaited<ReturnType<typeof echoLimits>>; http: Awaited<ReturnType<typeof plainHttpLimits>> } | undefined;
  const topClients = Math.max(...CLIENTS);
  if (ONLY.has('limits')) {
    const lmdb = await lmdbLimits();
    const echo = await echoLimits();
    const http = await plainHttpLimits(topClients);
    limits = { lmdb, echo, http };
    console.log(`\nlimits, measured now on this machine (LMDB in ${tmpdir()}, the filesystem of the nodes' data dirs):`);
    console.log(`  LMDB sequential awaited put, default durability (resolves at commit)  ${fmt(lmdb.put.perSecond).padStart(9)} puts/s   p50 ${ms(lmdb.put.p50)} ms  p99 ${ms(lmdb.put.p99)} ms`);
    console.log(`  LMDB sequential put + flushed (durable)                              ${fmt(lmdb.durable.perSecond).padStart(9)} puts/s   p50 ${ms(lmdb.durable.p50)} ms  p99 ${ms(lmdb.durable.p99)} ms`);
    console.log(`  LMDB 64 puts per transaction + flushed                               ${fmt(lmdb.batch64.perSecond).padStart(9)} puts/s   p50 ${ms(lmdb.batch64.p50)} ms per transaction`);
    console.log(`  LMDB 1024 puts per transaction + flushed                             ${fmt(lmdb.batch1024.perSecond).padStart(9)} puts/s   p50 ${ms(lmdb.batch1024.p50)} ms per transaction`);
    console.log(`  TCP echo of ${ECHO_BYTES} bytes, 1 in flight                                     ${fmt(echo.one.perSecond).padStart(9)} round trips/s   p50 ${ms(echo.one.p50)} ms  p99 ${ms(echo.one.p99)} ms`);
    console.log(`  TCP echo of ${ECHO_BYTES} bytes, 64 in flight on one connection                  ${fmt(echo.many.perSecond).padStart(9)} round trips/s   p50 ${ms(echo.many.p50)} ms  p99 ${ms(echo.many.p99)} ms`);
    for (const [what, r, serverCpu] of [['PUT', http.put, http.serverCpu.put], ['GET', http.get, http.serverCpu.get]] as const) {
      console.log(
        `  plain node:http ${what}, 3 server processes, the HTTP phases' load generator, ${topClients} clients  ${fmt(r.okPerSecond).padStart(7)} req/s   p50 ${ms(r.p50)} ms  p99 ${ms(r.p99)} ms; ` +
          `CPU per request: servers ${fmt((serverCpu / 100 / r.okPerSecond) * 1e6)} µs, load generator ${fmt(((r.cpuPercent / 100) / r.okPerSecond) * 1e6)} µs`,
      );
    }
  }

  const dataRoot = mkdtempSync(join(tmpdir(), 'troupe-bench-tables-'));
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  const ports = [await freePort(), await freePort(), await freePort()];
  const names = ['t1', 't2', 't3'];
  const seeds = names.map((n, i) => `${n}@127.0.0.1:${ports[i]}`);
  const nodes = names.map((n, i) => new NodeProc(n, ports[i]!, seeds, join(dataRoot, n)));
  const libWrites: WriteFigure[] = [];
  const httpWrites: WriteFigure[] = [];
  let reads: { linearizable?: HttpLoadResult; stale?: HttpLoadResult } = {};
  let libReads: { linearizable?: LoadSummary; stale?: LoadSummary } = {};
  let failover: number[] = [];
  try {
    if (!['lib', 'http', 'read', 'failover'].some((phase) => ONLY.has(phase))) throw new Skip();
    await Promise.all(nodes.map((n) => n.start()));
    await waitUntil('3 members up on every node', 30_000, allSeeAllUp(nodes));
    const created = performance.now();
    await nodes[0]!.call('create', { table: TABLE, partitions: PARTITIONS, replicationFactor: 3 });
    console.log(`\ncluster up; table created in ${fmt(performance.now() - created)} ms; partitions led by ${await leaderCounts(nodes)}`);
    await nodes[0]!.call('fill', { table: TABLE, keys: KEYS, value: VALUE }, 120_000);

    const base = { table: TABLE, warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000, keys: KEYS };
    if (ONLY.has('lib')) {
      console.log(`\nwrites through the library (load inside ${nodes[0]!.name}'s process: node.tables.put, awaited, back to back per client):`);
      for (const clients of CLIENTS) {
        const req: LoadRequest = { ...base, op: 'put', clients, value: VALUE };
        const [s, cpu] = await withCpu(nodes, `lib-put-${clients}`, () => nodes[0]!.call<LoadSummary>('load', { request: req }, 120_000));
        libWrites.push({ clients, opsPerSecond: s.opsPerSecond, p50: s.p50, p99: s.p99, max: s.max, errors: s.errors });
        console.log(
          `  ${String(clients).padStart(3)} clients  ${fmt(s.opsPerSecond).padStart(7)} writes/s  p50 ${ms(s.p50)} ms  p99 ${ms(s.p99)} ms  max ${ms(s.max)} ms  ` +
            `errors ${s.errors}${s.firstError ? ` (${s.firstError})` : ''}; forwarded ${pct(s.forwarded, s.local + s.forwarded)}; ${cpuLine(nodes, cpu, s.opsPerSecond)}`,
        );
      }
    }
    if (ONLY.has('http')) {
      console.log(`\nwrites over HTTP (load generator process, keep-alive, clients spread over the 3 nodes): PUT /api/tables/${TABLE}/keys/:key`);
      for (const clients of CLIENTS) {
        const [r, cpu] = await withCpu(nodes, `http-put-${clients}`, () => runTablesHttpLoad({ ...base, urls: nodes.map((n) => n.url), op: 'put', clients, body: JSON.stringify(VALUE) }));
        httpWrites.push({ clients, opsPerSecond: r.okPerSecond, p50: r.p50, p99: r.p99, max: r.max, errors: r.errors });
        console.log(
          `  ${String(clients).padStart(3)} clients  ${fmt(r.okPerSecond).padStart(7)} writes/s  p50 ${ms(r.p50)} ms  p99 ${ms(r.p99)} ms  max ${ms(r.max)} ms  ` +
            `errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}; load generator ${fmt(r.cpuPercent)}% CPU; ${cpuLine(nodes, cpu, r.okPerSecond)}`,
        );
      }
    }
    if (ONLY.has('read')) {
      console.log(`\nreads over HTTP, ${READ_CLIENTS} clients spread over the 3 nodes: GET /api/tables/${TABLE}/keys/:key`);
      for (const op of ['get', 'get-stale'] as const) {
        const [r, cpu] = await withCpu(nodes, `http-${op}-${READ_CLIENTS}`, () => runTablesHttpLoad({ ...base, urls: nodes.map((n) => n.url), op, clients: READ_CLIENTS, body: '' }));
        reads = { ...reads, [op === 'get' ? 'linearizable' : 'stale']: r };
        console.log(
          `  ${(op === 'get' ? 'linearizable' : 'stale').padEnd(12)}  ${fmt(r.okPerSecond).padStart(7)} reads/s  p50 ${ms(r.p50)} ms  p99 ${ms(r.p99)} ms  max ${ms(r.max)} ms  ` +
            `errors ${r.errors}${r.firstError ? ` (${r.firstError}; by status ${JSON.stringify(r.byStatus)})` : ''}; load generator ${fmt(r.cpuPercent)}% CPU; ${cpuLine(nodes, cpu, r.okPerSecond)}`,
        );
      }
      console.log(`reads through the library, ${READ_CLIENTS} clients inside ${nodes[0]!.name}'s process (node.tables.get), for comparison:`);
      for (const op of ['get', 'get-stale'] as const) {
        const req: LoadRequest = { ...base, op, clients: READ_CLIENTS, value: null };
        const [s, cpu] = await withCpu(nodes, `lib-${op}-${READ_CLIENTS}`, () => nodes[0]!.call<LoadSummary>('load', { request: req }, 120_000));
        libReads = { ...libReads, [op === 'get' ? 'linearizable' : 'stale']: s };
        console.log(
          `  ${(op === 'get' ? 'linearizable' : 'stale').padEnd(12)}  ${fmt(s.opsPerSecond).padStart(7)} reads/s  p50 ${ms(s.p50)} ms  p99 ${ms(s.p99)} ms  max ${ms(s.max)} ms  ` +
            `errors ${s.errors}${s.firstError ? ` (${s.firstError})` : ''}; forwarded ${pct(s.forwarded, s.local + s.forwarded)}; ${cpuLine(nodes, cpu, s.opsPerSecond)}`,
        );
      }
    }
    if (ONLY.has('failover') && TRIALS > 0) {
      console.log(`\nfailover: kill -9 of a partition's leader process while writers start a PUT of one of its keys every 10 ms through the other two nodes (${TRIALS} trials)`);
      failover = await failoverTrials(nodes);
      const sorted = Float64Array.from(failover).sort();
      console.log(`  kill → first acknowledged write: p50 ${ms(percentile(sorted, 50))} ms, max ${ms(sorted[sorted.length - 1]!)} ms over ${failover.length} trials`);
    }
  } catch (err) {
    if (!(err instanceof Skip)) throw err;
  } finally {
    await Promise.all(nodes.filter((n) => n.alive).map((n) => n.stop().catch(() => {})));
    rmSync(dataRoot, { recursive: true, force: true });
  }

  // ---- Ratios and goals
  console.log('\nratios to the limits measured above:');
  const at = (figures: WriteFigure[], clients: number) => figures.find((f) => f.clients === clients);
  if (limits) {
    const { lmdb, echo } = limits;
    const floor = lmdb.durable.p50 + echo.one.p50;
    for (const [what, figures] of [['library', libWrites], ['HTTP', httpWrites]] as const) {
      const one = at(figures, 1);
      const top = at(figures, Math.max(...CLIENTS));
      if (one) console.log(`  ${what} write p50, 1 client: ${ms(one.p50)} ms = ${fmt(one.p50 / floor, 1)}× the floor of one durable commit + one round trip (${ms(lmdb.durable.p50)} + ${ms(echo.one.p50)} ms)`);
      if (top) {
        console.log(
          `  ${what} writes/s, ${top.clients} clients: ${fmt(top.opsPerSecond)} = ${pct(top.opsPerSecond, lmdb.batch64.perSecond)} of LMDB's durable puts/s in 64-put transactions, ` +
            `${pct(top.opsPerSecond, echo.many.perSecond)} of TCP echo round trips/s with 64 in flight` +
            (what === 'HTTP' ? `, ${pct(top.opsPerSecond, limits.http.put.okPerSecond)} of plain node:http PUTs/s` : ''),
        );
      }
    }
    for (const [what, r] of Object.entries(reads)) {
      if (r) console.log(`  HTTP ${what} reads/s, ${READ_CLIENTS} clients: ${fmt(r.okPerSecond)} = ${pct(r.okPerSecond, limits.http.get.okPerSecond)} of plain node:http GETs/s, ${pct(r.okPerSecond, echo.many.perSecond)} of TCP echo round trips/s with 64 in flight`);
    }
    for (const [what, r] of Object.entries(libReads)) {
      if (r) console.log(`  library ${what} reads/s, ${READ_CLIENTS} clients: ${fmt(r.opsPerSecond)} = ${pct(r.opsPerSecond, echo.many.perSecond)} of TCP echo round trips/s with 64 in flight`);
    }
  }
  if (failover.length > 0) {
    const sorted = Float64Array.from(failover).sort();
    const min = ELECTION_TIMEOUT ?? 1000;
    console.log(`  failover p50 ${ms(percentile(sorted, 50))} ms = ${fmt(percentile(sorted, 50) / min, 2)}× the minimum election timeout (${min} ms; a follower campaigns after a random ${min}–${2 * min} ms without its leader)`);
  }

  console.log('\ngoals (64 clients):');
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const lib64 = at(libWrites, 64);
  const http64 = at(httpWrites, 64);
  if (lib64) console.log(`  library writes ≥ ${fmt(GOAL_LIB_WRITES)}/s with p99 < ${GOAL_WRITE_P99_MS} ms: ${fmt(lib64.opsPerSecond)}/s, p99 ${ms(lib64.p99)} ms → ${verdict(lib64.opsPerSecond >= GOAL_LIB_WRITES && lib64.p99 < GOAL_WRITE_P99_MS)}`);
  if (http64) console.log(`  HTTP writes ≥ ${fmt(GOAL_HTTP_WRITES)}/s with p99 < ${GOAL_WRITE_P99_MS} ms: ${fmt(http64.opsPerSecond)}/s, p99 ${ms(http64.p99)} ms → ${verdict(http64.opsPerSecond >= GOAL_HTTP_WRITES && http64.p99 < GOAL_WRITE_P99_MS)}`);
  if (reads.linearizable) console.log(`  linearizable HTTP reads ≥ ${fmt(GOAL_LIN_READS)}/s: ${fmt(reads.linearizable.okPerSecond)}/s → ${verdict(reads.linearizable.okPerSecond >= GOAL_LIN_READS)}`);
  if (failover.length > 0) {
    const p50 = percentile(Float64Array.from(failover).sort(), 50);
    console.log(`  failover median ≤ ${fmt(GOAL_FAILOVER_MS)} ms: ${ms(p50)} ms → ${verdict(p50 <= GOAL_FAILOVER_MS)}`);
  }
  console.log(`\nload average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; whole run ${fmt((performance.now() - startedAt) / 1000)} s${CPU_PROF ? `; CPU profiles of the nodes in ${CPU_PROF}` : ''}`);
}

if (process.argv[2] === '--echo') {
  await serveEcho();
} else if (process.argv[2] === '--plain-http') {
  await servePlainHttp();
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
