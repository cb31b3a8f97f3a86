/**
 * The replicated commands of a table partition, their encoding, and the
 * documented limits of tables.
 *
 * A command is what one Raft entry of a partition group carries: a put, a
 * delete, a compare-and-set, or a batch of those applied atomically. Keys are
 * non-empty strings, carried as their UTF-8 bytes (the order of a scan is
 * the order of those bytes); values are anything msgpackr encodes, carried
 * as their msgpack bytes, so the state machine stores and compares bytes and
 * never decodes a value.
 *
 * Wire form (msgpack, positional so it stays small and stable):
 *
 *   [1, 'p', key, value]               put
 *   [1, 'd', key]                      delete
 *   [1, 'c', key, expected, value]     cas: expected null = the key is absent; value null = delete
 *   [1, 'k', key, expected]            check: a cas condition without a write (in batches)
 *   [1, 'b', [['p', key, value], …]]   batch of the four above, without the format
 *   [1, 'm', [command bytes, …]]       several independent commands coalesced into one entry
 *                                      (coalescer.ts), each encoded as above; each applies on its
 *                                      own, in order, and gets its own result
 *
 * Two checks, at two places, on purpose:
 * - `encodeCommand` (propose time, on the proposing node) enforces the
 *   limits and throws typed errors (KeyTooLargeError, ValueTooLargeError,
 *   BatchTooLargeError, BadRequestError) that say what to do.
 * - `decodeCommand` (apply time, on every replica) checks only the shape and
 *   returns a malformed command as data, never a throw: apply must be
 *   deterministic and a throw there crashes the host. It deliberately does
 *   not re-check the size limits: an entry is already in the log, and a
 *   release that changed a limit would otherwise apply the same committed
 *   entry differently from a replica running the previous release.
 */

import { Packr } from 'msgpackr';
import { BadRequestError, BatchTooLargeError, KeyTooLargeError, ValueTooLargeError } from '../errors.js';

/** Version of the command encoding; a replica refuses (as data) an entry of a format it does not know. */
export const TABLE_COMMAND_FORMAT = 1;

/**
 * Largest key, in UTF-8 bytes. @default 1 KiB: keys are copied into every
 * B-tree page and scan cursor; lmdb-js caps a stored key at 1978 bytes, and
 * the stored key is the group id (at most MAX_GROUP_ID_BYTES) and a zero byte
 * in front of this one.
 */
export const MAX_KEY_BYTES = 1024;

/**
 * Largest value, encoded (msgpack), in bytes. @default 1 MiB: the Raft
 * append of one entry fits the leader's per-append budget
 * (`maxBytesPerAppend`, 1 MiB) and stays far below the transport's 8 MiB
 * frame limit (CLUSTER_MAX_FRAME_BYTES).
 */
export const MAX_VALUE_BYTES = 1024 * 1024;

/** Most operations in one batch. @default 128: one batch is one Raft entry, applied in one go while every other group waits. */
export const MAX_BATCH_OPS = 128;

/**
 * Largest encoded command (one Raft entry), in bytes. @default 3 MiB: a
 * cas with the largest expected and new values fits (2 MiB plus the key),
 * and the host cuts a peer's frame once it holds 4 MiB, so a frame carrying
 * one more entry of this size stays under the 8 MiB frame limit.
 */
export const MAX_COMMAND_BYTES = 3 * 1024 * 1024;

/** Keys, values and expected values as they travel and are stored: bytes. */
export type PutOp = { op: 'put'; key: Uint8Array; value: Uint8Array };
export type DeleteOp = { op: 'delete'; key: Uint8Array };
/** Writes `value` (null: deletes) if the key's current value is `expected` (null: the key is absent). */
export type CasOp = { op: 'cas'; key: Uint8Array; expected: Uint8Array | null; value: Uint8Array | null };
/** A condition only: the batch applies if the key's current value is `expected` (null: absent). */
export type CheckOp = { op: 'check'; key: Uint8Array; expected: Uint8Array | null };
export type BatchOp = PutOp | DeleteOp | CasOp | CheckOp;
export type BatchCommand = { op: 'batch'; ops: BatchOp[] };
export type TableCommand = PutOp | DeleteOp | CasOp | BatchCommand;
/** Independent commands in one entry (a multi never nests): applied in order, one result each. */
export type MultiCommand = { op: 'multi'; commands: (TableCommand | MalformedCommand)[] };

/** A command that `decodeCommand` could not read: returned as data and answered as ERR_BAD_REQUEST. */
export interface MalformedCommand {
  op: 'malformed';
  reason: string;
}

/**
 * Plain msgpack: no records or structures (whose encoding depends on what the
 * packer saw before), so equal inputs give equal bytes on every node and
 * other msgpack implementations can read values.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

const OP_TAGS = { put: 'p', delete: 'd', cas: 'c', check: 'k' } as const;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// ---- Keys and values (propose time) ----

/**
 * A key's bytes: its UTF-8 encoding. Refuses an empty key, a key with a lone
 * surrogate (two such strings would encode to the same bytes), and a key over
 * MAX_KEY_BYTES.
 */
export function encodeKey(key: string): Uint8Array {
  if (typeof key !== 'string') throw new BadRequestError(`a key must be a string, got ${typeof key}`);
  if (key.length === 0) throw new BadRequestError('a key must not be empty');
  if (LONE_SURROGATE.test(key)) throw new BadRequestError('a key must be well-formed Unicode (it has a lone surrogate)');
  const bytes = utf8.encode(key);
  if (bytes.byteLength > MAX_KEY_BYTES) throw new KeyTooLargeError(MAX_KEY_BYTES, bytes.byteLength);
  return bytes;
}

/** The key a stored key's bytes stand for (they were checked to be UTF-8 when proposed). */
export function decodeKey(bytes: Uint8Array): string {
  return utf8Strict.decode(bytes);
}

/**
 * A value's msgpack bytes. Refuses `undefined` and `null` (null means
 * "absent" in a cas: delete a key instead of storing null) and values over
 * MAX_VALUE_BYTES.
 */
export function encodeValue(value: unknown): Uint8Array {
  if (value === undefined || value === null) throw new BadRequestError('a value must not be null or undefined: null stands for an absent key; delete the key instead');
  let bytes: Uint8Array;
  try {
    bytes = packr.pack(value);
  } catch (err) {
    throw new BadRequestError(`the value cannot be encoded with msgpack: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (bytes.byteLength > MAX_VALUE_BYTES) throw new ValueTooLargeError(MAX_VALUE_BYTES, bytes.byteLength);
  return bytes;
}

/** An expected value of a cas: null and undefined both mean the key is absent. */
export function encodeExpected(value: unknown): Uint8Array | null {
  return value === undefined || value === null ? null : encodeValue(value);
}

export function decodeValue<V = unknown>(bytes: Uint8Array): V {
  return packr.unpack(bytes) as V;
}

// ---- Commands ----

function opTuple(op: BatchOp): unknown[] {
  switch (op.op) {
    case 'put':
      return [OP_TAGS.put, op.key, op.value];
    case 'delete':
      return [OP_TAGS.delete, op.key];
    case 'cas':
      return [OP_TAGS.cas, op.key, op.expected, op.value];
    case 'check':
      return [OP_TAGS.check, op.key, op.expected];
  }
}

function checkOpLimits(op: BatchOp): void {
  if (!(op.key instanceof Uint8Array) || op.key.byteLength === 0) throw new BadRequestError(`a ${op.op} needs a non-empty key`);
  if (op.key.byteLength > MAX_KEY_BYTES) throw new KeyTooLargeError(MAX_KEY_BYTES, op.key.byteLength);
  for (const v of [op.op === 'put' || op.op === 'cas' ? op.value : null, op.op === 'cas' || op.op === 'check' ? op.expected : null]) {
    if (v !== null && v.byteLength > MAX_VALUE_BYTES) throw new ValueTooLargeError(MAX_VALUE_BYTES, v.byteLength);
  }
}

/**
 * The entry data of `command`, after enforcing the limits (propose time).
 * @throws KeyTooLargeError, ValueTooLargeError, BatchTooLargeError, BadRequestError
 */
export function encodeCommand(command: TableCommand): Uint8Array {
  let tuple: unknown[];
  if (command.op === 'batch') {
    if (command.ops.length === 0) throw new BadRequestError('a batch needs at least one operation');
    if (command.ops.length > MAX_BATCH_OPS) throw new BatchTooLargeError('operations', MAX_BATCH_OPS, command.ops.length);
    command.ops.forEach(checkOpLimits);
    tuple = [TABLE_COMMAND_FORMAT, 'b', command.ops.map(opTuple)];
  } else {
    checkOpLimits(command);
    tuple = [TABLE_COMMAND_FORMAT, ...opTuple(command)];
  }
  const bytes = packr.pack(tuple);
  if (bytes.byteLength > MAX_COMMAND_BYTES) throw new BatchTooLargeError('bytes', MAX_COMMAND_BYTES, bytes.byteLength);
  return bytes;
}

/** The entry data of several commands, each already encoded by `encodeCommand`, applied in order with a result each. */
export function encodeMulti(commands: readonly Uint8Array[]): Uint8Array {
  if (commands.length < 2) throw new BadRequestError('a multi-command entry carries at least two commands');
  const bytes = packr.pack([TABLE_COMMAND_FORMAT, 'm', commands]);
  if (bytes.byteLength > MAX_COMMAND_BYTES) throw new BatchTooLargeError('bytes', MAX_COMMAND_BYTES, bytes.byteLength);
  return bytes;
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isKey = (v: unknown): v is Uint8Array => isBytes(v) && v.byteLength > 0;
const isBytesOrNull = (v: unknown): v is Uint8Array | null => v === null || isBytes(v);

/** One op of the wire form (without the format), or the reason it is malformed. */
function decodeOp(t: unknown): BatchOp | string {
  if (!Array.isArray(t)) return 'an operation is not a list';
  const [tag, key, a, b] = t as unknown[];
  if (!isKey(key)) return `operation ${JSON.stringify(tag)} has no key bytes`;
  switch (tag) {
    case OP_TAGS.put:
      return t.length === 3 && isBytes(a) ? { op: 'put', key, value: a } : 'a put needs a key and value bytes';
    case OP_TAGS.delete:
      return t.length === 2 ? { op: 'delete', key } : 'a delete takes only a key';
    case OP_TAGS.cas:
      return t.length === 4 && isBytesOrNull(a) && isBytesOrNull(b) ? { op: 'cas', key, expected: a, value: b } : 'a cas needs a key, expected bytes or null, and value bytes or null';
    case OP_TAGS.check:
      return t.length === 3 && isBytesOrNull(a) ? { op: 'check', key, expected: a } : 'a check needs a key and expected bytes or null';
    default:
      return `unknown operation ${JSON.stringify(tag)}`;
  }
}

/**
 * The command an entry carries, or why it is malformed (apply time). Never
 * throws, and depends on nothing but `data`: every replica decides alike.
 */
export function decodeCommand(data: Uint8Array): TableCommand | MultiCommand | MalformedCommand {
  const command = decodeOne(data);
  if (!Array.isArray(command)) return command;
  if (command.length < 2) return { op: 'malformed', reason: 'a multi-command entry needs at least two commands' };
  const commands: (TableCommand | MalformedCommand)[] = [];
  for (const inner of command) {
    const decoded = isBytes(inner) ? decodeOne(inner) : ({ op: 'malformed', reason: 'a command of a multi-command entry is not bytes' } as const);
    commands.push(Array.isArray(decoded) ? { op: 'malformed', reason: 'a multi-command entry cannot nest' } : decoded);
  }
  return { op: 'multi', commands };
}

/** One command, or the list of command bytes of a multi-command entry. */
function decodeOne(data: Uint8Array): TableCommand | MalformedCommand | unknown[] {
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch {
    return { op: 'malformed', reason: 'the entry is not msgpack' };
  }
  if (!Array.isArray(raw) || raw.length < 2) return { op: 'malformed', reason: 'the entry is not a command list' };
  if (raw[0] !== TABLE_COMMAND_FORMAT) return { op: 'malformed', reason: `unknown command format ${JSON.stringify(raw[0])} (this node reads ${TABLE_COMMAND_FORMAT})` };
  if (raw[1] === 'm') return raw.length === 3 && Array.isArray(raw[2]) ? (raw[2] as unknown[]) : { op: 'malformed', reason: 'a multi-command entry needs a list of commands' };
  if (raw[1] === 'b') {
    if (raw.length !== 3 || !Array.isArray(raw[2]) || raw[2].length === 0) return { op: 'malformed', reason: 'a batch needs a non-empty list of operations' };
    const ops: BatchOp[] = [];
    for (const t of raw[2] as unknown[]) {
      const op = decodeOp(t);
      if (typeof op === 'string') return { op: 'malformed', reason: `in a batch: ${op}` };
      ops.push(op);
    }
    return { op: 'batch', ops };
  }
  const op = decodeOp(raw.slice(1));
  if (typeof op === 'string') return { op: 'malformed', reason: op };
  if (op.op === 'check') return { op: 'malformed', reason: 'a check is only valid inside a batch' };
  return op;
}
