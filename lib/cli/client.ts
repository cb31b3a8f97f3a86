/**
 * The client side of the CLI: `status`, `join`, `leave`, `remove` and the
 * table commands talk to a running node's HTTP API (docs/HTTP_API.md), at
 * `--url` or `http://127.0.0.1:$PORT` (PORT defaults to 4000), sending
 * `Authorization: Bearer $CLUSTER_API_TOKEN` when that is set.
 *
 * `request` hands back whatever the node answered, for commands that act on
 * an error answer (a key not found, a cas whose condition failed); `call`
 * and the named methods turn every failure into a `CliError` with one line
 * to print: an unreachable node, a request that outlives its deadline, or
 * the node's JSON error.
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

/** What the node answered: its status and its body, parsed when it is JSON (`undefined` otherwise). */
export interface Answer {
  status: number;
  ok: boolean;
  body: unknown;
  text: string;
}

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Client {
  readonly baseUrl: string;
  /** Any answer of the node; throws a CliError only when there is none (unreachable, deadline). */
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
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

  async function request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw unreachable(baseUrl, err, timeoutMs);
    }
    return answerOf(res);
  }

  async function call<T = NodeStatus>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await request(method, path, { body });
    return expectJson<T>(answer, method, `${baseUrl}${path}`);
  }

  return {
    baseUrl,
    request,
    status: () => call('GET', '/api/cluster/status'),
    discovery: () => call<DiscoveryReport>('GET', '/api/cluster/discovery'),
    join: (node) => call('POST', '/api/cluster/join', { node }),
    leave: () => call('POST', '/api/cluster/leave'),
    remove: (node) => call('DELETE', `/api/cluster/nodes/${encodeURIComponent(node)}`),
  };
}

/** The body of a successful JSON answer; a CliError describing any other. */
/** A response as an Answer: its text, and its body when the text is JSON. */
export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, ok: res.ok, body, text };
}

export function expectJson<T>(answer: Answer, method: string, url: string): T {
  if (!answer.ok) throw new CliError(describeFailure(answer, method, url));
  if (answer.body === undefined) throw new CliError(`${url} answered HTTP ${answer.status} without JSON: is this a troupe node?`);
  return answer.body as T;
}

/** One line for a failed answer: the node's message, its status and code, and the request. */
export function describeFailure(answer: Answer, method: string, url: string): string {
  const error = (answer.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const detail = error?.message ?? (answer.text.trim().slice(0, 200) || `HTTP ${answer.status}`);
  return `${detail} (HTTP ${answer.status}${error?.code ? ` ${error.code}` : ''} from ${method} ${url})`;
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
