/**
 * The state machine of one table partition (one Raft group): a sorted map
 * from key bytes to value bytes, each value stored with its version, the Raft
 * index of the entry that wrote it.
 *
 * Storage: every partition on a node shares one named database,
 * `troupe-tables`, with binary keys and values (LMDB caps named databases, so
 * never one per partition; RAFT-NOTES §12). A stored key is
 * `<group id UTF-8> 0x00 <key bytes>`: group ids contain no zero byte, so a
 * partition's keys are exactly the range [`group 0x00`, `group 0x01`), and
 * within it LMDB's byte order is the order of the key bytes. A stored value
 * is a record: one format byte, the version as 8 bytes big-endian, then the
 * value's msgpack bytes as proposed (the state machine never decodes them).
 *
 * Apply (lib/raft/state-machine.ts): runs in the host's write transaction,
 * in a child transaction, and writes only with `putSync`/`removeSync`, so
 * the partition's data and the group's applied index commit together. It is
 * deterministic: its result and writes depend only on the entry and the
 * stored bytes (a malformed command is answered as data, the same on every
 * replica; nothing in apply throws on input). A batch checks every cas and
 * check condition against the state before the batch, then writes all of its
 * operations in order, or none.
 *
 * Reads (`get`, `scan`) read committed state: the host calls them through
 * `RaftHost.read` once the applied index reached a linearizable read point.
 *
 * Change feed (the seam for watches): `onApplied` listeners hear every write
 * an entry made, with its version, during apply. The entry is committed in
 * Raft, so a change is never retracted; but the local transaction commits
 * just after, so after a host crash the entry is applied again and its
 * changes repeat: listeners see changes in version order per partition, at
 * least once (deduplicate by version). A snapshot install is reported as a
 * `restore` change: the partition jumped, and a watcher must re-read it.
 *
 * Snapshots hold the whole partition in memory (built here, then sent in
 * chunks by the Raft core): partitions are assumed small, up to tens of MiB
 * (PARTITION_SIZE_ASSUMPTION_BYTES); a table that grows past that needs more
 * partitions until snapshots stream from disk.
 */

import type { Database } from 'lmdb';
import { Packr } from 'msgpackr';
import { TroupeError } from '../errors.js';
import type { Entry } from '../protocol/raft/types.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { NodeStorage } from '../storage/node-storage.js';
import { decodeCommand, type BatchOp, type MalformedCommand, type TableCommand } from './commands.js';
import { ChangeHistory } from './change-history.js';

/** The named database that holds the data of every table partition on the node. */
export const TABLES_DB_NAME = 'troupe-tables';

/** Longest group id, in UTF-8 bytes: a stored key is the group id, a zero byte and a key of up to MAX_KEY_BYTES, within lmdb-js's 1978. */
export const MAX_GROUP_ID_BYTES = 256;

/** The partition size snapshots are built for (in memory, whole): documentation, not enforced. 64 MiB. */
export const PARTITION_SIZE_ASSUMPTION_BYTES = 64 * 1024 * 1024;

/** Most items one scan page returns. @default 1000 */
export const MAX_SCAN_LIMIT = 1000;
/** Items of a scan page that names no limit. @default 100 */
export const DEFAULT_SCAN_LIMIT = 100;
/** Value bytes after which a scan page ends early (it always holds at least one item). @default 4 MiB, half the transport frame limit, so a page can later cross the network in one frame. */
export const MAX_SCAN_PAGE_BYTES = 4 * 1024 * 1024;

const RECORD_FORMAT = 1;
const RECORD_HEADER_BYTES = 9;
const SNAPSHOT_FORMAT = 1;
const snapshotPackr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
const utf8 = new TextEncoder();

/** A stored value and the Raft index of the entry that wrote it. */
export interface Versioned {
  value: Uint8Array;
  version: number;
}

export interface VersionedEntry extends Versioned {
  key: Uint8Array;
}

/**
 * What apply returns to the proposer:
 *   ok          every write applied at `version` (the entry's index); `existed` for a delete;
 *   mismatch    a cas or check condition failed (`failed`: its position in the batch, 0 for a single cas):
 *               `current` is what the key holds; nothing was written;
 *   malformed   the command could not be read; nothing was written.
 */
export type ApplyResult =
  | { ok: true; version: number; existed?: boolean }
  | { ok: false; reason: 'mismatch'; failed: number; current: Versioned | null }
  | { ok: false; reason: 'malformed'; message: string };

/** One write reported by the change feed, or a snapshot install (`restore`: re-read the partition). */
export type TableChange =
  | { op: 'put'; group: string; version: number; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; group: string; version: number; key: Uint8Array }
  | { op: 'restore'; group: string; version: number };

export type ChangeListener = (change: TableChange) => void;

type Change = Exclude<TableChange, { op: 'restore' }>;

/** A scan of key bytes: a prefix, or the range [start, end) (either bound open), resumed strictly after `after`. */
export interface ScanRange {
  prefix?: Uint8Array;
  start?: Uint8Array;
  end?: Uint8Array;
  after?: Uint8Array;
  /** @default DEFAULT_SCAN_LIMIT, at most MAX_SCAN_LIMIT */
  limit?: number;
}

export interface ScanResult {
  items: VersionedEntry[];
  /** The last key returned when more may follow; null when the range is exhausted. */
  last: Uint8Array | null;
}

export interface PartitionStats {
  applied: number;
  malformed: number;
  mismatches: number;
  listenerErrors: number;
}

function encodeRecord(version: number, value: Uint8Array): Uint8Array {
  const record = new Uint8Array(RECORD_HEADER_BYTES + value.byteLength);
  const view = new DataView(record.buffer);
  view.setUint8(0, RECORD_FORMAT);
  view.setUint32(1, Math.floor(version / 2 ** 32));
  view.setUint32(5, version >>> 0);
  record.set(value, RECORD_HEADER_BYTES);
  return record;
}

function decodeRecord(record: Uint8Array): Versioned {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (record.byteLength < RECORD_HEADER_BYTES || view.getUint8(0) !== RECORD_FORMAT) throw new TroupeError('ERR_INTERNAL', `a stored table record has an unknown format (${record.byteLength} bytes)`);
  return { version: view.getUint32(1) * 2 ** 32 + view.getUint32(5), value: copy(record, RECORD_HEADER_BYTES) };
}

/** A copy (a Buffer's `slice` would be a view into LMDB's read buffer). */
function copy(bytes: Uint8Array, from = 0): Uint8Array {
  return new Uint8Array(bytes.subarray(from));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

function concat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** The least key greater than every key starting with `prefix`, or null if there is none (all 0xff). */
function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return null;
}

export class PartitionStateMachine implements StateMachine {
  readonly stats: PartitionStats = { applied: 0, malformed: 0, mismatches: 0, listenerErrors: 0 };
  private readonly db: Database<Uint8Array, Uint8Array>;
  /** `group 0x00`: the first stored key of the partition, and the prefix of all of them. */
  private readonly lo: Buffer;
  /** `group 0x01`: just past the partition's last key. */
  private readonly hi: Buffer;
  private readonly listeners = new Set<ChangeListener>();
  /** The changes watches replay (change-history.ts). */
  readonly history: ChangeHistory;

  constructor(private readonly storage: NodeStorage, readonly group: string) {
    const id = utf8.encode(group);
    if (id.byteLength === 0 || id.byteLength > MAX_GROUP_ID_BYTES || id.includes(0)) {
      throw new TroupeError('ERR_INTERNAL', `table partition group id ${JSON.stringify(group)} must be 1 to ${MAX_GROUP_ID_BYTES} bytes without a zero byte`);
    }
    this.db = storage.openDB<Uint8Array, Uint8Array>(TABLES_DB_NAME, { encoding: 'binary', keyEncoding: 'binary' });
    this.lo = concat(id, Uint8Array.of(0));
    this.hi = concat(id, Uint8Array.of(1));
    this.history = new ChangeHistory(storage, id);
  }

  // ---- Apply (inside the host's transaction) ----

  /** A command's result; a multi-command entry's results, one per command in order. */
  apply(entry: Entry): ApplyResult | ApplyResult[] {
    const command = decodeCommand(entry.data);
    const changes: Change[] = [];
    const result = command.op === 'multi'
      ? command.commands.map((c) => this.applyOne(c, entry.index, changes))
      : this.applyOne(command, entry.index, changes);
    // One history record per version: the changes of every command of the entry.
    this.history.record(entry.index, changes.map((c) => [c.key, c.op === 'put' ? c.value : null]));
    this.emit(changes);
    return result;
  }

  private applyOne(command: TableCommand | MalformedCommand, version: number, changes: Change[]): ApplyResult {
    if (command.op === 'malformed') {
      this.stats.malformed++;
      return { ok: false, reason: 'malformed', message: `malformed table command at index ${version}: ${command.reason}` };
    }
    this.stats.applied++;
    return this.applyCommand(command, version, changes);
  }

  private applyCommand(command: TableCommand, version: number, changes: Change[]): ApplyResult {
    const ops: BatchOp[] = command.op === 'batch' ? command.ops : [command];
    // Conditions first, all against the state before the command.
    for (const [i, op] of ops.entries()) {
      if (op.op !== 'cas' && op.op !== 'check') continue;
      const current = this.get(op.key);
      const matches = op.expected === null ? current === null : current !== null && bytesEqual(current.value, op.expected);
      if (!matches) {
        this.stats.mismatches++;
        return { ok: false, reason: 'mismatch', failed: i, current };
      }
    }
    let existed = false;
    for (const op of ops) {
      if (op.op === 'check') continue;
      const key = this.storedKey(op.key);
      const value = op.op === 'delete' ? null : op.value;
      if (value === null) {
        existed = this.db.removeSync(key);
        changes.push({ op: 'delete', group: this.group, version, key: op.key });
      } else {
        this.db.putSync(key, encodeRecord(version, value));
        changes.push({ op: 'put', group: this.group, version, key: op.key, value });
      }
    }
    return command.op === 'delete' ? { ok: true, version, existed } : { ok: true, version };
  }

  private storedKey(key: Uint8Array): Buffer {
    return concat(this.lo, key);
  }

  // ---- Change feed ----

  /** Adds a listener to every applied write (see the module comment for its guarantees); returns its removal. */
  onApplied(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(changes: TableChange[]): void {
    if (this.listeners.size === 0) return;
    for (const change of changes) {
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch {
          this.stats.listenerErrors++; // a listener must not break apply, which has to be deterministic
        }
      }
    }
  }

  // ---- Reads (committed state; through RaftHost.read for linearizability) ----

  get(key: Uint8Array): Versioned | null {
    const record = this.db.get(this.storedKey(key));
    return record === undefined ? null : decodeRecord(record);
  }

  /** Keys in byte order within the range, up to `limit` items or MAX_SCAN_PAGE_BYTES of values. */
  scan(range: ScanRange = {}): ScanResult {
    const limit = Math.min(Math.max(1, Math.floor(range.limit ?? DEFAULT_SCAN_LIMIT)), MAX_SCAN_LIMIT);
    const bounds = this.bounds(range);
    if (bounds === null) return { items: [], last: null };
    const items: VersionedEntry[] = [];
    let bytes = 0;
    let more = false;
    for (const { key, value } of this.db.getRange({ start: bounds.start, end: bounds.end })) {
      if (items.length >= limit || bytes >= MAX_SCAN_PAGE_BYTES) {
        more = true;
        break;
      }
      const record = decodeRecord(value);
      items.push({ key: copy(key, this.lo.byteLength), ...record });
      bytes += record.value.byteLength;
    }
    return { items, last: more ? items.at(-1)!.key : null };
  }

  /** Stored-key bounds [start, end) of a scan, or null when the range is empty. */
  private bounds(range: ScanRange): { start: Buffer; end: Buffer } | null {
    let start: Buffer = this.lo;
    let end: Buffer = this.hi;
    const raise = (k: Buffer): void => {
      if (Buffer.compare(k, start) > 0) start = k;
    };
    const lower = (k: Buffer): void => {
      if (Buffer.compare(k, end) < 0) end = k;
    };
    if (range.prefix !== undefined && range.prefix.byteLength > 0) {
      raise(this.storedKey(range.prefix));
      const pe = prefixEnd(range.prefix);
      if (pe !== null) lower(this.storedKey(pe));
    }
    if (range.start !== undefined) raise(this.storedKey(range.start));
    if (range.end !== undefined) lower(this.storedKey(range.end));
    // The least key after `after` is `after 0x00`.
    if (range.after !== undefined) raise(concat(this.storedKey(range.after), Uint8Array.of(0)));
    return Buffer.compare(start, end) < 0 ? { start, end } : null;
  }

  /** Number of keys in the partition (a full count: for tests and diagnostics). */
  count(): number {
    return this.db.getKeysCount({ start: this.lo, end: this.hi });
  }

  // ---- Snapshots ----

  /** The whole partition: [format, [[key bytes, record bytes], …]] in key order. */
  snapshot(): Uint8Array {
    const pairs: [Uint8Array, Uint8Array][] = [];
    for (const { key, value } of this.db.getRange({ start: this.lo, end: this.hi })) pairs.push([copy(key, this.lo.byteLength), copy(value)]);
    return snapshotPackr.pack([SNAPSHOT_FORMAT, pairs]);
  }

  /** Replaces the partition with a snapshot's content (inside the host's transaction). Throws on a malformed snapshot: a broken invariant. */
  restore(data: Uint8Array, index?: number): void {
    const raw = snapshotPackr.unpack(data) as unknown;
    if (!Array.isArray(raw) || raw[0] !== SNAPSHOT_FORMAT || !Array.isArray(raw[1])) {
      throw new TroupeError('ERR_INTERNAL', `table partition ${this.group} received a snapshot of an unknown format`);
    }
    this.clear();
    let version = 0;
    for (const pair of raw[1] as unknown[]) {
      const [key, record] = Array.isArray(pair) ? pair : [];
      if (!(key instanceof Uint8Array) || !(record instanceof Uint8Array)) throw new TroupeError('ERR_INTERNAL', `table partition ${this.group} received a malformed snapshot entry`);
      version = Math.max(version, decodeRecord(record).version);
      this.db.putSync(this.storedKey(key), record);
    }
    // Changes up to the snapshot's index are not known here: the history starts after it.
    this.history.reset((index ?? version) + 1);
    this.emit([{ op: 'restore', group: this.group, version }]);
  }

  // ---- Removal ----

  /** Removes every key of the partition; call inside a write transaction (restore does). Returns how many were removed. */
  clear(): number {
    // Collect first: removing under an open cursor could skip keys.
    const keys = [...this.db.getKeys({ start: this.lo, end: this.hi, snapshot: false })].map((k) => copy(k));
    for (const key of keys) this.db.removeSync(key);
    return keys.length;
  }

  /** The host destroys the partition's group on this node: its data goes in the host's transaction. */
  destroyInTransaction(): void {
    this.clear();
    this.history.clear();
    this.listeners.clear();
  }

  /** Removes the partition's data from the node (its group is being dropped); resolves once durable. */
  async destroy(): Promise<number> {
    const removed = await this.storage.transaction(() => this.storage.atomically(() => this.clear()));
    await this.storage.flushed();
    this.listeners.clear();
    return removed;
  }
}
