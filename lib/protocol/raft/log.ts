/**
 * The Raft log of one node, as the core sees it: the entries after the
 * compaction point, held in memory, and four cursors over them.
 *
 *   offset ≤ applying ≤ min(committed, persisted),  handedOff ≤ last,  persisted ≤ handedOff
 *
 *   offset     index (and term) of the entry just before the first kept one:
 *              the last compacted entry or the installed snapshot. Terms at or
 *              below it are unknown, except the offset's own (thesis §5.1).
 *   handedOff  entries up to here were given to the shell to persist
 *              (etcd's stable/unstable split); later ones go in the next Ready.
 *   persisted  entries up to here are durable on this node (acknowledged by
 *              the shell). A leader counts itself only up to here (thesis
 *              §10.2.1), and nothing is applied beyond it (etcd#14370).
 *   committed  known committed (thesis §3.6); never decreases.
 *   applying   entries up to here were given to the shell to apply, in order.
 *
 * Writing entry i discards every entry ≥ i (thesis §3.5, AppendEntries step
 * 3); that also pulls handedOff and persisted back below i, so that an
 * acknowledgement of the old entries cannot count for the new ones (the
 * ABA race of etcd's async storage writes; acks are checked by term).
 *
 * The log throws only on a broken invariant (e.g. truncating a committed
 * entry): remote input is checked by the caller first.
 */

import { entrySize, type Entry } from './types.js';

export class RaftLog {
  private offsetIndex: number;
  private offsetTerm: number;
  private entries: Entry[];
  committed: number;
  persisted: number;
  handedOff: number;
  applying: number;

  /** A log restored from storage: everything given is durable. */
  constructor(init: { offsetIndex: number; offsetTerm: number; entries: Entry[]; committed: number; applied: number }) {
    this.offsetIndex = init.offsetIndex;
    this.offsetTerm = init.offsetTerm;
    this.entries = [...init.entries];
    this.entries.forEach((e, i) => {
      if (e.index !== init.offsetIndex + 1 + i) throw new Error(`raft log invariant: restored entry ${e.index} at position ${i} after offset ${init.offsetIndex}`);
    });
    const last = this.lastIndex();
    this.committed = Math.min(Math.max(init.committed, init.offsetIndex), last);
    this.persisted = last;
    this.handedOff = last;
    this.applying = Math.min(Math.max(init.applied, init.offsetIndex), this.committed);
  }

  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  lastIndex(): number {
    return this.offsetIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.offsetTerm : this.entries[this.entries.length - 1]!.term;
  }

  offset(): { index: number; term: number } {
    return { index: this.offsetIndex, term: this.offsetTerm };
  }

  /** Term of entry `index`, or undefined when it is compacted or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offsetIndex) return this.offsetTerm;
    if (index < this.offsetIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offsetIndex - 1]!.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offsetIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offsetIndex - 1];
  }

  /** Entries [lo, hi) with at most `maxBytes` of payload, but at least one entry when the range is not empty. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.offsetIndex || hi > this.lastIndex() + 1) throw new Error(`raft log invariant: slice [${lo}, ${hi}) outside (${this.offsetIndex}, ${this.lastIndex()}]`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - this.offsetIndex - 1]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Raft's up-to-date rule for votes (thesis §3.6.1): a later last term wins, then a longer log. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * AppendEntries on a follower: if the log holds (prevIndex, prevTerm), write
   * `entries` after it (discarding a conflicting suffix, keeping a matching
   * one), commit up to min(commit, last new index), and return the last new
   * index; otherwise null. The caller guarantees prevIndex ≥ committed.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = entries.find((e) => !this.matchTerm(e.index, e.term));
    if (conflict !== undefined) {
      if (conflict.index <= this.committed) throw new Error(`raft log invariant: entry ${conflict.index} conflicts with the committed prefix (commit ${this.committed})`);
      this.truncateAndAppend(entries.slice(conflict.index - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Writes `entries` (consecutive) at their indexes, discarding everything from the first one on. */
  truncateAndAppend(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.offsetIndex || first > this.lastIndex() + 1 || first <= this.committed) {
      throw new Error(`raft log invariant: cannot write at ${first} (offset ${this.offsetIndex}, last ${this.lastIndex()}, commit ${this.committed})`);
    }
    this.entries.length = first - this.offsetIndex - 1;
    for (const e of entries) this.entries.push(e);
    this.handedOff = Math.min(this.handedOff, first - 1);
    this.persisted = Math.min(this.persisted, first - 1);
  }

  /**
   * The follower's hint for a rejected probe at `index` from a leader whose
   * entry there has term `term`: the last index ≤ index whose term is ≤ term
   * (etcd findConflictByTerm). Compacted indexes have an unknown term,
   * reported as 0 (etcd-io/raft#36).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    if (index > this.lastIndex()) throw new Error(`raft log invariant: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** The shell reports entries through (index, term) durable; a stale report (the entry was overwritten) is ignored. */
  markPersisted(index: number, term: number): void {
    if (index > this.persisted && index <= this.handedOff && this.matchTerm(index, term)) this.persisted = index;
  }

  /** Entries not yet handed to the shell for persisting. */
  unstable(): Entry[] {
    return this.handedOff >= this.lastIndex() ? [] : this.slice(this.handedOff + 1, this.lastIndex() + 1);
  }

  /** Highest index that may be applied: committed and durable here. */
  applyLimit(): number {
    return Math.min(this.committed, this.persisted);
  }

  /** Committed, durable entries not yet handed to the shell for applying. */
  toApply(): Entry[] {
    const hi = this.applyLimit();
    return this.applying >= hi ? [] : this.slice(this.applying + 1, hi + 1);
  }

  /**
   * Replaces the log with a snapshot's point (thesis §5.3, the follower's log
   * does not match the snapshot): every entry is discarded, the snapshot is
   * committed and, once persisted, durable and applied.
   */
  restore(index: number, term: number): void {
    this.persisted = Math.min(this.persisted, this.committed);
    this.offsetIndex = index;
    this.offsetTerm = term;
    this.entries = [];
    this.committed = index;
    this.handedOff = index;
    this.applying = index;
  }

  /** Drops entries through `index` (already applied and durable, e.g. after a snapshot). */
  compact(index: number): void {
    if (index <= this.offsetIndex) return;
    if (index > this.applying || index > this.persisted) throw new Error(`raft log invariant: compacting to ${index} beyond applied ${this.applying} / persisted ${this.persisted}`);
    this.offsetTerm = this.term(index)!;
    this.entries = this.entries.slice(index - this.offsetIndex);
    this.offsetIndex = index;
  }
}
