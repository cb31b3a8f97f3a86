/**
 * `troupe watch TABLE [--prefix P] [--from VERSION] [--cursor C] [--json]`:
 * prints a table's committed changes as they happen, from the node's
 * Server-Sent Events stream (GET /api/tables/:table/watch), until
 * interrupted. Human output is one line per change; `--json` prints one JSON
 * object per line (`{"type","key","value","version","partition","cursor"}`),
 * for piping. A watch whose history is gone (`compacted`) or that fails
 * exits 1 with the node's message; `--cursor` resumes after an event.
 */
import { parseCommandArgs } from './args.js';
import { answerOf, CliError, describeFailure, resolveBaseUrl } from './client.js';
import type { CliIo } from './table-commands.js';

export const WATCH_USAGE = `  watch TABLE [--prefix P] [--from VERSION] [--cursor C]
                                print changes as they commit, until Ctrl-C;
                                --from: changes after VERSION (default: from now)
`;

const OPTIONS = { url: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, prefix: { type: 'string' }, from: { type: 'string' }, cursor: { type: 'string' } } as const;

interface WatchRequest {
  path: string;
  json: boolean;
  url: string | undefined;
}

export function parseWatchCommand(args: string[]): WatchRequest | 'help' {
  const { values, positionals } = parseCommandArgs('watch', args, OPTIONS);
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new CliError('watch: expected TABLE; see troupe help', 2);
  const query = new URLSearchParams();
  if (typeof values.prefix === 'string') query.set('prefix', values.prefix);
  if (typeof values.from === 'string') {
    if (!/^[0-9]{1,15}$/.test(values.from)) throw new CliError('watch: --from must be a version (a non-negative integer); see troupe help', 2);
    query.set('from', values.from);
  }
  if (typeof values.cursor === 'string') query.set('cursor', values.cursor);
  const qs = query.toString();
  return { path: `/api/tables/${encodeURIComponent(positionals[0]!)}/watch${qs ? `?${qs}` : ''}`, json: values.json === true, url: typeof values.url === 'string' ? values.url : undefined };
}

/** Streams until the node closes the stream or `signal` aborts; the exit status. */
export async function runWatchCommand(args: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  try {
    const request = parseWatchCommand(args);
    if (request === 'help') {
      io.stdout(WATCH_USAGE);
      return 0;
    }
    const base = resolveBaseUrl(request.url, io.env);
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (io.env.CLUSTER_API_TOKEN) headers.Authorization = `Bearer ${io.env.CLUSTER_API_TOKEN}`;
    let res: Response;
    try {
      res = await fetch(`${base}${request.path}`, { headers, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) return 0;
      throw new CliError(`cannot reach the node at ${base}: ${(err as Error).message}`);
    }
    if (!res.ok || res.body === null) throw new CliError(describeFailure(await answerOf(res), 'GET', `${base}${request.path}`));
    return await printEvents(res.body, request.json, io, signal);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    io.stderr(`troupe: ${err.message}\n`);
    return err.exitCode;
  }
}

async function printEvents(body: ReadableStream<Uint8Array>, json: boolean, io: CliIo, signal?: AbortSignal): Promise<number> {
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const status = printEvent(parseEvent(block), json, io);
        if (status !== null) return status;
      }
    }
  } catch (err) {
    if (signal?.aborted) return 0;
    throw new CliError(`the watch stream broke: ${(err as Error).message}`);
  }
  return 0;
}

function parseEvent(block: string): { event: string; id: string | undefined; data: string } {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  return { event, id, data: data.join('\n') };
}

/** Prints one event; an exit status when the stream reported its end. */
function printEvent(e: { event: string; id: string | undefined; data: string }, json: boolean, io: CliIo): number | null {
  if (e.data === '') return null;
  const payload = JSON.parse(e.data) as { key?: string; value?: unknown; version?: number; partition?: number; error?: { code: string; message: string } };
  if (e.event === 'compacted' || e.event === 'error') {
    io.stderr(`troupe: ${payload.error?.message ?? 'the watch ended'} (${payload.error?.code ?? 'ERR_INTERNAL'})\n`);
    return 1;
  }
  if (json) io.stdout(`${JSON.stringify({ type: e.event, ...payload, cursor: e.id })}\n`);
  else io.stdout(e.event === 'delete' ? `delete ${payload.key}  (version ${payload.version}, partition ${payload.partition})\n` : `put ${payload.key} = ${JSON.stringify(payload.value)}  (version ${payload.version}, partition ${payload.partition})\n`);
  return null;
}
