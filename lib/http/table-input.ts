/**
 * Input of the `/api/tables` routes, checked completely before the tables
 * are called: the shapes (zod schemas, 400 naming the field), then the key,
 * value and batch limits by the very encoders a partition applies at propose
 * time (lib/tables/commands.ts, 413 naming the field and the limit). A
 * request refused here has changed nothing.
 */
import type { Context } from 'hono';
import { BadRequestError, LimitExceededError } from '../errors.js';
import { encodeCommand, encodeExpected, encodeKey, encodeValue, type BatchOp as EncodedOp } from '../tables/commands.js';
import { MAX_SCAN_LIMIT } from '../tables/partition-state-machine.js';
import {
  MAX_PARTITIONS,
  MAX_REPLICATION_FACTOR,
  MAX_TABLE_NAME_LENGTH,
  TABLE_NAME_PATTERN,
  type BatchOp,
  type CreateTableOptions,
  type ReadConsistency,
  type TableScanOptions,
} from '../tables/tables-api.js';
import { check, lazySchema, type Output, type Zod } from './validate.js';

/** Longest scan cursor accepted, characters: a base64url key of MAX_KEY_BYTES and its prefix fit. */
const MAX_CURSOR_LENGTH = 2048;

// The schemas are built on first use (validate.ts, lazySchema); `zod` is the zod namespace then.
const tableName = (zod: Zod) =>
  zod
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'must not be empty')
    .max(MAX_TABLE_NAME_LENGTH, `must be at most ${MAX_TABLE_NAME_LENGTH} characters`)
    .regex(TABLE_NAME_PATTERN, 'must start with a letter and hold only letters, digits, "_", "." and "-"');

const positiveInt = (zod: Zod, max: number) =>
  zod.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

export const CreateBody = lazySchema((zod) =>
  zod.strictObject(
    { name: tableName(zod), partitions: positiveInt(zod, MAX_PARTITIONS).optional(), replicationFactor: positiveInt(zod, MAX_REPLICATION_FACTOR).optional() },
    { error: 'request body must be a JSON object like {"name":"users","partitions":8,"replicationFactor":3}' },
  ),
);

const TableParam = lazySchema((zod) => zod.object({ table: tableName(zod) }));

/** A JSON value that must be present (null allowed: the encoders decide what null means where). */
const present = (zod: Zod) => zod.custom<unknown>((v) => v !== undefined, { error: 'is required (null allowed)' });
const keyField = (zod: Zod) => zod.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') });

/** Both fields are required: a forgotten `expected` must not silently mean "absent". */
export const CasBody = lazySchema((zod) =>
  zod.strictObject(
    { expected: present(zod), value: present(zod) },
    { error: 'request body must be a JSON object like {"expected":<JSON, or null for absent>,"value":<JSON, or null to delete>}' },
  ),
);

const batchOp = (zod: Zod) =>
  zod.discriminatedUnion(
    'op',
    [
      zod.strictObject({ op: zod.literal('put'), key: keyField(zod), value: present(zod) }),
      zod.strictObject({ op: zod.literal('delete'), key: keyField(zod) }),
      zod.strictObject({ op: zod.literal('cas'), key: keyField(zod), expected: zod.unknown().optional(), value: present(zod) }),
      zod.strictObject({ op: zod.literal('check'), key: keyField(zod), expected: zod.unknown().optional() }),
    ],
    { error: 'must be one of "put", "delete", "cas", "check" (each operation is an object {"op": …, "key": …})' },
  );

export const BatchBody = lazySchema((zod) =>
  zod.strictObject(
    { ops: zod.array(batchOp(zod), { error: 'must be an array of operations' }).min(1, 'must hold at least one operation') },
    { error: 'request body must be a JSON object like {"ops":[{"op":"put","key":"k","value":1}]}' },
  ),
);

const ScanQuery = lazySchema((zod) =>
  zod.strictObject(
    {
      prefix: zod.string().optional(),
      start: zod.string().optional(),
      end: zod.string().optional(),
      limit: zod
        .string()
        .regex(/^[0-9]{1,9}$/, 'must be a positive integer')
        .transform(Number)
        .pipe(zod.number().min(1, 'must be at least 1').max(MAX_SCAN_LIMIT, `must be at most ${MAX_SCAN_LIMIT}`))
        .optional(),
      cursor: zod.string().min(1, 'must not be empty').max(MAX_CURSOR_LENGTH, `must be at most ${MAX_CURSOR_LENGTH} characters`).optional(),
    },
    { error: 'a scan takes the query parameters prefix, start, end, limit and cursor' },
  ),
);

/**
 * Runs an encoder (which throws BadRequestError or a LimitExceededError) and
 * prefixes what it reports with where the faulty input was.
 */
export function at<T>(where: string, encode: () => T): T {
  try {
    return encode();
  } catch (err) {
    if (err instanceof LimitExceededError) throw new LimitExceededError(err.limit, err.actual, `${where}: ${err.message}`);
    if (err instanceof BadRequestError) throw new BadRequestError(`${where}: ${err.message}`);
    throw err;
  }
}

/**
 * The `:table` path parameter, checked against the naming rule. A name that
 * matches TABLE_NAME_PATTERN passes every rule of TableParam (the pattern
 * bounds the length too), so only a bad name goes through the schema, which
 * words the 400: reads and writes of keys never load zod.
 */
export function tableParam(c: Context): string {
  const table = c.req.param('table');
  if (table !== undefined && TABLE_NAME_PATTERN.test(table)) return table;
  return check(TableParam, { table }).table;
}

/** The `:key` path parameter (URL-decoded), checked against the key limits. */
export function keyParam(c: Context): string {
  const key = c.req.param('key') ?? '';
  at('path parameter "key"', () => encodeKey(key));
  return key;
}

/** The consistency a read asked for with `X-Consistency`; any other value is a 400. */
export function consistencyOf(c: Context): ReadConsistency {
  const header = c.req.header('x-consistency');
  if (header === undefined) return 'linearizable';
  const value = header.trim().toLowerCase();
  if (value === 'stale' || value === 'linearizable') return value;
  throw new BadRequestError(`header X-Consistency must be "stale" or "linearizable", got ${JSON.stringify(header)}`);
}

/** The options of a create, with absent fields left out so the tables apply their defaults. */
export function createOptions(body: Output<typeof CreateBody>): CreateTableOptions {
  const options: CreateTableOptions = {};
  if (body.partitions !== undefined) options.partitions = body.partitions;
  if (body.replicationFactor !== undefined) options.replicationFactor = body.replicationFactor;
  return options;
}

/** A PUT body is the value itself: any JSON but null, within the value limit. */
export function checkPutValue(table: string, key: string, value: unknown): void {
  if (value === null) {
    throw new BadRequestError(
      `request body is null, and a key cannot hold null (null stands for an absent key): to remove the key, send DELETE /api/tables/${table}/keys/${encodeURIComponent(key)}`,
    );
  }
  at('request body', () => encodeValue(value));
}

/** A cas on `key`, within the key, value and command limits. */
export function checkCas(key: string, body: Output<typeof CasBody>): void {
  const command = {
    op: 'cas' as const,
    key: encodeKey(key),
    expected: at('field "expected"', () => encodeExpected(body.expected)),
    value: body.value === null ? null : at('field "value"', () => encodeValue(body.value)),
  };
  at('cas', () => encodeCommand(command));
}

type BatchInput = Output<typeof BatchBody>['ops'];

/** The operations of a batch, checked one by one and as one command; faults name `ops.<i>.<field>`. */
export function batchOps(ops: BatchInput): BatchOp<unknown>[] {
  const encoded = ops.map((op, i) => encodeBatchOp(op, (field) => `field "ops.${i}.${field}"`));
  at('batch', () => encodeCommand({ op: 'batch', ops: encoded }));
  return ops.map((op): BatchOp<unknown> => {
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
}

function encodeBatchOp(op: BatchInput[number], field: (name: string) => string): EncodedOp {
  const key = at(field('key'), () => encodeKey(op.key));
  switch (op.op) {
    case 'put':
      return { op: 'put', key, value: at(field('value'), () => encodeValue(op.value)) };
    case 'delete':
      return { op: 'delete', key };
    case 'cas':
      return { op: 'cas', key, expected: at(field('expected'), () => encodeExpected(op.expected)), value: op.value === null ? null : at(field('value'), () => encodeValue(op.value)) };
    case 'check':
      return { op: 'check', key, expected: at(field('expected'), () => encodeExpected(op.expected)) };
  }
}

/** The scan options of a query: a prefix, or a start/end range, each within the key limit. */
export function scanOptions(c: Context): TableScanOptions {
  const query = check(ScanQuery, c.req.query());
  const options: TableScanOptions = {};
  for (const bound of ['prefix', 'start', 'end'] as const) {
    const value = query[bound];
    if (value !== undefined && value !== '') options[bound] = at(`query parameter "${bound}"`, () => (encodeKey(value), value));
  }
  if (options.prefix !== undefined && (options.start !== undefined || options.end !== undefined)) {
    throw new BadRequestError('a scan takes a prefix or a start/end range, not both');
  }
  if (query.limit !== undefined) options.limit = query.limit;
  if (query.cursor !== undefined) options.cursor = query.cursor;
  return options;
}
