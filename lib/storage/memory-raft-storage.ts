/**
 * RaftStorage in memory, for tests and the simulator. It models a disk with
 * a volatile cache: a write is visible at once, but durable only when it is
 * synced (a `mustSync` write, which syncs everything before it too). With
 * `autoSync` (the default) a synced write becomes durable on the next
 * microtask; without it, the test decides when by calling `sync()`.
 * `crash()` drops everything not yet durable, as a power loss would, and
 * rejects the writes still waiting for their sync.
 */

import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from '../protocol/raft/types.js';
import { applyWrite, type RaftStorage, type RaftStoredState, type RaftWrite } from './raft-storage.js';

function clone(s: RaftStoredState): RaftStoredState {
  return { hardState: { ...s.hardState }, offset: { ...s.offset }, entries: [...s.entries], snapshot: s.snapshot };
}

export class StorageCrashedError extends Error {
  constructor() {
    super('the storage crashed before this write was synced');
    this.name = 'StorageCrashedError';
  }
}

export class MemoryRaftStorage implements RaftStorage {
  private current: RaftStoredState = { hardState: { ...EMPTY_HARD_STATE }, offset: { index: 0, term: 0 }, entries: [], snapshot: null };
  private durable: RaftStoredState = clone(this.current);
  /** Writes applied to `current` but not yet to `durable`, in order. */
  private unsynced: RaftWrite[] = [];
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly autoSync: boolean;

  constructor(readonly group: string, options: { autoSync?: boolean } = {}) {
    this.autoSync = options.autoSync ?? true;
  }

  load(): RaftStoredState {
    return clone(this.current);
  }

  hardState(): HardState {
    return { ...this.current.hardState };
  }

  firstIndex(): number {
    return this.current.offset.index + 1;
  }

  lastIndex(): number {
    return this.current.offset.index + this.current.entries.length;
  }

  term(index: number): number | undefined {
    if (index === this.current.offset.index) return this.current.offset.term;
    if (index < this.current.offset.index || index > this.lastIndex()) return undefined;
    return this.current.entries[index - this.current.offset.index - 1]!.term;
  }

  entries(lo: number, hi: number): Entry[] {
    if (lo < this.firstIndex() || hi > this.lastIndex() + 1 || lo > hi) throw new RangeError(`entries [${lo}, ${hi}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    const base = this.current.offset.index + 1;
    return this.current.entries.slice(lo - base, hi - base);
  }

  snapshot(): Snapshot | null {
    return this.current.snapshot;
  }

  write(write: RaftWrite): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`raft storage of group ${this.group} is closed`));
    try {
      applyWrite(this.current, write);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.unsynced.push(write);
    const done = !write.mustSync
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          this.waiting.push({ resolve, reject });
          if (this.autoSync) queueMicrotask(() => this.sync());
        });
    // Resolve in call order: an unsynced write does not overtake an earlier one still waiting for its sync.
    const result = this.tail.then(() => done, () => done);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Makes every write so far durable (an fsync) and resolves their promises. */
  sync(): void {
    for (const w of this.unsynced) applyWrite(this.durable, w);
    this.unsynced = [];
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.resolve();
  }

  /** Power loss: only synced writes survive; writes awaiting their sync are rejected. */
  crash(): void {
    this.current = clone(this.durable);
    this.unsynced = [];
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(new StorageCrashedError());
  }

  /** Whether any write is not yet durable. */
  hasUnsynced(): boolean {
    return this.unsynced.length > 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Reopens after close (the data stays, as on a disk). */
  reopen(): void {
    this.closed = false;
  }
}
