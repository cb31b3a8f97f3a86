/**
 * RaftStorage in LMDB. The node's one environment (NodeStorage) holds every
 * Raft group of the node: the groups share one named database, `troupe-raft`, with keys
 * prefixed by the group id (LMDB scans named databases linearly and limits
 * their number, so one per group would not scale; RAFT-NOTES §12). Keys are
 * ordered-binary arrays, which sort element by element, numbers numerically:
 *
 *   [group, 'e', index]  an entry          [group, 'h']  the hard state
 *   [group, 'o']         the offset         [group, 's']  the latest snapshot
 *
 * Every write is one LMDB transaction, so a Ready's persist is atomic. A
 * multi-Raft shell writes the persists of many groups in one transaction of
 * its own with `writeInTransaction` and waits for one flush (group commit
 * across groups; lib/raft/raft-host.ts); `write` is the one-group form.
 *
 * Durability: under lmdb-js's default `overlappingSync` a transaction's
 * promise resolves at commit, before the fsync; `write` therefore also awaits
 * `flushed` when `mustSync`, so the core hears `persisted` only once the data
 * is on disk (RAFT-NOTES §12). Writes resolve in call order.
 *
 * The environment is the caller's: `close()` releases this group's handle
 * only; the node closes the environment once all its groups are closed.
 * `destroy` removes every key of the group (the group left this node).
 */

import type { Database } from 'lmdb';
import type { NodeStorage } from './node-storage.js';
import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from '../protocol/raft/types.js';
import type { RaftStorage, RaftStoredState, RaftWrite } from './raft-storage.js';

export const RAFT_DB_NAME = 'troupe-raft';

type Key = (string | number)[];

/** A copy as a plain Uint8Array (msgpack decodes binary as a Buffer that may share memory). */
const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? Uint8Array.from(v) : new Uint8Array(0));

function decodeEntry(v: unknown): Entry {
  const e = v as Entry;
  const out: Entry = { index: e.index, term: e.term, kind: e.kind, data: bytes(e.data) };
  if (e.change !== undefined && e.change !== null) out.change = { type: e.change.type, node: e.change.node };
  return out;
}

function encodeEntry(e: Entry): Record<string, unknown> {
  const out: Record<string, unknown> = { index: e.index, term: e.term, kind: e.kind, data: e.data };
  if (e.change !== undefined) out.change = { type: e.change.type, node: e.change.node };
  return out;
}

export class LmdbRaftStorage implements RaftStorage {
  private readonly db: Database<unknown, Key>;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  /**
   * The log's offset and last index, read once and then kept by the writes:
   * this object is the group's only writer, and a persist must not pay a
   * cursor for them. A write whose transaction fails crashes the host, which
   * reopens the group with a new object (lib/raft/raft-host.ts).
   */
  private bounds: { offset: { index: number; term: number }; last: number } | null = null;

  constructor(readonly storage: NodeStorage, readonly group: string) {
    if (group.length === 0 || group.includes('\u0000')) throw new RangeError('group id must be a non-empty string without NUL characters');
    this.db = storage.openDB<unknown, Key>(RAFT_DB_NAME, { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
  }

  private entryKey(index: number): Key {
    return [this.group, 'e', index];
  }

  private offset(): { index: number; term: number } {
    return { ...this.logBounds().offset };
  }

  private logBounds(): { offset: { index: number; term: number }; last: number } {
    if (this.bounds !== null) return this.bounds;
    const o = this.db.get([this.group, 'o']) as { index: number; term: number } | undefined;
    const offset = o === undefined ? { index: 0, term: 0 } : { index: o.index, term: o.term };
    let last = offset.index;
    for (const key of this.db.getKeys({ start: this.entryKey(Number.MAX_SAFE_INTEGER), end: this.entryKey(0), reverse: true, limit: 1 })) last = key[2] as number;
    this.bounds = { offset, last };
    return this.bounds;
  }

  load(): RaftStoredState {
    const offset = this.offset();
    return { hardState: this.hardState(), offset, entries: this.entries(offset.index + 1, this.lastIndex() + 1), snapshot: this.snapshot() };
  }

  hardState(): HardState {
    const hs = this.db.get([this.group, 'h']) as HardState | undefined;
    return hs === undefined ? { ...EMPTY_HARD_STATE } : { term: hs.term, vote: hs.vote ?? null, commit: hs.commit };
  }

  firstIndex(): number {
    return this.offset().index + 1;
  }

  lastIndex(): number {
    return this.logBounds().last;
  }

  term(index: number): number | undefined {
    const offset = this.offset();
    if (index === offset.index) return offset.term;
    if (index < offset.index) return undefined;
    const e = this.db.get(this.entryKey(index)) as Entry | undefined;
    return e?.term;
  }

  entries(lo: number, hi: number): Entry[] {
    if (lo < this.firstIndex() || hi > this.lastIndex() + 1 || lo > hi) throw new RangeError(`entries [${lo}, ${hi}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    const out: Entry[] = [];
    for (const { value } of this.db.getRange({ start: this.entryKey(lo), end: this.entryKey(hi) })) out.push(decodeEntry(value));
    return out;
  }

  snapshot(): Snapshot | null {
    const s = this.db.get([this.group, 's']) as Snapshot | undefined;
    if (s === undefined) return null;
    const m = s.meta;
    return { meta: { index: m.index, term: m.term, membership: { voters: [...m.membership.voters], learners: [...m.membership.learners] } }, data: bytes(s.data) };
  }

  write(write: RaftWrite): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`raft storage of group ${this.group} is closed`));
    const committed = this.db.transaction(() => this.applyInTransaction(write));
    const durable = committed.then(() => (write.mustSync ? this.db.flushed.then(() => undefined) : undefined));
    // Resolve in call order even though a later unsynced write may commit before an earlier fsync completes.
    const result = this.tail.then(() => durable, () => durable);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Applies `write` inside a write transaction the caller opened on the same
   * NodeStorage (`storage.transaction`); the caller awaits the commit, and
   * `storage.flushed()` when the write must be durable. Throws RangeError
   * for a write the log cannot take.
   */
  writeInTransaction(write: RaftWrite): void {
    if (this.closed) throw new Error(`raft storage of group ${this.group} is closed`);
    this.applyInTransaction(write);
  }

  /** Removes every key of the group, inside a write transaction the caller opened. */
  destroyInTransaction(): void {
    this.bounds = null;
    for (const key of [...this.db.getKeys({ start: [this.group], end: [this.group, '\uffff'] })]) this.db.remove(key);
  }

  /** Runs inside one transaction: checks everything first, so a refused write changes nothing. */
  private applyInTransaction(write: RaftWrite): void {
    let offset = this.offset();
    let last = this.lastIndex();
    const removals: [number, number][] = [];
    const puts: [Key, unknown][] = [];
    const termAt = (index: number): number | undefined => {
      if (index === offset.index) return offset.term;
      if (index < offset.index || index > last) return undefined;
      return (this.db.get(this.entryKey(index)) as Entry | undefined)?.term;
    };
    if (write.snapshot) {
      const meta = write.snapshot.meta;
      if (termAt(meta.index) !== meta.term) {
        removals.push([offset.index + 1, last + 1]);
        offset = { index: meta.index, term: meta.term };
        last = meta.index;
        puts.push([[this.group, 'o'], offset]);
      }
      puts.push([[this.group, 's'], { meta: write.snapshot.meta, data: write.snapshot.data }]);
    }
    const n = write.compactThrough;
    if (n !== undefined && n !== null && n > offset.index) {
      const term = termAt(n);
      if (term === undefined) throw new RangeError(`cannot compact through ${n}: not in the log (offset ${offset.index}, last ${last})`);
      removals.push([offset.index + 1, n + 1]);
      offset = { index: n, term };
      puts.push([[this.group, 'o'], offset]);
    }
    const entries = write.entries ?? [];
    if (entries.length > 0) {
      const first = entries[0]!.index;
      if (first <= offset.index || first > last + 1) throw new RangeError(`cannot write entry ${first}: the log holds (${offset.index}, ${last}]`);
      removals.push([first, last + 1]);
      for (const e of entries) puts.push([this.entryKey(e.index), encodeEntry(e)]);
    }
    if (write.hardState) puts.push([[this.group, 'h'], { ...write.hardState }]);
    for (const [lo, hi] of removals) {
      if (lo >= hi) continue;
      const keys = [...this.db.getKeys({ start: this.entryKey(lo), end: this.entryKey(hi) })];
      for (const key of keys) this.db.remove(key);
    }
    for (const [key, value] of puts) this.db.put(key, value);
    this.bounds = { offset, last: entries.length > 0 ? entries.at(-1)!.index : last };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
  }
}
