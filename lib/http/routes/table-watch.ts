/**
 * `GET /api/tables/:table/watch?prefix=&from=&cursor=`: a table's committed
 * changes as Server-Sent Events, from a position on (lib/tables/watch.ts).
 *
 * Each change is one event: `event: put` or `event: delete`, `id:` the
 * cursor to resume after it (a reconnecting EventSource sends it back as
 * `Last-Event-ID`, which the route honours), `data:` the JSON
 * `{"key","value","version","partition"}`. When the changes asked for are no
 * longer retained, one `event: compacted` carries the error (with where to
 * resume after a re-read) and the stream ends. A comment line every
 * HEARTBEAT_MS keeps proxies from closing an idle stream.
 *
 * Watches are long-lived, so they are not counted by the facade's
 * concurrency limit (admission.ts); MAX_WATCHES bounds them instead.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { BadRequestError, TroupeError } from '../../errors.js';
import type { TablesApi, WatchOptions } from '../../tables/tables-api.js';
import type { HttpEnv } from '../types.js';
import { tableParam } from '../table-input.js';

/** Open watches per node. @default 256 */
export const MAX_WATCHES = 256;
/** Interval of the keep-alive comment, ms. @default 15000 */
export const HEARTBEAT_MS = 15_000;

export function watchHandler(tables: TablesApi) {
  let open = 0;
  return async (c: Context<HttpEnv>) => {
    const table = tableParam(c);
    const options = watchOptions(c);
    if (open >= MAX_WATCHES) {
      throw new TroupeError('ERR_QUEUE_FULL', `this node serves ${MAX_WATCHES} watches already: watch through another node or close one`, { retryable: true });
    }
    // A HEAD gets the headers only: a watch nobody reads would stay open, holding a slot and a long poll.
    if (c.req.method === 'HEAD') return c.body(null, 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const abort = new AbortController();
    const events = tables.watch(table, { ...options, signal: abort.signal })[Symbol.asyncIterator]();
    // Wait briefly for the first result, so that an unknown table or a bad cursor is a plain 4xx rather than an event.
    const first = events.next();
    const early = await Promise.race([first.then(() => null, (err: unknown) => ({ err })), new Promise<null>((resolve) => setTimeout(() => resolve(null), 50))]);
    if (early !== null) throw early.err;
    open++;
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => abort.abort());
      const heartbeat = setInterval(() => void stream.write(': keep-alive\n\n').catch(() => abort.abort()), HEARTBEAT_MS);
      try {
        let next = first;
        for (;;) {
          const result = await next;
          if (result.done) break;
          const e = result.value;
          await stream.writeSSE({ event: e.type, id: e.cursor, data: JSON.stringify({ key: e.key, value: e.value ?? null, version: e.version, partition: e.partition }) });
          next = events.next();
        }
      } catch (err) {
        if (!abort.signal.aborted) {
          const compacted = err instanceof TroupeError && err.code === 'ERR_WATCH_COMPACTED';
          await stream.writeSSE({ event: compacted ? 'compacted' : 'error', data: JSON.stringify({ error: errorPayload(err) }) });
        }
      } finally {
        clearInterval(heartbeat);
        abort.abort();
        open--;
      }
    });
  };
}

/** The error of a watch that ended, as its last event carries it. */
function errorPayload(err: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (!(err instanceof TroupeError)) return { code: 'ERR_INTERNAL', message: 'the watch failed inside the node; its log has the details' };
  const { table, partition, resumeFrom, retainedFrom } = err as unknown as Record<string, unknown>;
  const details = Object.fromEntries(Object.entries({ table, partition, resumeFrom, retainedFrom }).filter(([, v]) => v !== undefined));
  return { code: err.code, message: err.message, ...(Object.keys(details).length > 0 ? { details } : {}) };
}

function watchOptions(c: Context<HttpEnv>): WatchOptions {
  const prefix = c.req.query('prefix');
  const from = c.req.query('from');
  const cursor = c.req.query('cursor') ?? c.req.header('last-event-id');
  const options: WatchOptions = {};
  if (prefix !== undefined && prefix !== '') options.prefix = prefix;
  if (from !== undefined && from !== '') {
    if (!/^[0-9]{1,15}$/.test(from)) throw new BadRequestError(`query parameter "from" must be a version (a non-negative integer), got ${JSON.stringify(from.slice(0, 40))}`);
    options.fromVersion = Number(from);
  }
  if (cursor !== undefined && cursor !== '') {
    if (cursor.length > 4096) throw new BadRequestError('watch cursor is too long: pass back the id of a watch event, unchanged');
    options.cursor = cursor;
  }
  return options;
}
