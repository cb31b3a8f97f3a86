/**
 * A recording client of the tables' HTTP API, for Jepsen-style tests: every
 * get, put and cas a test issues against a node is kept as an operation of a
 * history (test/sim/linearizability.ts's `Operation`), with the time it was
 * invoked and the time its answer came, as the test process saw them.
 *
 * What an answer means follows the contract (docs/HTTP_API.md, Tables):
 * - a 2xx, or a 409 for a cas (`{"ok":false}`), is a definite result;
 * - a read that fails is dropped: a read changes nothing, so leaving it out
 *   loses no constraint;
 * - a write answered by a 5xx, timed out by the client, or whose connection
 *   broke after it was made, has an unknown outcome: it stays in the history
 *   with no output and no return ("info" in Jepsen's terms), free to take
 *   effect at any point after its invocation, or never;
 * - a write whose connection could not even be made (refused, or the client's
 *   deadline passed while connecting) never reached a node, so it is dropped
 *   as a definite failure: the request's bytes were never sent;
 * - any other 4xx is unexpected for the well-formed requests of these tests
 *   and kept apart (`unexpected`) for the test to fail on.
 *
 * Requests go through an `HttpSend`: `sendHttp` here (a fresh connection per
 * request, no keep-alive, so a connection is known to have been made or not),
 * or a relay running inside a network namespace (http-relay.ts).
 */
import { request } from 'node:http';
import type { KvInput, Operation } from '../sim/linearizability.js';

export interface HttpCall {
  method: string;
  url: string;
  body?: string;
  headers?: Record<string, string>;
  /** The client's deadline for the whole exchange, ms. */
  timeoutMs: number;
}

/** What became of a request: an answer, or an error before the connection was made (nothing sent), or after (it may have arrived). */
export type SendOutcome =
  /** `headers`: lower-case names, repeated ones joined with ", ". */
  | { kind: 'answer'; status: number; headers: Record<string, string>; text: string }
  | { kind: 'not-sent'; error: string }
  | { kind: 'lost'; error: string };

export type HttpSend = (call: HttpCall) => Promise<SendOutcome>;

/** One request on a fresh connection, with one deadline for the whole exchange. Never rejects. */
export function sendHttp(call: HttpCall): Promise<SendOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const finish = (outcome: SendOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const headers = { ...call.headers, ...(call.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(call.body)) }) };
    const req = request(call.url, { method: call.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      const headers = Object.fromEntries(Object.entries(res.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]));
      res.on('end', () => finish({ kind: 'answer', status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => finish({ kind: 'lost', error: err.message }));
    });
    req.on('socket', (socket) => {
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    req.on('error', (err) => finish({ kind: connected ? 'lost' : 'not-sent', error: err.message }));
    const timer = setTimeout(() => {
      finish({ kind: connected ? 'lost' : 'not-sent', error: `${call.method} ${call.url}: no answer within the client's ${call.timeoutMs} ms` });
      req.destroy();
    }, call.timeoutMs);
    if (call.body !== undefined) req.write(call.body);
    req.end();
  });
}

/** An operation of the history with what the test saw of it, for reports. */
export interface RecordedOperation extends Operation {
  /** The node the request was sent to. */
  node: string;
  /** 'ok': a definite result; 'info': unknown outcome. */
  type: 'ok' | 'info';
  /** The HTTP status or the client error. */
  note: string;
  /** For a cas that failed (409): the value the node said the key held (null: absent). */
  current?: unknown;
}

/** Everything the clients of one run saw. */
export class History {
  readonly operations: RecordedOperation[] = [];
  /** Requests dropped from the history: failed reads, writes never sent; by reason. */
  readonly dropped = new Map<string, number>();
  /** Answers the contract does not allow for these requests (a 4xx other than the documented ones). */
  readonly unexpected: string[] = [];
  /** Time zero of the history, for reports. */
  readonly origin = performance.now();

  drop(reason: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }

  /** Counts of definite and unknown operations by kind, for the test's log. */
  summary(): string {
    const count = (op: KvInput['op'], type: 'ok' | 'info') => this.operations.filter((o) => o.input.op === op && o.type === type).length;
    const casOk = this.operations.filter((o) => o.input.op === 'cas' && o.output !== undefined && 'ok' in o.output && o.output.ok).length;
    const dropped = [...this.dropped].map(([reason, n]) => `${reason}: ${n}`).join(', ') || 'none';
    return (
      `${this.operations.length} operations: get ${count('get', 'ok')}, put ${count('put', 'ok')} ok + ${count('put', 'info')} unknown, ` +
      `cas ${count('cas', 'ok')} answered (${casOk} applied) + ${count('cas', 'info')} unknown; dropped: ${dropped}`
    );
  }

  /**
   * The history to check: every operation but the writes of unknown outcome
   * whose value nobody observed (no read returned it, no cas expected it, no
   * failed cas reported it as the key's current value). Each such write
   * could take effect at any point or never, and the checker's search grows
   * steeply with their number (a 1733-operation history with 183 of them
   * took minutes), while they constrain nothing:
   * - leaving an unknown write out never hides an anomaly: a linearization
   *   without it is one of the full history in which it never took effect;
   * - and it never invents one when the store is correct: in the real order,
   *   such a write, if it took effect, was overwritten before any read saw
   *   it, and the only operations in between were failed cas (whose reported
   *   current value would then be its value: observed) and writes of unknown
   *   outcome that had no effect; taken out, the rest still fits.
   * Values are unique per write, so "observed" names one write.
   */
  checkable(): { operations: RecordedOperation[]; leftOut: RecordedOperation[] } {
    const observed = new Set<string>();
    for (const o of this.operations) {
      if (o.input.op === 'get' && o.output !== undefined && 'value' in o.output) observed.add(`${o.input.key}\u0000${JSON.stringify(o.output.value)}`);
      if (o.input.op === 'cas') observed.add(`${o.input.key}\u0000${JSON.stringify(o.input.expected)}`);
      if ('current' in o) observed.add(`${o.input.key}\u0000${JSON.stringify(o.current)}`);
    }
    const unobserved = (o: RecordedOperation) => o.type === 'info' && o.input.op !== 'get' && !observed.has(`${o.input.key}\u0000${JSON.stringify(o.input.value)}`);
    return { operations: this.operations.filter((o) => !unobserved(o)), leftOut: this.operations.filter(unobserved) };
  }

  /** The operations with times in ms from the start of the history, for a file a failure leaves behind. */
  relative(): RecordedOperation[] {
    return this.operations.map((o) => ({ ...o, callAt: o.callAt - this.origin, ...(o.returnAt === undefined ? {} : { returnAt: o.returnAt - this.origin }) }));
  }

  /** A readable listing of operations (one key's, say), in invocation order, times in ms from the start of the history. */
  format(operations: readonly Operation[]): string {
    const ms = (t: number | undefined) => (t === undefined ? '   …   ' : (t - this.origin).toFixed(1).padStart(7));
    return [...operations]
      .sort((a, b) => a.callAt - b.callAt)
      .map((op) => {
        const r = op as Partial<RecordedOperation>;
        const input = op.input;
        const what = input.op === 'get' ? 'get' : input.op === 'put' ? `put ${JSON.stringify(input.value)}` : `cas ${JSON.stringify(input.expected)} → ${JSON.stringify(input.value)}`;
        const out = op.output === undefined ? 'unknown' : 'value' in op.output ? `= ${JSON.stringify(op.output.value)}` : op.output.ok ? 'ok' : r.current === undefined ? 'failed' : `failed (held ${JSON.stringify(r.current)})`;
        return `${ms(op.callAt)} ${ms(op.returnAt)}  client ${String(op.client).padStart(2)}  ${what.padEnd(24)} ${out.padEnd(10)} ${r.node ?? ''} ${r.note ?? ''}`;
      })
      .join('\n');
  }
}

export interface TablesClientOptions {
  table: string;
  history: History;
  send?: HttpSend;
  /** Sent as `Authorization: Bearer <token>` on writes when set. */
  token?: string;
  /** The client's deadline per request, ms. */
  timeoutMs: number;
}

/** A target node: its name (for reports) and base URL. */
export interface TableNode {
  nodeName: string;
  url: string;
}

export type GetResult = { ok: true; value: unknown } | { ok: false; note: string };
export type WriteResult = { ok: true; applied: boolean; current?: unknown } | { ok: false; unknown: boolean; note: string };

/** Issues get, put and cas as one client (`client` in the history) and records each. */
export class TablesClient {
  private readonly send: HttpSend;

  constructor(
    readonly client: number,
    private readonly options: TablesClientOptions,
  ) {
    this.send = options.send ?? sendHttp;
  }

  /** A linearizable read, recorded when it succeeds; `stale` reads are never recorded (they promise no order). */
  async get(node: TableNode, key: string, stale = false): Promise<GetResult> {
    const { history } = this.options;
    const callAt = performance.now();
    const outcome = await this.send({ method: 'GET', url: this.keyUrl(node, key), headers: stale ? { 'x-consistency': 'stale' } : {}, timeoutMs: this.options.timeoutMs });
    const returnAt = performance.now();
    if (outcome.kind !== 'answer') {
      history.drop(`read ${outcome.kind}`);
      return { ok: false, note: outcome.error };
    }
    const body = parse(outcome.text);
    let value: unknown;
    if (outcome.status === 200) value = body?.value;
    else if (outcome.status === 404 && body?.error?.code === 'ERR_NOT_FOUND') value = null;
    else {
      const note = `${outcome.status} ${body?.error?.code ?? outcome.text.slice(0, 80)}`;
      if (outcome.status < 500) history.unexpected.push(`get ${key} on ${node.nodeName}: ${note}`);
      history.drop(`read ${outcome.status}`);
      return { ok: false, note };
    }
    if (!stale) history.operations.push({ client: this.client, input: { op: 'get', key }, output: { value }, callAt, returnAt, node: node.nodeName, type: 'ok', note: String(outcome.status) });
    return { ok: true, value };
  }

  async put(node: TableNode, key: string, value: unknown): Promise<WriteResult> {
    return this.write(node, { op: 'put', key, value }, 'PUT', this.keyUrl(node, key), JSON.stringify(value));
  }

  async cas(node: TableNode, key: string, expected: unknown, value: unknown): Promise<WriteResult> {
    return this.write(node, { op: 'cas', key, expected, value }, 'POST', `${this.keyUrl(node, key)}/cas`, JSON.stringify({ expected, value }));
  }

  private async write(node: TableNode, input: KvInput, method: string, url: string, body: string): Promise<WriteResult> {
    const { history } = this.options;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) };
    const callAt = performance.now();
    const outcome = await this.send({ method, url, body, headers, timeoutMs: this.options.timeoutMs });
    const returnAt = performance.now();
    const base = { client: this.client, input, callAt, node: node.nodeName };
    if (outcome.kind === 'not-sent') {
      history.drop('write not sent');
      return { ok: false, unknown: false, note: outcome.error };
    }
    if (outcome.kind === 'lost') {
      history.operations.push({ ...base, type: 'info', note: outcome.error });
      return { ok: false, unknown: true, note: outcome.error };
    }
    const answer = parse(outcome.text);
    if (outcome.status === 200) {
      history.operations.push({ ...base, output: { ok: true }, returnAt, type: 'ok', note: '200' });
      return { ok: true, applied: true };
    }
    if (outcome.status === 409 && input.op === 'cas' && answer?.ok === false) {
      const current: unknown = answer.current === null ? null : answer.current?.value;
      history.operations.push({ ...base, output: { ok: false }, returnAt, type: 'ok', note: '409', current });
      return { ok: true, applied: false, current };
    }
    const note = `${outcome.status} ${answer?.error?.code ?? outcome.text.slice(0, 80)}`;
    if (outcome.status >= 500) {
      // The contract: a 5xx leaves a write's outcome unknown.
      history.operations.push({ ...base, type: 'info', note });
      return { ok: false, unknown: true, note };
    }
    history.unexpected.push(`${input.op} ${input.key} on ${node.nodeName}: ${note}`);
    return { ok: false, unknown: false, note };
  }

  private keyUrl(node: TableNode, key: string): string {
    return `${node.url}/api/tables/${encodeURIComponent(this.options.table)}/keys/${encodeURIComponent(key)}`;
  }
}

function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Why the final value of `key` (read after every client stopped) cannot be
 * the effect of the history's writes, or undefined when it can: it must be
 * the value of a put or cas that succeeded or whose outcome is unknown (or
 * absent, when no write may have applied), and no write acknowledged as
 * applied may have started after that write was acknowledged (it would have
 * superseded it). The linearizability check covers this too; this says it in
 * the words of a lost write.
 */
export function unexplainedFinalValue(operations: readonly Operation[], key: string, value: unknown): string | undefined {
  const writes = operations.filter((o) => o.input.key === key && o.input.op !== 'get');
  const applied = (o: Operation) => o.output === undefined || ('ok' in o.output && o.output.ok);
  const acknowledged = writes.filter((o) => o.output !== undefined && 'ok' in o.output && o.output.ok);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (value === null) {
    if (acknowledged.length > 0) return `key ${key} is absent, but ${acknowledged.length} writes to it were acknowledged`;
    return undefined;
  }
  const sources = writes.filter((o) => applied(o) && 'value' in o.input && same(o.input.value, value));
  if (sources.length === 0) return `key ${key} holds ${JSON.stringify(value)}, which no successful or unknown write stored`;
  // The value's write must be able to come last: no acknowledged write of another value may have begun after it was acknowledged.
  const latestPossible = Math.max(...sources.map((o) => o.returnAt ?? Number.POSITIVE_INFINITY));
  const superseding = acknowledged.filter((o) => 'value' in o.input && !same(o.input.value, value) && o.callAt > latestPossible);
  if (superseding.length > 0) {
    const w = superseding[0]!;
    return `key ${key} holds ${JSON.stringify(value)}, but the acknowledged ${w.input.op} of ${JSON.stringify((w.input as { value: unknown }).value)} by client ${w.client} began after that value's write was acknowledged: the later write is lost`;
  }
  return undefined;
}
