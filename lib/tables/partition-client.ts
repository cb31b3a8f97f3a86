/**
 * The operations of one table partition on this node, over the multi-Raft
 * host: writes are encoded (limits enforced here, before anything is
 * proposed) and proposed to the partition's group; reads run on the state
 * machine through the host's ReadIndex `read`, so they are linearizable.
 *
 * Over the local host handle this node must hold a replica and a follower
 * refuses writes with NotLeaderError and the leader hint. Over a RaftRouter
 * (lib/raft/forwarding.ts) writes and reads go to the partition's leader from
 * any node; a forwarded write whose answer was lost fails with
 * OutcomeUnknownError.
 * Every call takes `timeoutMs` and `signal`; a write that times out, is
 * aborted or whose host crashed has an unknown outcome (TimeoutError,
 * AbortError, OutcomeUnknownError): it may still apply. Puts and deletes are
 * idempotent, so retrying them is safe; a retried cas may report a mismatch
 * against its own earlier success.
 *
 * Values are encoded with msgpack and decoded on the way out (`V` is what
 * the caller stores; nothing checks it at run time).
 */

import { BadRequestError, TroupeError } from '../errors.js';
import type { RequestOptions } from '../raft/requests.js';
import type { StateMachine } from '../raft/state-machine.js';
import { Coalescer } from './coalescer.js';
import { decodeKey, decodeValue, encodeCommand, encodeExpected, encodeKey, encodeMulti, encodeValue, type BatchOp as EncodedOp, type TableCommand } from './commands.js';
import { PartitionStateMachine, type ApplyResult, type ScanRange, type Versioned as StoredVersioned } from './partition-state-machine.js';

/**
 * What the client needs of the raft host: the local host handle
 * (actors/raft-host-actor.ts; this node must hold the replica, and a follower
 * refuses writes), or a router (lib/raft/forwarding.ts) that sends writes and
 * named queries to the leader from any node. With `query`, reads use the
 * named PARTITION_QUERIES (registered on every node's router) instead of a
 * local closure.
 */
export interface RaftGroupAccess {
  propose(group: string, command: Uint8Array, options?: RequestOptions): Promise<unknown>;
  read?<T>(group: string, fn: (sm: StateMachine) => T, options?: RequestOptions): Promise<T>;
  query?<T>(group: string, name: string, arg: unknown, options?: RequestOptions): Promise<T>;
}

/** The reads of a partition by name, for a router's `queries` (the argument and the result travel as msgpack). */
export const PARTITION_QUERIES = {
  'table.get': (sm: StateMachine, key: unknown) => partitionOf(sm).get(key as Uint8Array),
  /** The gets of one turn, coalesced (coalescer.ts): one answer per key, in order. */
  'table.get-many': (sm: StateMachine, keys: unknown) => (Array.isArray(keys) ? keys : []).map((key) => partitionOf(sm).get(key as Uint8Array)),
  'table.scan': (sm: StateMachine, range: unknown) => partitionOf(sm).scan(range as ScanRange),
} as const;

export interface Versioned<V> {
  value: V;
  /** The Raft index of the entry that wrote the value. */
  version: number;
}

export interface Item<V> extends Versioned<V> {
  key: string;
}

/** A cas or batch whose condition failed: nothing was written. `current` is what the key holds (null: absent). */
export interface Mismatch<V> {
  ok: false;
  /** Position of the failed condition in the batch (0 for a cas). */
  failed: number;
  key: string;
  current: Versioned<V> | null;
}

export type WriteOutcome<V> = { ok: true; version: number } | Mismatch<V>;

/** Operations of a batch: applied together or not at all; every cas and check is tested against the state before the batch. */
export type BatchOp<V> =
  | { op: 'put'; key: string; value: V }
  | { op: 'delete'; key: string }
  /** `expected` null or undefined: the key must be absent; `value` null: delete it. */
  | { op: 'cas'; key: string; expected: V | null | undefined; value: V | null }
  | { op: 'check'; key: string; expected: V | null | undefined };

/** A prefix, or a range [start, end) with either bound open; `cursor` continues an earlier page of the same scan. */
export interface ScanOptions extends RequestOptions {
  prefix?: string;
  start?: string;
  end?: string;
  /** @default 100, at most 1000 (MAX_SCAN_LIMIT) */
  limit?: number;
  cursor?: string;
}

export interface ScanPage<V> {
  items: Item<V>[];
  /** Pass it back as `cursor` for the next page; null once the scan is complete. */
  cursor: string | null;
}

const CURSOR_PREFIX = 'c1.';

/** An opaque cursor: the last key returned, base64url. */
export function encodeCursor(lastKey: Uint8Array): string {
  return CURSOR_PREFIX + Buffer.from(lastKey).toString('base64url');
}

export function decodeCursor(cursor: string): Uint8Array {
  const body = cursor.startsWith(CURSOR_PREFIX) ? cursor.slice(CURSOR_PREFIX.length) : '';
  const bytes = /^[A-Za-z0-9_-]+$/.test(body) ? Buffer.from(body, 'base64url') : Buffer.alloc(0);
  if (bytes.byteLength === 0) throw new BadRequestError('malformed scan cursor: pass back the cursor a previous scan page returned, unchanged');
  return new Uint8Array(bytes);
}

function partitionOf(sm: StateMachine): PartitionStateMachine {
  if (!(sm instanceof PartitionStateMachine)) throw new TroupeError('ERR_INTERNAL', 'the raft group is not a table partition');
  return sm;
}

/** A range bound as key bytes: the bound of a scan is not a stored key, but it is held to the same rules. */
const boundBytes = (key: string | undefined): Uint8Array | undefined => (key === undefined || key === '' ? undefined : encodeKey(key));

/** A key's identity in a coalesced batch (its bytes, one char per byte). */
const keyId = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

export class PartitionClient<V = unknown> {
  /** The writes of a turn: one entry (a multi-command one when there are several). */
  private readonly writes: Coalescer<Uint8Array, ApplyResult>;
  /** The gets of a turn: one linearizable read of all their keys. */
  private readonly gets: Coalescer<Uint8Array, StoredVersioned | null>;

  constructor(private readonly raft: RaftGroupAccess, readonly group: string) {
    this.writes = new Coalescer({ what: `write to table partition ${group}`, isWrite: true, send: (commands, options) => this.proposeAll(commands, options) });
    this.gets = new Coalescer({ what: `read of table partition ${group}`, isWrite: false, send: (keys, options) => this.run<(StoredVersioned | null)[]>('table.get-many', keys, options) });
  }

  /** Requests submitted and batches sent by this node (their ratio is the coalescing factor). */
  coalescing(): { writes: { requests: number; batches: number }; gets: { requests: number; batches: number } } {
    return { writes: { ...this.writes.stats }, gets: { ...this.gets.stats } };
  }

  async get(key: string, options: RequestOptions = {}): Promise<Versioned<V> | null> {
    const k = encodeKey(key);
    const found = await this.gets.submit({ item: k, bytes: k.byteLength, keys: [] }, options);
    return found === null ? null : this.decode(found);
  }

  async put(key: string, value: V, options: RequestOptions = {}): Promise<{ version: number }> {
    const result = await this.write({ op: 'put', key: encodeKey(key), value: encodeValue(value) }, options);
    return { version: this.expectOk(result).version };
  }

  /** Deletes `key`; `existed` says whether it held a value. */
  async delete(key: string, options: RequestOptions = {}): Promise<{ version: number; existed: boolean }> {
    const result = this.expectOk(await this.write({ op: 'delete', key: encodeKey(key) }, options));
    return { version: result.version, existed: result.existed === true };
  }

  /** Sets `key` to `value` (null: deletes it) if it holds `expected` (null or undefined: if it is absent). */
  async cas(key: string, expected: V | null | undefined, value: V | null, options: RequestOptions = {}): Promise<WriteOutcome<V>> {
    const command: TableCommand = { op: 'cas', key: encodeKey(key), expected: encodeExpected(expected), value: value === null ? null : encodeValue(value) };
    return this.outcome(await this.write(command, options), [key]);
  }

  /** Applies every operation or none (limits: MAX_BATCH_OPS operations, MAX_COMMAND_BYTES in all). */
  async batch(ops: BatchOp<V>[], options: RequestOptions = {}): Promise<WriteOutcome<V>> {
    const encoded = ops.map((op): EncodedOp => {
      const key = encodeKey(op.key);
      switch (op.op) {
        case 'put':
          return { op: 'put', key, value: encodeValue(op.value) };
        case 'delete':
          return { op: 'delete', key };
        case 'cas':
          return { op: 'cas', key, expected: encodeExpected(op.expected), value: op.value === null ? null : encodeValue(op.value) };
        case 'check':
          return { op: 'check', key, expected: encodeExpected(op.expected) };
        default:
          throw new BadRequestError(`unknown batch operation ${JSON.stringify((op as { op: unknown }).op)}: use put, delete, cas or check`);
      }
    });
    return this.outcome(await this.write({ op: 'batch', ops: encoded }, options), ops.map((op) => op.key));
  }

  /** One page of keys in UTF-8 byte order; follow `cursor` until it is null. */
  async scan(options: ScanOptions = {}): Promise<ScanPage<V>> {
    if (options.prefix !== undefined && (options.start !== undefined || options.end !== undefined)) {
      throw new BadRequestError('a scan takes a prefix or a start/end range, not both');
    }
    const range: ScanRange = {};
    if (options.prefix !== undefined && options.prefix !== '') range.prefix = encodeKey(options.prefix);
    const start = boundBytes(options.start);
    const end = boundBytes(options.end);
    if (start !== undefined) range.start = start;
    if (end !== undefined) range.end = end;
    if (options.cursor !== undefined) range.after = decodeCursor(options.cursor);
    if (options.limit !== undefined) {
      if (!Number.isInteger(options.limit) || options.limit < 1) throw new BadRequestError(`scan limit must be a positive integer, got ${String(options.limit)}`);
      range.limit = options.limit;
    }
    const { signal, timeoutMs } = options;
    const page = await this.run<ReturnType<PartitionStateMachine['scan']>>('table.scan', range, { ...(signal ? { signal } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    return {
      items: page.items.map((e) => ({ key: decodeKey(e.key), ...this.decode(e) })),
      cursor: page.last === null ? null : encodeCursor(page.last),
    };
  }

  // ---- Helpers ----

  /** A named partition query: through the router when there is one (any node), else on the local replica. */
  private run<T>(name: keyof typeof PARTITION_QUERIES, arg: unknown, options: RequestOptions): Promise<T> {
    if (this.raft.query !== undefined) return this.raft.query<T>(this.group, name, arg, options);
    if (this.raft.read === undefined) throw new TroupeError('ERR_INTERNAL', 'the raft access of a partition client has neither query nor read');
    const fn = PARTITION_QUERIES[name];
    return this.raft.read(this.group, (sm) => fn(sm, arg) as T, options);
  }

  private write(command: TableCommand, options: RequestOptions): Promise<ApplyResult> {
    const data = encodeCommand(command);
    const keys = command.op === 'batch' ? command.ops.map((op) => keyId(op.key)) : [keyId(command.key)];
    return this.writes.submit({ item: data, bytes: data.byteLength, keys }, options);
  }

  /** One entry for the commands of a turn: the command itself when alone, else a multi-command entry with a result per command. */
  private async proposeAll(commands: Uint8Array[], options: RequestOptions): Promise<ApplyResult[]> {
    if (commands.length === 1) return [(await this.raft.propose(this.group, commands[0]!, options)) as ApplyResult];
    const results = await this.raft.propose(this.group, encodeMulti(commands), options);
    if (!Array.isArray(results) || results.length !== commands.length) throw new TroupeError('ERR_INTERNAL', `table partition ${this.group} answered a multi-command entry of ${commands.length} with ${Array.isArray(results) ? results.length : 'no'} results`);
    return results as ApplyResult[];
  }

  private expectOk(result: ApplyResult): { version: number; existed?: boolean } {
    if (result.ok) return result;
    if (result.reason === 'malformed') throw new BadRequestError(result.message);
    throw new TroupeError('ERR_INTERNAL', `table partition ${this.group} answered an unconditional write with a mismatch`);
  }

  private outcome(result: ApplyResult, keys: string[]): WriteOutcome<V> {
    if (result.ok) return { ok: true, version: result.version };
    if (result.reason === 'malformed') throw new BadRequestError(result.message);
    return { ok: false, failed: result.failed, key: keys[result.failed]!, current: result.current === null ? null : this.decode(result.current) };
  }

  private decode(stored: StoredVersioned): Versioned<V> {
    return { value: decodeValue<V>(stored.value), version: stored.version };
  }
}
