/**
 * The client side of the CLI: `status`, `join`, `leave`, `remove` talk to a
 * running node's HTTP API (docs/HTTP_API.md), at `--url` or
 * `http://127.0.0.1:$PORT` (PORT defaults to 4000), sending
 * `Authorization: Bearer $CLUSTER_API_TOKEN` when that is set.
 *
 * Every failure becomes a `CliError` with one line to print: an unreachable
 * node, a request that outlives its deadline, or the node's JSON error.
 */
import type { DiscoveryReport, NodeStatus } from '../node-api.js';

/** A failure the CLI reports as one line, with its exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Deadline of one client request, ms: a join waits for the peer's answer. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface ClientOptions {
  url?: string | undefined;
  env: Record<string, string | undefined>;
  timeoutMs?: number;
}

export interface Client {
  readonly baseUrl: string;
  status(): Promise<NodeStatus>;
  discovery(): Promise<DiscoveryReport>;
  join(node: string): Promise<NodeStatus>;
  leave(): Promise<NodeStatus>;
  remove(node: string): Promise<NodeStatus>;
}

export function createClient(options: ClientOptions): Client {
  const baseUrl = resolveBaseUrl(options.url, options.env);
  const token = options.env.CLUSTER_API_TOKEN;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;

  async function call<T = NodeStatus>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw unreachable(baseUrl, err, timeoutMs);
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const detail = error?.message ?? (text.trim().slice(0, 200) || res.statusText);
      throw new CliError(`${detail} (HTTP ${res.status}${error?.code ? ` ${error.code}` : ''} from ${method} ${baseUrl}${path})`);
    }
    if (json === undefined) throw new CliError(`${baseUrl}${path} answered HTTP ${res.status} without JSON: is this a troupe node?`);
    return json as T;
  }

  return {
    baseUrl,
    status: () => call('GET', '/api/cluster/status'),
    discovery: () => call<DiscoveryReport>('GET', '/api/cluster/discovery'),
    join: (node) => call('POST', '/api/cluster/join', { node }),
    leave: () => call('POST', '/api/cluster/leave'),
    remove: (node) => call('DELETE', `/api/cluster/nodes/${encodeURIComponent(node)}`),
  };
}

/** `--url`, else `http://127.0.0.1:$PORT` (4000), without a trailing slash. */
export function resolveBaseUrl(url: string | undefined, env: Record<string, string | undefined>): string {
  const text = url ?? `http://127.0.0.1:${env.PORT || '4000'}`;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new CliError(`invalid node URL ${JSON.stringify(text)}: pass --url http://host:port (or set PORT)`, 2);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`invalid node URL ${JSON.stringify(text)}: must be http:// or https://`, 2);
  return parsed.href.replace(/\/+$/, '');
}

function unreachable(baseUrl: string, err: unknown, timeoutMs: number): CliError {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return new CliError(`no answer from ${baseUrl} within ${timeoutMs / 1000} s`);
  }
  const reason = error.cause?.code ?? error.cause?.message ?? error.message;
  return new CliError(`cannot reach a troupe node at ${baseUrl} (${reason}): is it running? Pass --url or set PORT`);
}
