/**
 * The state machine of the catalogue group (CATALOGUE_GROUP): the tables of
 * the cluster, their partitions and replica sets (catalogue.ts has the
 * commands and the lifecycle).
 *
 * Storage: the named database `troupe-catalogue`, one record per table keyed
 * by its name (so `list` comes in name order). A record is positional
 * msgpack: [format, incarnation, replicationFactor, state, [[voters,
 * learners, ready, dropped], …]]; equal states give equal bytes on every
 * replica.
 *
 * Apply (lib/raft/state-machine.ts) runs in the host's child transaction and
 * writes only with `putSync`/`removeSync`. It is deterministic: the result
 * depends only on the entry and the stored records. Nothing there throws on
 * input: a malformed command, a name already taken, an unknown table, a stale
 * incarnation or a command that does not fit the table's state is answered
 * as data and writes nothing. The limits are not checked again at apply (see
 * catalogue.ts).
 */

import type { Database } from 'lmdb';
import { Packr } from 'msgpackr';
import { TroupeError } from '../errors.js';
import type { Entry, NodeId } from '../protocol/raft/types.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { NodeStorage } from '../storage/node-storage.js';
import { decodeCatalogueCommand, partitionGroup, type CatalogueCommand, type PartitionInfo, type TableInfo, type TableState } from './catalogue.js';

/** The named database of the catalogue. */
export const CATALOGUE_DB_NAME = 'troupe-catalogue';

const RECORD_FORMAT = 1;
const SNAPSHOT_FORMAT = 1;
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

/**
 * What apply returns to the proposer:
 *   ok             applied; `table` is the table afterwards (null once a drop completed and removed it);
 *   exists         create-table: the name is taken (`state` of the table holding it);
 *   no-such-table  no table of that name, or not of that incarnation (a stale command);
 *   bad-state      the command does not fit the table's state (e.g. partition-dropped while not dropping),
 *                  or names a partition the table does not have;
 *   malformed      the entry could not be read.
 * Nothing is written unless `ok`.
 */
export type CatalogueApplyResult =
  | { ok: true; table: TableInfo | null }
  | { ok: false; reason: 'exists'; table: string; state: TableState }
  | { ok: false; reason: 'no-such-table'; table: string }
  | { ok: false; reason: 'bad-state'; table: string; message: string }
  | { ok: false; reason: 'malformed'; message: string };

export interface CatalogueStats {
  applied: number;
  refused: number;
  malformed: number;
}

type StoredPartition = [voters: NodeId[], learners: NodeId[], ready: boolean, dropped: boolean];
type StoredTable = [format: number, incarnation: number, replicationFactor: number, state: TableState, partitions: StoredPartition[]];

function toInfo(name: string, t: StoredTable): TableInfo {
  return {
    name,
    incarnation: t[1],
    replicationFactor: t[2],
    state: t[3],
    partitions: t[4].map(([voters, learners, ready, dropped], partition): PartitionInfo => ({
      partition,
      group: partitionGroup(name, partition, t[1]),
      voters: [...voters],
      learners: [...learners],
      ready,
      dropped,
    })),
  };
}

export class CatalogueStateMachine implements StateMachine {
  readonly stats: CatalogueStats = { applied: 0, refused: 0, malformed: 0 };
  private readonly db: Database<Uint8Array, string>;

  constructor(storage: NodeStorage) {
    this.db = storage.openDB<Uint8Array, string>(CATALOGUE_DB_NAME, { encoding: 'binary' });
  }

  // ---- Apply (inside the host's transaction) ----

  apply(entry: Entry): CatalogueApplyResult {
    const command = decodeCatalogueCommand(entry.data);
    if (command.op === 'malformed') {
      this.stats.malformed++;
      return { ok: false, reason: 'malformed', message: `malformed catalogue command at index ${entry.index}: ${command.reason}` };
    }
    const result = this.applyCommand(command, entry.index);
    if (result.ok) this.stats.applied++;
    else this.stats.refused++;
    return result;
  }

  private applyCommand(c: CatalogueCommand, index: number): CatalogueApplyResult {
    if (c.op === 'create-table') {
      const existing = this.read(c.name);
      if (existing !== null) return { ok: false, reason: 'exists', table: c.name, state: existing[3] };
      const record: StoredTable = [RECORD_FORMAT, index, c.replicationFactor, 'creating', c.replicas.map((voters) => [[...voters], [], false, false])];
      return this.write(c.name, record);
    }
    const name = c.table;
    const t = this.read(name);
    if (t === null) return { ok: false, reason: 'no-such-table', table: name };
    if (c.op === 'drop-table') {
      if (t[3] === 'dropping') return { ok: true, table: toInfo(name, t) }; // already: idempotent
      t[3] = 'dropping';
      return this.write(name, t);
    }
    if (c.incarnation !== t[1]) return { ok: false, reason: 'no-such-table', table: name };
    const p = t[4][c.partition];
    if (p === undefined) return { ok: false, reason: 'bad-state', table: name, message: `table ${name} has no partition ${c.partition} (it has ${t[4].length})` };
    switch (c.op) {
      case 'mark-partition-ready':
        if (t[3] === 'dropping') return { ok: false, reason: 'bad-state', table: name, message: `table ${name} is being dropped` };
        if (p[2]) return { ok: true, table: toInfo(name, t) }; // already ready: idempotent
        p[2] = true;
        if (t[3] === 'creating' && t[4].every((q) => q[2])) t[3] = 'ready';
        return this.write(name, t);
      case 'partition-dropped':
        if (t[3] !== 'dropping') return { ok: false, reason: 'bad-state', table: name, message: `table ${name} is ${t[3]}, not being dropped` };
        p[3] = true;
        if (t[4].every((q) => q[3])) {
          this.db.removeSync(name);
          return { ok: true, table: null };
        }
        return this.write(name, t);
      case 'update-replicas':
        if (t[3] === 'dropping') return { ok: false, reason: 'bad-state', table: name, message: `table ${name} is being dropped` };
        p[0] = [...c.voters];
        p[1] = [...c.learners];
        return this.write(name, t);
    }
  }

  private write(name: string, record: StoredTable): CatalogueApplyResult {
    this.db.putSync(name, packr.pack(record));
    return { ok: true, table: toInfo(name, record) };
  }

  private read(name: string): StoredTable | null {
    const bytes = this.db.get(name);
    if (bytes === undefined) return null;
    const record = packr.unpack(bytes) as StoredTable;
    if (!Array.isArray(record) || record[0] !== RECORD_FORMAT) throw new TroupeError('ERR_INTERNAL', `the catalogue record of table ${name} has an unknown format`);
    return record;
  }

  // ---- Queries (committed state; through RaftHost.read for linearizability) ----

  /** Every table, in name order, with its state, partitions and replica sets. */
  list(): TableInfo[] {
    const tables: TableInfo[] = [];
    for (const { key } of this.db.getRange({})) {
      const record = this.read(key);
      if (record !== null) tables.push(toInfo(key, record));
    }
    return tables;
  }

  /** One table, or null. */
  get(name: string): TableInfo | null {
    const record = this.read(name);
    return record === null ? null : toInfo(name, record);
  }

  /** Number of tables (in any state). */
  count(): number {
    return this.db.getKeysCount();
  }

  /**
   * A partition of a table: its group id (`<table>/<n>`), replicas and flags;
   * null when there is no such table or partition. A table that is not
   * 'ready' is not usable: callers check `state`.
   */
  partition(table: string, partition: number): (PartitionInfo & { state: TableState; incarnation: number }) | null {
    const info = this.get(table);
    const p = info?.partitions[partition];
    return info === null || p === undefined ? null : { ...p, state: info.state, incarnation: info.incarnation };
  }

  // ---- Snapshots ----

  /** The whole catalogue: [format, [[name, record bytes], …]] in name order. */
  snapshot(): Uint8Array {
    const pairs: [string, Uint8Array][] = [];
    for (const { key, value } of this.db.getRange({})) pairs.push([key, new Uint8Array(value)]);
    return packr.pack([SNAPSHOT_FORMAT, pairs]);
  }

  /** Replaces the catalogue with a snapshot's (inside the host's transaction). Throws on a malformed snapshot: a broken invariant. */
  restore(data: Uint8Array): void {
    const raw = packr.unpack(data) as unknown;
    if (!Array.isArray(raw) || raw[0] !== SNAPSHOT_FORMAT || !Array.isArray(raw[1])) throw new TroupeError('ERR_INTERNAL', 'the catalogue received a snapshot of an unknown format');
    const keys = [...this.db.getKeys({ snapshot: false })];
    for (const key of keys) this.db.removeSync(key);
    for (const pair of raw[1] as unknown[]) {
      const [name, record] = Array.isArray(pair) ? pair : [];
      if (typeof name !== 'string' || !(record instanceof Uint8Array)) throw new TroupeError('ERR_INTERNAL', 'the catalogue received a malformed snapshot entry');
      this.db.putSync(name, record);
    }
  }

  /** Removes every record: this node's catalogue replica is destroyed (inside the host's transaction). */
  destroyInTransaction(): void {
    for (const key of [...this.db.getKeys({ snapshot: false })]) this.db.removeSync(key);
  }
}
