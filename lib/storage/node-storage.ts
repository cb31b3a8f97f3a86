/**
 * The node's one LMDB environment (`<dataDir>/node.mdb`), opened once by the
 * wiring (lib/node.ts) and shared by every user: node state, the Raft logs
 * of all groups, the groups' descriptors and applied indexes, table data.
 * LMDB forbids opening an environment twice in one process (RAFT-NOTES §12,
 * lmdb-js#164), so nothing else calls `open`.
 *
 * Users get named sub-databases (`openDB`), a few per concern, never one per
 * group: LMDB scans named databases linearly and caps their number
 * (`maxDbs`). All named databases share one write queue: writes made in one
 * event-loop turn commit in one transaction, which is what gives Raft its
 * group commit across groups (lib/raft/raft-host.ts).
 *
 * Durability: under lmdb-js's default `overlappingSync` a transaction's
 * promise resolves at commit, before the fsync. `flushed()` resolves once
 * every earlier commit is on disk; callers that must not lose a write (Raft
 * votes and entries) await it.
 *
 * `stats` counts write transactions and flush waits so tests can check that
 * many groups share one of each.
 */
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import { describeSystemError } from '../errors.js';
import { dataDirError, prepareDataDir } from './data-dir.js';

/** Named databases the node may open. @default 64: a few per concern (node, raft, tables) with room to grow; LMDB scans them linearly. */
export const MAX_NAMED_DATABASES = 64;

export interface NodeStorageStats {
  /** Write transactions started through `transaction`. */
  transactions: number;
  /** Waits for durability started through `flushed`. */
  flushes: number;
}

export class NodeStorage {
  readonly stats: NodeStorageStats = { transactions: 0, flushes: 0 };
  private readonly databases = new Map<string, Database<any, any>>();
  private closing: Promise<void> | undefined;

  private constructor(readonly root: RootDatabase, readonly path: string) {}

  /**
   * Prepares DATA_DIR and opens `<dataDir>/node.mdb` (the path earlier
   * releases used, so existing data directories open unchanged).
   * @throws ConfigError naming DATA_DIR when the directory or the environment cannot be created or opened
   */
  static open(dataDir: string): NodeStorage {
    prepareDataDir(dataDir);
    const path = `${dataDir}/node.mdb`;
    try {
      return new NodeStorage(open({ path, compression: false, maxDbs: MAX_NAMED_DATABASES }), path);
    } catch (err) {
      throw dataDirError(dataDir, `cannot open ${path}: ${describeSystemError(err)}`);
    }
  }

  /** The named database `name`, opened on first use and shared afterwards (the options of the first call win). */
  openDB<V = unknown, K extends import('lmdb').Key = import('lmdb').Key>(name: string, options: Omit<DatabaseOptions, 'name'> = {}): Database<V, K> {
    let db = this.databases.get(name);
    if (db === undefined) {
      db = this.root.openDB<V, K>({ ...options, name });
      this.databases.set(name, db);
    }
    return db as Database<V, K>;
  }

  /**
   * Runs `fn` in the next write transaction, with every other write of this
   * event-loop turn; resolves with its result once committed (not yet
   * fsynced: see `flushed`). Puts and removes inside `fn` apply at once.
   */
  transaction<T>(fn: () => T): Promise<T> {
    this.stats.transactions++;
    return this.root.transaction(fn);
  }

  /**
   * Runs `fn` atomically inside the transaction whose callback is running
   * (a child transaction): if `fn` throws, its writes are rolled back and
   * the rest of the transaction commits. Only call it inside `transaction`'s
   * callback. (A throw directly in that callback does not roll anything
   * back in lmdb-js: its writes before the throw still commit.)
   */
  atomically<T>(fn: () => T): T {
    return this.root.transactionSync(fn);
  }

  /** Resolves once every write committed so far is on disk. */
  async flushed(): Promise<void> {
    this.stats.flushes++;
    await this.root.flushed;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Closes the environment, after its writes. Close it last: every user's handle dies with it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.root.close().then(() => undefined);
    return this.closing;
  }
}
