/**
 * The HTTP load generator of bench/tables.ts, in its own process (it shares
 * the machine's cores with the nodes, not their event loops).
 *
 * `clients` clients, client i talking to node i mod 3 (so the load is spread
 * over the nodes), each sending requests back to back on a keep-alive
 * connection (one node:http Agent per node, as many sockets as its clients):
 * `PUT /api/tables/:t/keys/:k` with the value as the JSON body, or
 * `GET /api/tables/:t/keys/:k`, linearizable or with `X-Consistency: stale`.
 * Keys are drawn uniformly from `keys` names. A request that fails (non-2xx,
 * or below HTTP) counts as an error; the client pauses 5 ms after a transport
 * error so a refused connection does not spin. Reports 2xx/s, latency of the
 * 2xx answers, answers by status, and this process's CPU.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { keyName, latencySummary } from './tables-common.js';

export interface HttpLoadRequest {
  urls: string[];
  table: string;
  op: 'put' | 'get' | 'get-stale';
  clients: number;
  warmupMs: number;
  durationMs: number;
  keys: number;
  /** JSON body of a put. */
  body: string;
}

export interface HttpLoadResult {
  ok: number;
  byStatus: Record<string, number>;
  errors: number;
  firstError: string | null;
  durationMs: number;
  okPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU of the load generator during the measurement, % of one core. */
  cpuPercent: number;
}

export function runTablesHttpLoad(req: HttpLoadRequest): Promise<HttpLoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--tables-http-load'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: HttpLoadResult | undefined;
    child.on('message', (msg) => (result = msg as HttpLoadResult));
    child.once('error', reject);
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`HTTP load generator exited with ${code} before reporting`))));
    child.send(req);
  });
}

function send(agent: Agent, method: string, url: string, headers: Record<string, string>, body: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers, timeout: 30_000 }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function generate(req: HttpLoadRequest): Promise<HttpLoadResult> {
  const perNode = Math.ceil(req.clients / req.urls.length);
  const agents = req.urls.map(() => new Agent({ keepAlive: true, maxSockets: perNode, maxFreeSockets: perNode }));
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  const method = req.op === 'put' ? 'PUT' : 'GET';
  const headers: Record<string, string> =
    req.op === 'put' ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(req.body)) } : req.op === 'get-stale' ? { 'x-consistency': 'stale' } : {};
  const body = req.op === 'put' ? req.body : undefined;

  const client = async (index: number): Promise<void> => {
    const agent = agents[index % agents.length]!;
    const base = `${req.urls[index % req.urls.length]!}/api/tables/${encodeURIComponent(req.table)}/keys/`;
    while (!stop) {
      const url = base + keyName(Math.floor(Math.random() * req.keys));
      const started = performance.now();
      try {
        const status = await send(agent, method, url, headers, body);
        if (!measuring) continue;
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        if (status >= 200 && status < 300) latencies.push(performance.now() - started);
        else {
          errors++;
          firstError ??= `HTTP ${status}`;
        }
      } catch (err) {
        if (measuring) {
          errors++;
          firstError ??= (err as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };

  const running = Array.from({ length: req.clients }, (_, i) => client(i));
  await new Promise((resolve) => setTimeout(resolve, req.warmupMs));
  measuring = true;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, req.durationMs));
  measuring = false;
  const durationMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  stop = true;
  await Promise.all(running);
  for (const agent of agents) agent.destroy();
  return {
    ok: latencies.length,
    byStatus,
    errors,
    firstError,
    durationMs,
    okPerSecond: latencies.length / (durationMs / 1000),
    ...latencySummary(latencies),
    cpuPercent: ((cpu.user + cpu.system) / 1000 / durationMs) * 100,
  };
}

if (process.argv[2] === '--tables-http-load' && process.send) {
  process.once('message', (req) => {
    generate(req as HttpLoadRequest).then(
      (result) => process.send!(result, () => process.exit(0)),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
