/**
 * The CLI's table commands, one per route of `/api/tables`
 * (docs/HTTP_API.md, "Tables"): `tables list|create|drop`, `get`, `put`,
 * `del`, `cas`, `scan`.
 *
 * A command is parsed into a `TableRequest` (what to send, how to render the
 * answer) before anything is sent, so a usage error never reaches the node.
 * Exit status: 0 done; 1 failed (the node's error, an unreachable node, and
 * a key that `get` did not find); 2 usage error; 3 a cas not applied because
 * the key held something else. `--json` prints the node's answer body as it
 * came, whatever its status; the exit status still tells the outcome.
 */
import type { ParseArgsConfig } from 'node:util';
import type { TableInfo, TableScanPage, Versioned } from '../tables/tables-api.js';
import { parseCommandArgs, type Values } from './args.js';
import { CliError, createClient, expectJson, type Answer } from './client.js';
import { formatCasApplied, formatCasMismatch, formatCreated, formatDeleted, formatItems, formatPut, formatTableList } from './table-format.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CAS_NOT_APPLIED = 3;

export const TABLE_USAGE = `Replicated tables (same --url; --json prints the node's answer as JSON):
  tables list                   the tables of the cluster
  tables create NAME [--partitions N] [--replication-factor N]
  tables drop NAME              drop a table and its data for good
  get TABLE KEY [--stale]       a key's value and version; --stale reads any
                                replica, maybe behind, even without a majority
  put TABLE KEY VALUE           store VALUE at KEY
  del TABLE KEY                 delete KEY
  cas TABLE KEY EXPECTED NEW    store NEW at KEY only if it holds EXPECTED
  scan TABLE [--prefix P | --start S --end E] [--limit N] [--cursor C] [--stale]
                                keys in order, a page at a time
  VALUE, EXPECTED and NEW are JSON (42, true, '{"a":1}', '"42"'); an argument
  that is not valid JSON is stored as a string (hello is "hello"). In cas,
  null means absent (EXPECTED) or delete (NEW). Put -- before a value that
  starts with "-". A timeout or 5xx leaves a write's outcome unknown: re-read
  before retrying a cas.
  Exit status: 0 done, 1 failed (get: not found), 2 usage error, 3 cas not
  applied (the key held something else).
`;

/** What a table command sends, and how its answers read. */
export interface TableRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  json: boolean;
  url: string | undefined;
  /** Text for people from a successful answer's body. */
  render(body: unknown): string;
  /** An answer that is an outcome rather than a failure (a key not found, a cas not applied): its line and exit status. */
  outcome?(answer: Answer): { message: string; exitCode: number } | undefined;
}

/** Where the CLI writes, and its environment; process's own in main.ts, captured in tests. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
}

type RequestParts = Omit<TableRequest, 'json' | 'url'>;

interface CommandSpec {
  options: ParseArgsConfig['options'];
  request(values: Values, positionals: string[]): RequestParts;
}

const COMMON: ParseArgsConfig['options'] = { url: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
const STALE: ParseArgsConfig['options'] = { stale: { type: 'boolean' } };

const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  tables: { options: { ...COMMON, partitions: { type: 'string' }, 'replication-factor': { type: 'string' } }, request: tablesRequest },
  get: { options: { ...COMMON, ...STALE }, request: getRequest },
  put: { options: COMMON, request: (_values, positionals) => putRequest(positionals) },
  del: { options: COMMON, request: (_values, positionals) => delRequest(positionals) },
  cas: { options: COMMON, request: (_values, positionals) => casRequest(positionals) },
  scan: {
    options: { ...COMMON, ...STALE, prefix: { type: 'string' }, start: { type: 'string' }, end: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
    request: scanRequest,
  },
};

export const TABLE_COMMANDS: ReadonlySet<string> = new Set(Object.keys(COMMANDS));

/** Runs a table command; every failure is one line on stderr and an exit status. */
export async function runTableCommand(command: string, args: string[], io: CliIo): Promise<number> {
  try {
    const request = parseTableCommand(command, args);
    if (request === 'help') {
      io.stdout(TABLE_USAGE);
      return EXIT_OK;
    }
    const client = createClient({ url: request.url, env: io.env });
    const answer = await client.request(request.method, request.path, { body: request.body, headers: request.headers ?? {} });
    return report(request, answer, `${client.baseUrl}${request.path}`, io);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    io.stderr(`troupe: ${err.message}\n`);
    return err.exitCode;
  }
}

function report(request: TableRequest, answer: Answer, url: string, io: CliIo): number {
  if (request.json && answer.body !== undefined) io.stdout(`${JSON.stringify(answer.body, null, 2)}\n`);
  const outcome = request.outcome?.(answer);
  if (outcome) {
    io.stderr(`troupe: ${outcome.message}\n`);
    return outcome.exitCode;
  }
  const body = expectJson(answer, request.method, url);
  if (!request.json) io.stdout(request.render(body));
  return EXIT_OK;
}

/** The request a table command makes, or `help`; a CliError (exit 2) for a usage error. */
export function parseTableCommand(command: string, args: string[]): TableRequest | 'help' {
  const spec = COMMANDS[command];
  if (!spec) throw new CliError(`unknown table command ${JSON.stringify(command)}; see troupe help`, EXIT_USAGE);
  const { values, positionals } = parseCommandArgs(command, args, spec.options);
  if (values.help) return 'help';
  return { json: values.json === true, url: typeof values.url === 'string' ? values.url : undefined, ...spec.request(values, positionals) };
}

function tablesRequest(values: Values, positionals: string[]): RequestParts {
  const [sub, ...rest] = positionals;
  if (sub !== 'create' && (values.partitions !== undefined || values['replication-factor'] !== undefined)) {
    throw usage('--partitions and --replication-factor apply to tables create only');
  }
  switch (sub) {
    case 'list':
      expectArguments('tables list', rest, []);
      return { method: 'GET', path: '/api/tables', render: (body) => formatTableList((body as { tables: TableInfo[] }).tables) };
    case 'create': {
      const [name] = expectArguments('tables create', rest, ['NAME']);
      const body: Record<string, unknown> = { name };
      if (values.partitions !== undefined) body.partitions = positiveInteger('--partitions', values.partitions);
      if (values['replication-factor'] !== undefined) body.replicationFactor = positiveInteger('--replication-factor', values['replication-factor']);
      return { method: 'POST', path: '/api/tables', body, render: (created) => formatCreated(created as TableInfo) };
    }
    case 'drop': {
      const [name] = expectArguments('tables drop', rest, ['NAME']);
      return { method: 'DELETE', path: tablePath(name!), render: () => `dropped table ${name}\n` };
    }
    default:
      throw usage(`tables takes list, create NAME or drop NAME${sub === undefined ? '' : `, not ${JSON.stringify(sub)}`}`);
  }
}

function getRequest(values: Values, positionals: string[]): RequestParts {
  const [table, key] = expectArguments('get', positionals, ['TABLE', 'KEY']) as [string, string];
  return {
    method: 'GET',
    path: keyPath(table, key),
    headers: consistencyHeader(values),
    render: (body) => formatItems([body as Versioned<unknown> & { key: string }]),
    outcome: (answer) => (isKeyNotFound(answer) ? { message: `not found: table ${JSON.stringify(table)} has no key ${JSON.stringify(key)}`, exitCode: EXIT_FAILED } : undefined),
  };
}

function putRequest(positionals: string[]): RequestParts {
  const [table, key, text] = expectArguments('put', positionals, ['TABLE', 'KEY', 'VALUE']) as [string, string, string];
  const value = parseValueArgument(text);
  if (value === null) throw usage('put: VALUE null cannot be stored (null stands for an absent key): to remove the key, use troupe del TABLE KEY');
  return { method: 'PUT', path: keyPath(table, key), body: value, render: (body) => formatPut(key, (body as { version: number }).version) };
}

function delRequest(positionals: string[]): RequestParts {
  const [table, key] = expectArguments('del', positionals, ['TABLE', 'KEY']) as [string, string];
  return { method: 'DELETE', path: keyPath(table, key), render: (body) => formatDeleted(key, body as { version: number; existed: boolean }) };
}

function casRequest(positionals: string[]): RequestParts {
  const [table, key, expectedText, newText] = expectArguments('cas', positionals, ['TABLE', 'KEY', 'EXPECTED', 'NEW']) as [string, string, string, string];
  const value = parseValueArgument(newText);
  return {
    method: 'POST',
    path: `${keyPath(table, key)}/cas`,
    body: { expected: parseValueArgument(expectedText), value },
    render: (body) => formatCasApplied(key, value, (body as { version: number }).version),
    outcome: (answer) => {
      const body = answer.body as { ok?: unknown; current?: Versioned<unknown> | null } | undefined;
      if (answer.status !== 409 || body?.ok !== false) return undefined;
      return { message: formatCasMismatch(key, body.current ?? null), exitCode: EXIT_CAS_NOT_APPLIED };
    },
  };
}

function scanRequest(values: Values, positionals: string[]): RequestParts {
  const [table] = expectArguments('scan', positionals, ['TABLE']) as [string];
  if (values.prefix !== undefined && (values.start !== undefined || values.end !== undefined)) throw usage('scan takes --prefix or a --start/--end range, not both');
  const query = new URLSearchParams();
  for (const name of ['prefix', 'start', 'end', 'cursor'] as const) {
    const value = values[name];
    if (typeof value === 'string') query.set(name, value);
  }
  if (values.limit !== undefined) query.set('limit', String(positiveInteger('--limit', values.limit)));
  const search = query.toString() === '' ? '' : `?${query}`;
  return {
    method: 'GET',
    path: `${tablePath(table)}/keys${search}`,
    headers: consistencyHeader(values),
    render: (body) => formatItems((body as TableScanPage).items, (body as TableScanPage).cursor),
  };
}

/**
 * A VALUE, EXPECTED or NEW argument: JSON when it parses (`42`, `true`,
 * `{"a":1}`, `"42"`, `null`), otherwise the text itself as a string, so
 * `troupe put t k hello` stores "hello" without shell-quoted quotes.
 */
export function parseValueArgument(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The positionals, exactly as many as `names`, none empty. */
function expectArguments(command: string, positionals: string[], names: string[]): string[] {
  if (positionals.length !== names.length) {
    const wanted = names.length === 0 ? 'no arguments' : names.join(' ');
    const got = positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ');
    throw usage(`${command} takes ${wanted}, got ${got}`);
  }
  names.forEach((name, i) => {
    if (positionals[i] === '') throw usage(`${command}: ${name} must not be empty`);
  });
  return positionals;
}

function positiveInteger(flag: string, value: string | boolean): number {
  if (typeof value !== 'string' || !/^[0-9]{1,9}$/.test(value) || Number(value) < 1) throw usage(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function consistencyHeader(values: Values): Record<string, string> {
  return values.stale ? { 'X-Consistency': 'stale' } : {};
}

/** A 404 for the key itself, not for the table or the route (both are failures). */
function isKeyNotFound(answer: Answer): boolean {
  const error = (answer.body as { error?: { code?: string; details?: { key?: unknown } } } | undefined)?.error;
  return answer.status === 404 && error?.code === 'ERR_NOT_FOUND' && error.details?.key !== undefined;
}

const tablePath = (table: string) => `/api/tables/${encodeURIComponent(table)}`;
const keyPath = (table: string, key: string) => `${tablePath(table)}/keys/${encodeURIComponent(key)}`;
const usage = (message: string) => new CliError(`${message}; see troupe help`, EXIT_USAGE);
