/**
 * Durable per-node state in the node's LMDB environment (NodeStorage), in
 * the named database `troupe-node`: the generation counter and the last
 * known member addresses.
 *
 * Generation: every start takes max(now, previous + 1) and persists it before
 * the node speaks to anyone, so a restarted node is always a newer generation
 * than any record of its old self, even if the wall clock stepped back.
 * Known members: written on membership changes so that a restarted node (or a
 * membership actor reset by its supervisor) can rejoin even when its seeds are
 * gone.
 *
 * Earlier releases kept both keys in the environment's main database; they
 * are still read from there when `troupe-node` does not have them yet, so an
 * existing data directory keeps its generation.
 */
import type { Database } from 'lmdb';
import type { NodeStorage } from './node-storage.js';

export const NODE_STATE_DB_NAME = 'troupe-node';

export class NodeStateStore {
  private readonly db: Database<unknown, string>;

  /** The storage stays the caller's: it outlives this store and is closed by the wiring. */
  constructor(private readonly storage: NodeStorage) {
    this.db = storage.openDB<unknown, string>(NODE_STATE_DB_NAME);
  }

  private read(key: string): unknown {
    return this.db.get(key) ?? this.storage.root.get(key);
  }

  /** Allocates this start's generation and persists it (synchronously: it must be durable before use). */
  nextGeneration(nowMs: number): number {
    const previous = (this.read('generation') as number | undefined) ?? 0;
    const generation = Math.max(nowMs, previous + 1);
    this.db.transactionSync(() => {
      this.db.putSync('generation', generation); // transactionSync flushes before it returns
      // A directory from a release without the record is older than anything it holds: 0.
      if (this.read('born-at') === undefined) this.db.putSync('born-at', previous === 0 ? nowMs : 0);
    });
    return generation;
  }

  /**
   * When this data directory was first used, ms since the epoch (wall clock
   * of its first start). A replica created in a group older than the
   * directory cannot have been one of the group's voters with this
   * directory: its data was lost (see lib/tables/replica-rpc.ts).
   */
  bornAt(): number {
    return (this.read('born-at') as number | undefined) ?? 0;
  }

  knownAddresses(): string[] {
    const value = this.read('known-addresses');
    return Array.isArray(value) ? value.filter((a): a is string => typeof a === 'string') : [];
  }

  async saveKnownAddresses(addresses: string[]): Promise<void> {
    if (this.storage.closed) return;
    await this.db.put('known-addresses', [...new Set(addresses)].sort());
  }

  /** Nothing to release: the environment is the storage's. Kept so callers can treat stores alike. */
  async close(): Promise<void> {}
}
