/**
 * `/api/tables/*`: the replicated tables. Served only when the node offers
 * them (`ClusterNodeApi.tables`).
 *
 * Reads are open; mutations (POST, PUT, DELETE) pass `requireOperator`
 * first. Input is validated completely before the tables are called: the
 * shapes here, the key, value and batch limits by the very encoders the
 * partition applies at propose time (commands.ts), so a request over a
 * limit is a 413 before anything is proposed, and a rejected request
 * changes nothing. Reads are linearizable unless the caller sends
 * `X-Consistency: stale`; the answer says which it got in the same header.
 * A cas or batch whose condition fails is a 412 carrying the key at fault
 * and what it holds.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { BadRequestError, LimitExceededError, NoSuchTableError } from '../../errors.js';
import { encodeCommand, encodeExpected, encodeKey, encodeValue, type BatchOp as EncodedOp } from '../../tables/commands.js';
import { MAX_SCAN_LIMIT } from '../../tables/partition-state-machine.js';
import {
  MAX_PARTITIONS,
  MAX_REPLICATION_FACTOR,
  MAX_TABLE_NAME_LENGTH,
  TABLE_NAME_PATTERN,
  type BatchOp,
  type CreateTableOptions,
  type ReadConsistency,
  type TableScanOptions,
  type TablesApi,
  type WriteOutcome,
} from '../../tables/tables-api.js';
import { HttpError } from '../error-handler.js';
import type { HttpEnv } from '../types.js';
import { check, readJsonBody } from '../validate.js';

/** Longest scan cursor accepted, characters: a base64url key of MAX_KEY_BYTES and its prefix fit. */
const MAX_CURSOR_LENGTH = 2048;

const tableName = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .min(1, 'must not be empty')
  .max(MAX_TABLE_NAME_LENGTH, `must be at most ${MAX_TABLE_NAME_LENGTH} characters`)
  .regex(TABLE_NAME_PATTERN, 'must start with a letter and hold only letters, digits, "_", "." and "-"');

const positiveInt = (max: number) =>
  z.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

const CreateBody = z.strictObject(
  { name: tableName, partitions: positiveInt(MAX_PARTITIONS).optional(), replicationFactor: positiveInt(MAX_REPLICATION_FACTOR).optional() },
  { error: 'request body must be a JSON object like {"name":"users","partitions":8,"replicationFactor":3}' },
);

const TableParam = z.object({ table: tableName });

/** A JSON value that must be present (null allowed: the encoders decide what null means where). */
const present = z.custom<unknown>((v) => v !== undefined, { error: 'is required' });
const keyField = z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') });

const PutBody = z.strictObject({ value: present }, { error: 'request body must be a JSON object like {"value": <any JSON but null>}' });

const CasBody = z.strictObject(
  { key: keyField, expected: z.unknown().optional(), value: present },
  { error: 'request body must be a JSON object like {"key":"k","expected":<JSON or null>,"value":<JSON or null>}' },
);

const BatchOpSchema = z.discriminatedUnion(
  'op',
  [
    z.strictObject({ op: z.literal('put'), key: keyField, value: present }),
    z.strictObject({ op: z.literal('delete'), key: keyField }),
    z.strictObject({ op: z.literal('cas'), key: keyField, expected: z.unknown().optional(), value: present }),
    z.strictObject({ op: z.literal('check'), key: keyField, expected: z.unknown().optional() }),
  ],
  { error: 'must be one of "put", "delete", "cas", "check" (each operation is an object {"op": …, "key": …})' },
);

const BatchBody = z.strictObject(
  { ops: z.array(BatchOpSchema, { error: 'must be an array of operations' }).min(1, 'must hold at least one operation') },
  { error: 'request body must be a JSON object like {"ops":[{"op":"put","key":"k","value":1}]}' },
);

const ScanQuery = z.strictObject(
  {
    prefix: z.string().optional(),
    start: z.string().optional(),
    end: z.string().optional(),
    limit: z
      .string()
      .regex(/^[0-9]{1,9}$/, 'must be a positive integer')
      .transform(Number)
      .pipe(z.number().min(1, 'must be at least 1').max(MAX_SCAN_LIMIT, `must be at most ${MAX_SCAN_LIMIT}`))
      .optional(),
    cursor: z.string().min(1, 'must not be empty').max(MAX_CURSOR_LENGTH, `must be at most ${MAX_CURSOR_LENGTH} characters`).optional(),
  },
  { error: 'scan takes the query parameters prefix, start, end, limit and cursor' },
);

/**
 * Runs an encoder (which throws BadRequestError or a LimitExceededError) and
 * prefixes what it reports with where the faulty input was.
 */
function at<T>(where: string, encode: () => T): T {
  try {
    return encode();
  } catch (err) {
    if (err instanceof LimitExceededError) throw new LimitExceededError(err.limit, err.actual, `${where}: ${err.message}`);
    if (err instanceof BadRequestError) throw new BadRequestError(`${where}: ${err.message}`);
    throw err;
  }
}

/** The consistency a read asked for with `X-Consistency`. */
function consistencyOf(c: Context): ReadConsistency {
  const header = c.req.header('x-consistency');
  if (header === undefined) return 'linearizable';
  const value = header.trim().toLowerCase();
  if (value === 'stale' || value === 'linearizable') return value;
  throw new BadRequestError(`header X-Consistency must be "stale" or "linearizable", got ${JSON.stringify(header)}`);
}

const READ_HEADERS = (consistency: ReadConsistency) => ({ 'X-Consistency': consistency, 'Cache-Control': 'no-store' });

/** A failed condition as a 412 carrying the key at fault and what it holds. */
function mismatch(outcome: Extract<WriteOutcome<unknown>, { ok: false }>, what: string): HttpError {
  const holds = outcome.current === null ? 'is absent' : `holds version ${outcome.current.version}`;
  return new HttpError(412, 'ERR_PRECONDITION_FAILED', `${what}: the condition on key ${JSON.stringify(outcome.key)} failed (it ${holds}); nothing was written`, {}, {
    failed: outcome.failed,
    key: outcome.key,
    current: outcome.current,
  });
}

export function tableRoutes(tables: TablesApi, guard: MiddlewareHandler<HttpEnv>): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const call = (c: Context) => ({ signal: c.req.raw.signal });
  const table = (c: Context) => check(TableParam, { table: c.req.param('table') }).table;
  const key = (c: Context) => {
    const k = c.req.param('key') ?? '';
    at('path parameter "key"', () => encodeKey(k));
    return k;
  };

  app.get('/', async (c) => c.json({ tables: await tables.list(call(c)) }));

  app.post('/', guard, async (c) => {
    const body = await readJsonBody(c, CreateBody);
    const options: CreateTableOptions = {};
    if (body.partitions !== undefined) options.partitions = body.partitions;
    if (body.replicationFactor !== undefined) options.replicationFactor = body.replicationFactor;
    return c.json(await tables.create(body.name, options, call(c)), 201);
  });

  app.get('/:table', async (c) => {
    const name = table(c);
    const found = (await tables.list(call(c))).find((t) => t.name === name);
    if (!found) throw new NoSuchTableError(name);
    return c.json(found);
  });

  app.delete('/:table', guard, async (c) => {
    const name = table(c);
    await tables.drop(name, call(c));
    return c.json({ table: name, dropped: true });
  });

  app.get('/:table/keys/:key', async (c) => {
    const name = table(c);
    const k = key(c);
    const consistency = consistencyOf(c);
    const found = await tables.get(name, k, { ...call(c), consistency });
    if (found === null) {
      return c.json({ error: { code: 'ERR_NOT_FOUND', message: `table ${JSON.stringify(name)} has no key ${JSON.stringify(k)}` } }, 404, READ_HEADERS(consistency));
    }
    return c.json({ key: k, value: found.value, version: found.version }, 200, READ_HEADERS(consistency));
  });

  app.put('/:table/keys/:key', guard, async (c) => {
    const name = table(c);
    const k = key(c);
    const { value } = await readJsonBody(c, PutBody);
    at('field "value"', () => encodeValue(value));
    const { version } = await tables.put(name, k, value, call(c));
    return c.json({ key: k, version });
  });

  app.delete('/:table/keys/:key', guard, async (c) => {
    const name = table(c);
    const k = key(c);
    const { version, existed } = await tables.delete(name, k, call(c));
    return c.json({ key: k, version, existed });
  });

  app.post('/:table/cas', guard, async (c) => {
    const name = table(c);
    const body = await readJsonBody(c, CasBody);
    const expected = body.expected ?? null;
    const command = {
      op: 'cas' as const,
      key: at('field "key"', () => encodeKey(body.key)),
      expected: at('field "expected"', () => encodeExpected(expected)),
      value: body.value === null ? null : at('field "value"', () => encodeValue(body.value)),
    };
    at('cas', () => encodeCommand(command));
    const outcome = await tables.cas(name, body.key, expected, body.value, call(c));
    if (!outcome.ok) throw mismatch(outcome, 'cas');
    return c.json({ ok: true, key: body.key, version: outcome.version });
  });

  app.post('/:table/batch', guard, async (c) => {
    const name = table(c);
    const { ops } = await readJsonBody(c, BatchBody);
    const encoded = ops.map((op, i): EncodedOp => {
      const field = (f: string) => `field "ops.${i}.${f}"`;
      const k = at(field('key'), () => encodeKey(op.key));
      switch (op.op) {
        case 'put':
          return { op: 'put', key: k, value: at(field('value'), () => encodeValue(op.value)) };
        case 'delete':
          return { op: 'delete', key: k };
        case 'cas':
          return { op: 'cas', key: k, expected: at(field('expected'), () => encodeExpected(op.expected)), value: op.value === null ? null : at(field('value'), () => encodeValue(op.value)) };
        case 'check':
          return { op: 'check', key: k, expected: at(field('expected'), () => encodeExpected(op.expected)) };
      }
    });
    at('batch', () => encodeCommand({ op: 'batch', ops: encoded }));
    const batch = ops.map((op): BatchOp<unknown> => {
      switch (op.op) {
        case 'put':
          return { op: 'put', key: op.key, value: op.value };
        case 'delete':
          return { op: 'delete', key: op.key };
        case 'cas':
          return { op: 'cas', key: op.key, expected: op.expected ?? null, value: op.value };
        case 'check':
          return { op: 'check', key: op.key, expected: op.expected ?? null };
      }
    });
    const outcome = await tables.batch(name, batch, call(c));
    if (!outcome.ok) throw mismatch(outcome, `batch operation ${outcome.failed}`);
    return c.json({ ok: true, version: outcome.version });
  });

  app.get('/:table/scan', async (c) => {
    const name = table(c);
    const consistency = consistencyOf(c);
    const query = check(ScanQuery, c.req.query());
    const options: TableScanOptions = { ...call(c), consistency };
    if (query.prefix !== undefined && query.prefix !== '') options.prefix = at('query parameter "prefix"', () => (encodeKey(query.prefix!), query.prefix!));
    if (query.start !== undefined && query.start !== '') options.start = at('query parameter "start"', () => (encodeKey(query.start!), query.start!));
    if (query.end !== undefined && query.end !== '') options.end = at('query parameter "end"', () => (encodeKey(query.end!), query.end!));
    if (options.prefix !== undefined && (options.start !== undefined || options.end !== undefined)) {
      throw new BadRequestError('a scan takes a prefix or a start/end range, not both');
    }
    if (query.limit !== undefined) options.limit = query.limit;
    if (query.cursor !== undefined) options.cursor = query.cursor;
    const page = await tables.scan(name, options);
    return c.json({ items: page.items, cursor: page.cursor }, 200, READ_HEADERS(consistency));
  });

  return app;
}
