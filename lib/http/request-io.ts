/**
 * A request's abort signal and body, read from node's own request and
 * response when the facade runs on node:http.
 *
 * @hono/node-server hands the app a light Request that builds the full
 * WHATWG Request (headers, a web body stream, an AbortController) the first
 * time `signal` or the body is touched: on a table read or write that was
 * the largest single cost of the HTTP layer. Here the signal comes from an
 * AbortController aborted when the response closes before it finished (the
 * client went away), and a body whose length is declared is read from the
 * node stream directly. Without node bindings (`app.request()` in tests) or
 * for a body of unknown length (the body-limit middleware then wraps the
 * request), both fall back to the Request itself.
 */
import type { Context } from 'hono';

/** What the facade reads of node's request and response (structural: @hono/node-server's HttpBindings fit). */
export interface NodeRequestBindings {
  incoming?: NodeJS.ReadableStream & { headers?: Record<string, string | string[] | undefined>; socket?: { remoteAddress?: string | undefined; destroyed?: boolean } };
  outgoing?: { writableFinished?: boolean; once(event: 'close', listener: () => void): unknown };
}

const signals = new WeakMap<object, AbortSignal>();

function bindings(c: Context): NodeRequestBindings | undefined {
  const env = c.env as NodeRequestBindings | undefined;
  return env?.incoming !== undefined && env.outgoing !== undefined ? env : undefined;
}

/** Aborted when the client goes away before its answer is written. */
export function requestSignal(c: Context): AbortSignal {
  const node = bindings(c);
  if (node === undefined) return c.req.raw.signal;
  let signal = signals.get(c.req.raw);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    signals.set(c.req.raw, signal);
    const outgoing = node.outgoing!;
    if (node.incoming?.socket?.destroyed === true) controller.abort(new Error('the client closed the connection'));
    else outgoing.once('close', () => {
      if (outgoing.writableFinished !== true) controller.abort(new Error('the client closed the connection before the answer'));
    });
  }
  return signal;
}

/** Whether the client went away before its answer (without building anything for a request that never asked). */
export function clientGone(c: Context): boolean {
  const node = bindings(c);
  if (node === undefined) return c.req.raw.signal?.aborted === true;
  return signals.get(c.req.raw)?.aborted === true || (node.incoming?.socket?.destroyed === true && node.outgoing?.writableFinished !== true);
}

/** The body as text (UTF-8). */
export async function requestText(c: Context): Promise<string> {
  const incoming = bindings(c)?.incoming;
  if (incoming === undefined || c.req.header('content-length') === undefined || c.req.header('transfer-encoding') !== undefined) return c.req.text();
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
