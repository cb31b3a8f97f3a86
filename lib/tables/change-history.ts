/**
 * The retained changes of one table partition on this replica: what watches
 * replay from a version on. Written by the partition's state machine in its
 * apply (inside the host's transaction, so history and data commit
 * together); it is local to the replica, not replicated state.
 *
 * Storage: the named database `troupe-table-history`, shared by every
 * partition on the node. A record is keyed `<group> 0x00 <version, 8 bytes
 * big-endian>` and holds the changes the entry at that version made
 * (msgpack: [[key bytes, value bytes | null], …], null for a delete). The key
 * `<group> 0x01` holds `from`: the lowest version from which the history is
 * complete (1 for a partition created here; a snapshot install's index + 1;
 * raised by trimming).
 *
 * Retention: the last HISTORY_WINDOW versions (Raft indexes) of the
 * partition; older records are trimmed every TRIM_EVERY versions. A watcher
 * that asks for older changes is told they are compacted and re-reads.
 */

import type { Database } from 'lmdb';
import { Packr } from 'msgpackr';
import type { NodeStorage } from '../storage/node-storage.js';

export const HISTORY_DB_NAME = 'troupe-table-history';
/** Versions (Raft indexes) of history kept per partition. @default 100000: minutes of writes at full speed. */
export const HISTORY_WINDOW = 100_000;
/** Trim once per this many versions. @default 1000 */
const TRIM_EVERY = 1_000;

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

/** One retained change: `value` null for a delete. */
export interface HistoryChange {
  version: number;
  key: Uint8Array;
  value: Uint8Array | null;
}

export interface HistoryPage {
  changes: HistoryChange[];
  /** The lowest version from which this replica's history is complete. */
  from: number;
}

export class ChangeHistory {
  private readonly db: Database<Uint8Array, Buffer>;
  private readonly prefix: Buffer;
  private readonly fromKey: Buffer;
  private lastTrim = 0;

  constructor(storage: NodeStorage, groupId: Uint8Array, private readonly window = HISTORY_WINDOW) {
    this.db = storage.openDB<Uint8Array, Buffer>(HISTORY_DB_NAME, { encoding: 'binary', keyEncoding: 'binary' });
    this.prefix = Buffer.concat([groupId, Uint8Array.of(0)]);
    this.fromKey = Buffer.concat([groupId, Uint8Array.of(1)]);
  }

  /** Records the changes of the entry at `version` (in apply). */
  record(version: number, changes: [Uint8Array, Uint8Array | null][]): void {
    if (changes.length === 0) return;
    this.db.putSync(this.versionKey(version), packr.pack(changes));
    if (version - this.lastTrim >= TRIM_EVERY) {
      this.lastTrim = version;
      this.trimBefore(version - this.window + 1);
    }
  }

  /** Forgets everything and says the history starts at `from` (a snapshot was installed; in apply). */
  reset(from: number): void {
    this.clear();
    this.db.putSync(this.fromKey, packr.pack(from));
  }

  /** Removes the partition's history (it is destroyed; inside a write transaction). */
  clear(): void {
    const keys = [...this.db.getKeys({ start: this.prefix, end: this.versionKey(Number.MAX_SAFE_INTEGER), snapshot: false })].map((k) => Buffer.from(k));
    for (const key of keys) this.db.removeSync(key);
    this.db.removeSync(this.fromKey);
  }

  /** The lowest version from which the history is complete. */
  from(): number {
    const stored = this.db.get(this.fromKey);
    return stored === undefined ? 1 : (packr.unpack(stored) as number);
  }

  /** Changes with a version above `after` whose key starts with `keyPrefix`, in version order, up to `limit` versions. */
  after(after: number, limit: number, keyPrefix?: Uint8Array): HistoryPage {
    const changes: HistoryChange[] = [];
    let versions = 0;
    for (const { key, value } of this.db.getRange({ start: this.versionKey(after + 1), end: this.versionKey(Number.MAX_SAFE_INTEGER) })) {
      if (versions++ >= limit) break;
      const version = readVersion(key, this.prefix.byteLength);
      for (const [k, v] of packr.unpack(value) as [Uint8Array, Uint8Array | null][]) {
        if (keyPrefix !== undefined && !startsWith(k, keyPrefix)) continue;
        changes.push({ version, key: new Uint8Array(k), value: v === null ? null : new Uint8Array(v) });
      }
    }
    return { changes, from: this.from() };
  }

  private trimBefore(version: number): void {
    if (version <= this.from()) return;
    const keys = [...this.db.getKeys({ start: this.prefix, end: this.versionKey(version), snapshot: false })].map((k) => Buffer.from(k));
    for (const key of keys) this.db.removeSync(key);
    this.db.putSync(this.fromKey, packr.pack(version));
  }

  private versionKey(version: number): Buffer {
    const key = Buffer.alloc(this.prefix.byteLength + 8);
    this.prefix.copy(key);
    key.writeUInt32BE(Math.floor(version / 2 ** 32), this.prefix.byteLength);
    key.writeUInt32BE(version >>> 0, this.prefix.byteLength + 4);
    return key;
  }
}

function readVersion(key: Uint8Array, offset: number): number {
  const view = new DataView(key.buffer, key.byteOffset + offset, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength >= prefix.byteLength && Buffer.compare(bytes.subarray(0, prefix.byteLength), prefix) === 0;
}
