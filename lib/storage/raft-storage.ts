/**
 * The storage seam of a Raft group: its log, hard state and latest snapshot,
 * as the shell writes them from a Ready's `persist` and reads them back at
 * restart. Two implementations pass one contract suite
 * (test/contract/raft-storage-contract.ts): LMDB (many groups in one node's
 * environment) and memory (for tests and the simulator, with crashes that
 * lose what was not synced).
 *
 * Model: a log of entries after an offset (the last compacted entry, whose
 * term is kept), the hard state, and at most one snapshot. One write applies
 * a Ready's persist in this order, atomically:
 *
 *   1. snapshot: stored; if the log does not hold the snapshot's point
 *      (index, term), every entry goes and the offset becomes that point;
 *      otherwise the entries are kept (the leader's own snapshot);
 *   2. compactThrough n: entries ≤ n go, the offset becomes (n, term(n));
 *   3. entries: writing entry i discards every stored entry ≥ i first;
 *   4. hard state.
 *
 * `write` resolves once the write is durable (fsynced) when `mustSync`, or
 * once it is visible otherwise; writes complete in call order, and a synced
 * write makes every earlier write durable too. Reads see completed writes.
 */

import type { Entry, HardState, Snapshot } from '../protocol/raft/types.js';

export interface RaftWrite {
  hardState?: HardState | null;
  entries?: Entry[];
  snapshot?: Snapshot | null;
  compactThrough?: number | null;
  mustSync?: boolean;
}

/** What a core restarts from (see RaftInit). */
export interface RaftStoredState {
  hardState: HardState;
  /** Index and term of the last compacted entry ((0, 0) if none). */
  offset: { index: number; term: number };
  entries: Entry[];
  snapshot: Snapshot | null;
}

export interface RaftStorage {
  readonly group: string;
  /** The whole durable state of the group (empty for a new group). */
  load(): RaftStoredState;
  hardState(): HardState;
  /** Index of the first stored entry (offset + 1), even when the log is empty. */
  firstIndex(): number;
  /** Index of the last stored entry, or the offset when there is none. */
  lastIndex(): number;
  /** Term of entry `index`; the offset's term for the offset; undefined when compacted or absent. */
  term(index: number): number | undefined;
  /** Entries [lo, hi); throws RangeError outside [firstIndex, lastIndex + 1]. */
  entries(lo: number, hi: number): Entry[];
  snapshot(): Snapshot | null;
  write(write: RaftWrite): Promise<void>;
  close(): Promise<void>;
}

/** Shared rules of both implementations: the order of one write, on plain state. */
export function applyWrite(state: RaftStoredState, write: RaftWrite): void {
  const termOf = (index: number): number | undefined => {
    if (index === state.offset.index) return state.offset.term;
    const e = state.entries[index - state.offset.index - 1];
    return index > state.offset.index && e !== undefined ? e.term : undefined;
  };
  if (write.snapshot) {
    const meta = write.snapshot.meta;
    if (termOf(meta.index) !== meta.term) {
      state.entries = [];
      state.offset = { index: meta.index, term: meta.term };
    }
    state.snapshot = write.snapshot;
  }
  const n = write.compactThrough;
  if (n !== undefined && n !== null && n > state.offset.index) {
    const term = termOf(n);
    if (term === undefined) throw new RangeError(`cannot compact through ${n}: not in the log (offset ${state.offset.index}, ${state.entries.length} entries)`);
    state.entries = state.entries.slice(n - state.offset.index);
    state.offset = { index: n, term };
  }
  const entries = write.entries ?? [];
  if (entries.length > 0) {
    const first = entries[0]!.index;
    const last = state.offset.index + state.entries.length;
    if (first <= state.offset.index || first > last + 1) throw new RangeError(`cannot write entry ${first}: the log holds (${state.offset.index}, ${last}]`);
    state.entries = state.entries.slice(0, first - state.offset.index - 1).concat(entries);
  }
  if (write.hardState) state.hardState = { ...write.hardState };
}
