/**
 * Durable per-node state in LMDB (`<dataDir>/node.mdb`): the generation
 * counter and the last known member addresses.
 *
 * Generation: every start takes max(now, previous + 1) and persists it before
 * the node speaks to anyone, so a restarted node is always a newer generation
 * than any record of its old self, even if the wall clock stepped back.
 * Known members: written on membership changes so that a restarted node (or a
 * membership actor reset by its supervisor) can rejoin even when its seeds are
 * gone.
 */
import { open, type RootDatabase } from 'lmdb';
import { describeSystemError } from '../errors.js';
import { dataDirError, prepareDataDir } from './data-dir.js';

export class NodeStateStore {
  private readonly db: RootDatabase;
  private closed = false;

  /** @throws ConfigError naming DATA_DIR when the directory or the database cannot be created or opened */
  constructor(dataDir: string) {
    prepareDataDir(dataDir);
    const path = `${dataDir}/node.mdb`;
    try {
      this.db = open({ path, compression: false });
    } catch (err) {
      throw dataDirError(dataDir, `cannot open ${path}: ${describeSystemError(err)}`);
    }
  }

  /** Allocates this start's generation and persists it (synchronously: it must be durable before use). */
  nextGeneration(nowMs: number): number {
    const previous = (this.db.get('generation') as number | undefined) ?? 0;
    const generation = Math.max(nowMs, previous + 1);
    this.db.putSync('generation', generation);
    return generation;
  }

  knownAddresses(): string[] {
    const value = this.db.get('known-addresses');
    return Array.isArray(value) ? value.filter((a): a is string => typeof a === 'string') : [];
  }

  async saveKnownAddresses(addresses: string[]): Promise<void> {
    if (this.closed) return;
    await this.db.put('known-addresses', [...new Set(addresses)].sort());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}
