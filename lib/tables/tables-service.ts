/**
 * The replicated tables of a node (TablesApi): any node serves any request.
 *
 * Data path. A key's partition is `partitionOfKey`; its group is named by the
 * catalogue. Writes and linearizable reads go through the RaftRouter to the
 * partition's leader (ReadIndex there), wherever it is; stale reads run on a
 * local replica when this node holds one, else on any up replica
 * (`tables.stale-query`). Before a write or linearizable read, the
 * partition's voters are checked against membership: when fewer than a
 * majority are up, the request fails at once with PartitionUnavailableError
 * naming the table, the partition and the replicas it cannot reach (HTTP
 * 503), instead of waiting out its deadline.
 *
 * Catalogue. Every node holds a copy of the catalogue (a voter on up to five
 * nodes, a learner elsewhere), so the tables are read locally; a node that
 * holds none yet (just joined) reads it at the catalogue's leader. The
 * catalogue is created with the cluster's first table, on one node (the
 * lowest-named up member) as its only voter, after asking every up member
 * whether one exists; it grows from there by single-server changes. Two
 * nodes that each see themselves lowest at the same moment (membership not
 * yet converged) could each create one: the window is one membership round
 * trip, at the first table only; merging two clusters that both hold tables
 * is not supported (as with Mnesia's schema), and is refused by name.
 */

import { BadRequestError, NoSuchTableError, PartitionUnavailableError, TableExistsError, TableNotReadyError, TimeoutError, TroupeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallOptions } from '../node-api.js';
import type { MemberStates } from '../member-states.js';
import type { NodeId } from '../protocol/raft/types.js';
import type { RaftRouter } from '../raft/forwarding.js';
import type { RequestOptions } from '../raft/requests.js';
import type { Rpc } from '../rpc/rpc.js';
import type { RaftHostHandle } from '../../actors/raft-host-actor.js';
import { CATALOGUE_GROUP, encodeCatalogueCommand, parsePartitionGroup, planCreateTable, planDropTable, type PartitionInfo, type TableInfo as CatalogueTable } from './catalogue.js';
import type { CatalogueApplyResult } from './catalogue-state-machine.js';
import { partitionOfKey } from './key-partition.js';
import { encodeKey } from './commands.js';
import { DEFAULT_SCAN_LIMIT, MAX_SCAN_LIMIT } from './partition-state-machine.js';
import { encodeCursor, PARTITION_QUERIES, PartitionClient, type BatchOp, type ScanPage, type Versioned, type WriteOutcome } from './partition-client.js';
import { holds, RPC_TABLES_BOOTSTRAP, RPC_TABLES_PROBE, RPC_TABLES_STALE_QUERY, type ProbeAnswer } from './replica-rpc.js';
import type { TableStateMachines } from './state-machines.js';
import { watchTable, type WatchEvent, type WatchOptions, type WatchServer } from './watch.js';
import type { CreateTableOptions, ReadOptions, TableInfo, TableScanOptions, TablesApi } from './tables-api.js';

/** How long `create` waits for every partition to have a leader when the caller names no deadline, ms. @default 15000 */
export const DEFAULT_CREATE_TIMEOUT_MS = 15_000;
/** How long a node without a catalogue replica reuses the catalogue it read, ms. @default 1000 */
const REMOTE_CATALOGUE_TTL_MS = 1_000;

export interface TablesServiceDeps {
  self: NodeId;
  raft: RaftHostHandle;
  router: RaftRouter;
  rpc: Rpc;
  machines: TableStateMachines;
  /** Members' states, kept current from member events. */
  members: MemberStates;
  addressOf: (node: NodeId) => string | undefined;
  defaultReplicationFactor: number;
  log: Logger;
  /** Serves this node's side of watches (long polls on its replicas). */
  watchServer: WatchServer;
  /** Whether the transport failed to reach a node since its link was last up (kill -9 shows here before membership sees it down). */
  unreachable?: (node: NodeId) => boolean;
}

export class TablesService implements TablesApi {
  private cache: { key: string; tables: Map<string, CatalogueTable>; groups: Map<string, PartitionInfo> } | null = null;
  private remote: { at: number; tables: CatalogueTable[] } | null = null;
  private readonly clients = new Map<string, PartitionClient>();

  constructor(private readonly deps: TablesServiceDeps) {}

  // ---- Tables ----

  async create(name: string, options: CreateTableOptions, call: CallOptions = {}): Promise<TableInfo> {
    const deadline = performance.now() + (call.timeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS);
    await this.ensureCatalogue(this.remaining(deadline, `create table ${name}`));
    const tables = await this.catalogueTables(this.remaining(deadline, `create table ${name}`), true);
    const command = planCreateTable(name, options, { tables, upMembers: this.upMembers(), defaultReplicationFactor: this.deps.defaultReplicationFactor });
    const result = (await this.deps.router.propose(CATALOGUE_GROUP, encodeCatalogueCommand(command), this.remaining(deadline, `create table ${name}`))) as CatalogueApplyResult;
    if (!result.ok) throw catalogueRefusal(result);
    const incarnation = result.table?.incarnation;
    for (;;) {
      const table = (await this.catalogueTables(this.remaining(deadline, `create table ${name} (waiting for its partitions' leaders)`), true)).find((t) => t.name === name);
      if (table === undefined || table.incarnation !== incarnation) throw new NoSuchTableError(name); // dropped meanwhile
      if (table.state === 'ready') return this.describe(table);
      await sleep(Math.min(50, Math.max(0, deadline - performance.now())));
    }
  }

  /** Linearizable: a table created or dropped before the call is listed accordingly. */
  /** Every table of the catalogue; one being dropped stays listed (state 'dropping') until every replica destroyed its data, when its name is free again. */
  async list(call: CallOptions = {}): Promise<TableInfo[]> {
    const tables = await this.catalogueTables(call, true);
    return tables.map((t) => this.describe(t));
  }

  async drop(name: string, call: CallOptions = {}): Promise<void> {
    const tables = await this.catalogueTables(call, true);
    const command = planDropTable(name, tables.filter((t) => t.state !== 'dropping'));
    const result = (await this.deps.router.propose(CATALOGUE_GROUP, encodeCatalogueCommand(command), call)) as CatalogueApplyResult;
    if (!result.ok) throw catalogueRefusal(result);
  }

  // ---- Keys ----

  async get(table: string, key: string, options: ReadOptions = {}): Promise<Versioned<unknown> | null> {
    if (options.consistency === 'stale') {
      const { info, partition } = await this.route(table, key, false);
      return this.staleClient(info, partition).get(key, stripConsistency(options));
    }
    return (await this.client(table, key)).get(key, stripConsistency(options));
  }

  async put(table: string, key: string, value: unknown, call: CallOptions = {}): Promise<{ version: number }> {
    return (await this.client(table, key)).put(key, value, call);
  }

  async delete(table: string, key: string, call: CallOptions = {}): Promise<{ version: number; existed: boolean }> {
    return (await this.client(table, key)).delete(key, call);
  }

  async cas(table: string, key: string, expected: unknown, value: unknown, call: CallOptions = {}): Promise<WriteOutcome<unknown>> {
    return (await this.client(table, key)).cas(key, expected, value, call);
  }

  async batch(table: string, ops: BatchOp<unknown>[], call: CallOptions = {}): Promise<WriteOutcome<unknown>> {
    if (ops.length === 0) throw new BadRequestError('a batch needs at least one operation');
    const info = await this.table(table);
    const partitions = new Map<number, string[]>();
    for (const op of ops) {
      const p = partitionOfKey(op.key, info.partitions.length);
      partitions.set(p, [...(partitions.get(p) ?? []), op.key]);
    }
    if (partitions.size > 1) {
      const where = [...partitions].map(([p, keys]) => `partition ${p}: ${keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}`).join('; ');
      throw new BadRequestError(`a batch must keep to one partition of table ${table}, these keys fall in ${partitions.size} (${where}): split the batch`);
    }
    return (await this.client(table, ops[0]!.key)).batch(ops, call);
  }

  async scan(table: string, options: TableScanOptions = {}): Promise<ScanPage<unknown>> {
    const info = await this.table(table);
    // A scan covers every partition in key order: read each page, merge, keep the first `limit`.
    const limit = Math.min(options.limit ?? DEFAULT_SCAN_LIMIT, MAX_SCAN_LIMIT);
    const pages = await Promise.all(
      info.partitions.map((p) =>
        options.consistency === 'stale'
          ? this.staleClient(info, p.partition).scan({ ...stripConsistency(options), limit })
          : (this.checkQuorum(info, p.partition), this.partitionClient(p.group).scan({ ...stripConsistency(options), limit })),
      ),
    );
    const items = pages.flatMap((page) => page.items).sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    const page = items.slice(0, limit);
    const more = items.length > limit || pages.some((p) => p.cursor !== null);
    return { items: page, cursor: more && page.length > 0 ? encodeCursor(encodeKey(page[page.length - 1]!.key)) : null };
  }

  // ---- Watch ----

  /**
   * Every committed change of `table` (under `prefix`) after a position, in
   * version order per partition, exactly once: an async iterator that runs
   * until `signal` aborts or the consumer stops. Ends with
   * WatchCompactedError when the changes asked for are no longer retained.
   */
  async *watch(table: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    const info = await this.table(table);
    yield* watchTable(
      {
        self: this.deps.self, raft: this.deps.raft, server: this.deps.watchServer, rpc: this.deps.rpc, addressOf: this.deps.addressOf,
        leaderOf: (group) => this.deps.router.leaderOf(group), isUp: (node) => node === this.deps.self || this.deps.members.stateOf(node) === 'up',
      },
      info,
      options,
    );
  }

  // ---- Views for status and routing ----

  /** Nodes holding a replica of `group` (the router tries them when no leader is known). */
  replicasOf = (group: string): NodeId[] => {
    if (group === CATALOGUE_GROUP) {
      const local = this.localMembership(group);
      return local ?? this.upMembers();
    }
    const p = this.directory()?.groups.get(group);
    return p === undefined ? [] : [...p.voters, ...p.learners];
  };

  // ---- Internals ----

  private describe(t: CatalogueTable): TableInfo {
    const host = this.deps.raft.host();
    const partitions = t.partitions.map((p) => {
      const s = host.status(p.group);
      const leader = s?.role === 'leader' ? this.deps.self : (s?.leader ?? this.deps.router.cachedLeader(p.group) ?? null);
      return { partition: p.partition, voters: p.voters, learners: p.learners, leader, underReplicated: p.voters.length < t.replicationFactor };
    });
    return {
      name: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.replicationFactor,
      state: t.state,
      underReplicated: partitions.some((p) => p.underReplicated),
      replicas: partitions,
    };
  }

  private async client(table: string, key: string): Promise<PartitionClient> {
    const { info, partition } = await this.route(table, key, true);
    return this.partitionClient(info.partitions[partition]!.group);
  }

  private partitionClient(group: string): PartitionClient {
    let client = this.clients.get(group);
    if (client === undefined) {
      if (this.clients.size > 4096) this.clients.clear();
      client = new PartitionClient(this.deps.router, group);
      this.clients.set(group, client);
    }
    return client;
  }

  private async route(table: string, key: string, needsQuorum: boolean): Promise<{ info: CatalogueTable; partition: number }> {
    if (typeof key !== 'string') throw new BadRequestError('a key must be a string');
    const info = await this.table(table);
    const partition = partitionOfKey(key, info.partitions.length);
    if (needsQuorum) this.checkQuorum(info, partition);
    return { info, partition };
  }

  /** A usable table: NoSuchTableError when absent or being dropped, unavailable while it is being created. */
  private async table(name: string): Promise<CatalogueTable> {
    let info = this.directory()?.tables.get(name);
    if (info?.state !== 'ready') {
      // A copy behind the catalogue's leader may not have the table yet, or not know it is ready: ask the leader before refusing.
      info = (await this.catalogueTables({}, true)).find((t) => t.name === name);
    }
    if (info === undefined || info.state === 'dropping') throw new NoSuchTableError(name);
    if (info.state === 'creating') throw new TableNotReadyError(name);
    return info;
  }

  /** Fails fast when fewer than a majority of the partition's voters are up. */
  private checkQuorum(info: CatalogueTable, partition: number): void {
    const problem = this.quorumProblem(info, partition);
    if (problem !== null) throw problem;
  }

  /** PartitionUnavailableError when fewer than a majority of the partition's voters are up and reachable; else null. */
  private quorumProblem(info: CatalogueTable, partition: number): PartitionUnavailableError | null {
    const voters = info.partitions[partition]!.voters;
    const live = (v: NodeId): boolean => {
      if (v === this.deps.self) return true;
      const s = this.deps.members.stateOf(v);
      return (s === 'up' || s === 'suspect' || s === 'joining' || s === 'leaving') && this.deps.unreachable?.(v) !== true;
    };
    const unreachable = voters.filter((v) => !live(v));
    return voters.length - unreachable.length < Math.floor(voters.length / 2) + 1 ? new PartitionUnavailableError(info.name, partition, unreachable, voters.length) : null;
  }

  /** For the router: checked before every attempt of a request to a partition (see RaftRouterOptions.availability). */
  availability = (group: string): Error | null => {
    const where = parsePartitionGroup(group);
    if (where === null) return null;
    const info = this.directory()?.tables.get(where.table);
    return info === undefined || info.incarnation !== where.incarnation ? null : this.quorumProblem(info, where.partition);
  };

  private async staleQuery<T>(table: string, partition: number, name: keyof typeof PARTITION_QUERIES, arg: unknown, options: RequestOptions): Promise<T> {
    const info = await this.table(table);
    const p = info.partitions[partition]!;
    const sm = this.deps.raft.host().stateMachine(p.group);
    if (sm !== null) return PARTITION_QUERIES[name](sm, arg as never) as T;
    const up = new Set(this.upMembers());
    let lastError: unknown = new PartitionUnavailableError(table, partition, [...p.voters, ...p.learners].filter((n) => !up.has(n)), p.voters.length);
    for (const node of [...p.voters, ...p.learners].filter((n) => up.has(n))) {
      const address = this.deps.addressOf(node);
      if (address === undefined) continue;
      try {
        return await this.deps.rpc.call<T>(address, RPC_TABLES_STALE_QUERY, { group: p.group, name, arg }, options);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  /** A client whose reads run on a replica as it is (stale); the partition client still encodes and decodes. */
  private staleClient(info: CatalogueTable, partition: number): PartitionClient {
    const access = {
      propose: () => Promise.reject(new TroupeError('ERR_INTERNAL', 'a stale read proposes nothing')),
      query: <T>(_group: string, name: string, arg: unknown, o?: RequestOptions) => this.staleQuery<T>(info.name, partition, name as keyof typeof PARTITION_QUERIES, arg, o ?? {}),
    };
    return new PartitionClient(access, info.partitions[partition]!.group);
  }

  /** The catalogue as this node's replica holds it, indexed; null when this node holds none. */
  private directory(): { tables: Map<string, CatalogueTable>; groups: Map<string, PartitionInfo> } | null {
    const host = this.deps.raft.host();
    const status = host.status(CATALOGUE_GROUP);
    if (status === null) return this.remoteDirectory();
    const key = `${status.applied}`;
    if (this.cache?.key !== key) {
      const tables = this.deps.machines.catalogue.list();
      this.cache = { key, tables: new Map(tables.map((t) => [t.name, t])), groups: new Map(tables.flatMap((t) => t.partitions.map((p) => [p.group, p] as const))) };
    }
    return this.cache;
  }

  private remoteDirectory(): { tables: Map<string, CatalogueTable>; groups: Map<string, PartitionInfo> } | null {
    if (this.remote === null || performance.now() - this.remote.at > REMOTE_CATALOGUE_TTL_MS) return null;
    const tables = this.remote.tables;
    return { tables: new Map(tables.map((t) => [t.name, t])), groups: new Map(tables.flatMap((t) => t.partitions.map((p) => [p.group, p] as const))) };
  }

  /** The catalogue's tables: linearizable at its leader when `fresh`, else the local copy when there is one. */
  private async catalogueTables(call: CallOptions, fresh: boolean): Promise<CatalogueTable[]> {
    if (!fresh && holds(this.deps.raft, CATALOGUE_GROUP)) return this.deps.machines.catalogue.list();
    if (!holds(this.deps.raft, CATALOGUE_GROUP) && !(await this.catalogueExists(call))) return [];
    const tables = await this.deps.router.query<CatalogueTable[]>(CATALOGUE_GROUP, 'catalogue.list', null, call);
    this.remote = { at: performance.now(), tables };
    return tables;
  }

  /** Whether any up member holds a catalogue replica (this one included). */
  private async catalogueExists(call: CallOptions): Promise<boolean> {
    if (holds(this.deps.raft, CATALOGUE_GROUP)) return true;
    const answers = await Promise.all(
      this.upMembers()
        .filter((n) => n !== this.deps.self)
        .map(async (node) => {
          const address = this.deps.addressOf(node);
          if (address === undefined) return false;
          const answer = await this.deps.rpc.call<ProbeAnswer>(address, RPC_TABLES_PROBE, null, { timeoutMs: Math.min(call.timeoutMs ?? 2_000, 2_000) }).catch(() => null);
          return answer?.catalogue === true;
        }),
    );
    return answers.some(Boolean);
  }

  /** Creates the cluster's catalogue if no up member holds one: on the lowest-named up member, as its only voter. */
  private async ensureCatalogue(call: CallOptions): Promise<void> {
    if (await this.catalogueExists(call)) return;
    const bootstrapper = this.upMembers().sort()[0] ?? this.deps.self;
    this.deps.log.info({ bootstrapper }, `no catalogue in the cluster yet: creating it on ${bootstrapper}`);
    if (bootstrapper === this.deps.self) {
      await this.deps.raft.createGroup(CATALOGUE_GROUP, { voters: [this.deps.self], learners: [] }, this.deps.machines.catalogue, { ...call, campaign: true });
      return;
    }
    const address = this.deps.addressOf(bootstrapper);
    if (address === undefined) throw new TroupeError('ERR_UNAVAILABLE', `no address known for ${bootstrapper}, which should create the catalogue: retry once membership has settled`, { retryable: true });
    await this.deps.rpc.call(address, RPC_TABLES_BOOTSTRAP, null, call);
  }

  private localMembership(group: string): NodeId[] | null {
    try {
      const s = this.deps.raft.host().status(group);
      return s === null ? null : [...s.membership.voters, ...s.membership.learners];
    } catch {
      return null;
    }
  }

  private upMembers(): NodeId[] {
    const up = this.deps.members.up();
    return up.includes(this.deps.self) ? up : [...up, this.deps.self];
  }

  private remaining(deadline: number, what: string): CallOptions {
    const left = deadline - performance.now();
    if (left <= 0) throw new TimeoutError(what, Math.round(left));
    return { timeoutMs: left };
  }
}

function catalogueRefusal(result: Exclude<CatalogueApplyResult, { ok: true }>): Error {
  switch (result.reason) {
    case 'exists':
      return new TableExistsError(result.table, result.state);
    case 'no-such-table':
      return new NoSuchTableError(result.table);
    default:
      return new BadRequestError(result.message);
  }
}

function stripConsistency<T extends { consistency?: unknown }>(options: T): Omit<T, 'consistency'> {
  const { consistency: _c, ...rest } = options;
  return rest;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
