/**
 * An HTTP load generator that runs in a child process, so the load is never
 * generated on the event loop of the process that measures or the node under
 * test.
 *
 * `clients` keep-alive clients (one `http.Agent` with that many sockets) each
 * send requests back to back for `durationMs`, cycling through `paths` (client
 * i starts at path i, so with two paths half the clients start on each). A
 * client does not wait after a 503 (a worst-case client that ignores
 * Retry-After); it waits `ERROR_PAUSE_MS` after a transport error so that a
 * refused connection does not spin. The child reports one summary: counts by
 * status, 503s without `Retry-After`, errors, and latency percentiles.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';

export interface HttpLoadOptions {
  /** Base URL, e.g. http://127.0.0.1:4001 */
  url: string;
  paths: string[];
  clients: number;
  durationMs: number;
  /** Wait this long before the clock starts, letting the sockets open, ms. @default 0 */
  warmupMs?: number;
}

export interface HttpLoadSummary {
  requests: number;
  /** Responses per HTTP status, e.g. `{ "200": 41000, "503": 120 }`. */
  byStatus: Record<string, number>;
  /** 503 responses that carried no `Retry-After` header. */
  unavailableWithoutRetryAfter: number;
  /** Requests that failed below HTTP (reset, refused, timed out). */
  errors: number;
  firstError: string | null;
  durationMs: number;
  requestsPerSecond: number;
  /** Latency of completed requests, ms, overall and per path. */
  latency: LatencySummary;
  byPath: Record<string, { requests: number; requestsPerSecond: number; latency: LatencySummary }>;
  /** The slowest request: its path and when it started, ms after the clock started (negative: during warm-up). */
  slowest: { path: string; startedAtMs: number; ms: number } | null;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

/** Pause after a failed request, ms: a refused connection must not make a client spin. */
const ERROR_PAUSE_MS = 10;
/** A request that takes longer than this is abandoned and counted as an error, ms. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Runs the load in a child process and resolves with its summary. */
export function runHttpLoad(options: HttpLoadOptions, signal?: AbortSignal): Promise<HttpLoadSummary> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let summary: HttpLoadSummary | undefined;
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (msg) => (summary = msg as HttpLoadSummary));
    child.once('error', reject);
    child.once('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (summary) resolve(summary);
      else reject(new Error(`load generator exited with ${code} before reporting`));
    });
    child.send(options);
  });
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarize(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.length ? sorted[sorted.length - 1]! : 0) };
}

interface Result {
  status: number;
  retryAfter: boolean;
}

function get(agent: Agent, url: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] !== undefined }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function generate(options: HttpLoadOptions): Promise<HttpLoadSummary> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients, maxFreeSockets: options.clients });
  const byStatus: Record<string, number> = {};
  const latencies = new Map<string, number[]>(options.paths.map((p) => [p, []]));
  let unavailableWithoutRetryAfter = 0;
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  let clockStart = performance.now();
  let slowest: HttpLoadSummary['slowest'] = null;

  const client = async (index: number) => {
    for (let i = index; !stop; i++) {
      const path = options.paths[i % options.paths.length]!;
      const started = performance.now();
      try {
        const { status, retryAfter } = await get(agent, options.url + path);
        if (!measuring) continue;
        const ms = performance.now() - started;
        latencies.get(path)!.push(ms);
        if (slowest === null || ms > slowest.ms) slowest = { path, startedAtMs: Math.round(started - clockStart), ms: Math.round(ms) };
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        if (status === 503 && !retryAfter) unavailableWithoutRetryAfter++;
      } catch (err) {
        if (measuring) {
          errors++;
          firstError ??= (err as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, ERROR_PAUSE_MS));
      }
    }
  };

  const running = Array.from({ length: options.clients }, (_, i) => client(i));
  if (options.warmupMs) await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  measuring = true;
  const started = performance.now();
  clockStart = started;
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  measuring = false;
  const durationMs = performance.now() - started;
  stop = true;
  await Promise.all(running);
  agent.destroy();

  const all = [...latencies.values()].flat();
  const byPath: HttpLoadSummary['byPath'] = {};
  for (const [path, values] of latencies) {
    byPath[path] = { requests: values.length, requestsPerSecond: Math.round(values.length / (durationMs / 1000)), latency: summarize(values) };
  }
  return {
    requests: all.length,
    byStatus,
    unavailableWithoutRetryAfter,
    errors,
    firstError,
    durationMs: Math.round(durationMs),
    requestsPerSecond: Math.round(all.length / (durationMs / 1000)),
    latency: summarize(all),
    byPath,
    slowest,
  };
}

if (process.argv[2] === '--child' && process.send) {
  process.once('message', (options) => {
    generate(options as HttpLoadOptions).then(
      (summary) => process.send!(summary, () => process.exit(0)),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
