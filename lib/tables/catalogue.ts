/**
 * The catalogue of tables: which tables exist, with their partitions and the
 * replica sets of those partitions. It is the state of one system Raft group,
 * CATALOGUE_GROUP, replicated on up to CATALOGUE_MAX_REPLICAS nodes, so every
 * node agrees on it (catalogue-state-machine.ts applies it). This module is
 * its pure part: the names and limits, the commands and their encoding, the
 * decisions a proposer makes before proposing, and the choice of the
 * catalogue group's own members.
 *
 * Naming: partition `n` (0-based) of table `t` created at Raft index `i` (its
 * incarnation) is the Raft group `t/n@i` (`partitionGroup`). The incarnation
 * is part of the id so that a table dropped and created again never meets the
 * old table's replicas: a node that was down through the drop still holds
 * `t/n@i` and destroys it, while the new table's groups are `t/n@j`.
 * Placement hashes `t/n` (`placementKey`), known before the create commits.
 * Table names are a letter and up to 63 more of [A-Za-z0-9_.-]
 * (TABLE_NAME_PATTERN), so they hold no `/` or `@` and a group id names one
 * partition; the catalogue group, `$catalogue`, can never be a partition's.
 *
 * Lifecycle of a table (each step one committed command):
 *
 *   create-table           → 'creating', every partition not ready. The
 *                            proposer computes the replica sets (placement over
 *                            the up members) and puts them in the command, so
 *                            every replica applies the same sets.
 *   mark-partition-ready   the partition's group has a leader; once every
 *                            partition is ready the table is 'ready' (usable).
 *   drop-table             → 'dropping' (unusable at once).
 *   partition-dropped      every replica of the partition destroyed its data;
 *                            once every partition is dropped the table is
 *                            removed from the catalogue and its name is free.
 *   update-replicas        a partition's voters and learners after a
 *                            membership change (placement's growth steps).
 *
 * A table's `incarnation` is the Raft index of the entry that created it. The
 * commands about an existing table name it, so a late command about an
 * earlier table of the same name (dropped and created again) is refused as
 * stale instead of changing the new one.
 *
 * Checks, as for partition commands (commands.ts): the limits (table count,
 * partitions, replication factor) and "exists / no such table" are enforced
 * at propose time with typed errors (`planCreateTable`, `planDropTable`,
 * `encodeCatalogueCommand`); at apply time `decodeCatalogueCommand` checks the
 * shape and the state machine checks the state, both answering as data,
 * never throwing. Two creates proposed concurrently on different nodes can
 * both pass the propose-time table count: MAX_TABLES may be exceeded by the
 * number of such races, never more; a duplicate name is refused at apply.
 *
 * Wire form (msgpack, positional):
 *
 *   [1, 'create',   name, partitions, replicationFactor, [[voter, …], …]]
 *   [1, 'ready',    name, incarnation, partition]
 *   [1, 'drop',     name]
 *   [1, 'dropped',  name, incarnation, partition]
 *   [1, 'replicas', name, incarnation, partition, [voter, …], [learner, …]]
 */

import { Packr } from 'msgpackr';
import { BadRequestError, LimitExceededError, NoSuchTableError, TableExistsError } from '../errors.js';
import { planPlacement, replicasFor, type PartitionPlan } from '../protocol/placement.js';
import type { Membership, MembershipChange, NodeId } from '../protocol/raft/types.js';

// ---- Names and limits ----

/** The Raft group that holds the catalogue. `$` is not allowed in table names, so no partition group has this id. */
export const CATALOGUE_GROUP = '$catalogue';

/** Most voters of the catalogue group. @default 5: survives two failures; more would slow every catalogue write for little gain. */
export const CATALOGUE_MAX_REPLICAS = 5;

/** Longest table name, in characters (ASCII). @default 64 */
export const MAX_TABLE_NAME_LENGTH = 64;

/** A table name: a letter, then up to MAX_TABLE_NAME_LENGTH - 1 letters, digits, `_`, `.` and `-` (names become metric labels and group ids). */
export const TABLE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Most tables in a cluster. @default 1024 (each table costs its partitions' Raft groups on every replica). */
export const MAX_TABLES = 1024;

/** Most partitions of one table. @default 256 */
export const MAX_PARTITIONS = 256;

/** Partitions of a table created without a count. @default 16: spreads a table over up to 16 leaders at a small per-group cost. */
export const DEFAULT_PARTITIONS = 16;

/** Largest replication factor of a table. @default 7: every write waits for a majority of the replicas. */
export const MAX_REPLICATION_FACTOR = 7;

/** Version of the catalogue command encoding; a replica refuses (as data) an entry of a format it does not know. */
export const CATALOGUE_COMMAND_FORMAT = 1;

/** What placement hashes for a partition: `<table>/<partition>` (the incarnation is not known before the create commits). */
export function placementKey(table: string, partition: number): string {
  return `${table}/${partition}`;
}

/** The Raft group id of partition `partition` of the table `table` created at index `incarnation`: `<table>/<partition>@<incarnation>`. */
export function partitionGroup(table: string, partition: number, incarnation: number): string {
  return `${table}/${partition}@${incarnation}`;
}

const NUMBER = /^(0|[1-9][0-9]*)$/;

/** The table, partition and incarnation a partition group id names, or null for any other id (the catalogue's, say). */
export function parsePartitionGroup(group: string): { table: string; partition: number; incarnation: number } | null {
  const slash = group.lastIndexOf('/');
  const at = group.lastIndexOf('@');
  if (slash <= 0 || at < slash) return null;
  const table = group.slice(0, slash);
  const partition = group.slice(slash + 1, at);
  const incarnation = group.slice(at + 1);
  if (!TABLE_NAME_PATTERN.test(table) || !NUMBER.test(partition) || !NUMBER.test(incarnation)) return null;
  return { table, partition: Number(partition), incarnation: Number(incarnation) };
}

/** Why `name` is not a valid table name, or null when it is. */
export function tableNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return `a table name must be a string, got ${typeof name}`;
  if (TABLE_NAME_PATTERN.test(name)) return null;
  if (name.length === 0) return 'a table name must not be empty';
  if (name.length > MAX_TABLE_NAME_LENGTH) return `table name is ${name.length} characters, the limit is ${MAX_TABLE_NAME_LENGTH}`;
  return `table name ${JSON.stringify(name)} must start with a letter and hold only letters, digits, '_', '.' and '-'`;
}

// ---- State, as queries return it ----

export type TableState = 'creating' | 'ready' | 'dropping';

export interface PartitionInfo {
  partition: number;
  /** Its Raft group id, `<table>/<partition>@<incarnation>`. */
  group: string;
  /** As placed (highest rendezvous score first), then as the last update-replicas set them. */
  voters: NodeId[];
  learners: NodeId[];
  /** Its group has had a leader (set once, while the table was being created). */
  ready: boolean;
  /** Every replica destroyed its data (only while the table is being dropped). */
  dropped: boolean;
}

export interface TableInfo {
  name: string;
  /** The Raft index of the entry that created the table. */
  incarnation: number;
  replicationFactor: number;
  state: TableState;
  partitions: PartitionInfo[];
}

// ---- Commands ----

export type CreateTableCommand = { op: 'create-table'; name: string; partitions: number; replicationFactor: number; replicas: NodeId[][] };
export type MarkPartitionReadyCommand = { op: 'mark-partition-ready'; table: string; incarnation: number; partition: number };
export type DropTableCommand = { op: 'drop-table'; table: string };
export type PartitionDroppedCommand = { op: 'partition-dropped'; table: string; incarnation: number; partition: number };
export type UpdateReplicasCommand = { op: 'update-replicas'; table: string; incarnation: number; partition: number; voters: NodeId[]; learners: NodeId[] };
export type CatalogueCommand = CreateTableCommand | MarkPartitionReadyCommand | DropTableCommand | PartitionDroppedCommand | UpdateReplicasCommand;

/** A command that `decodeCatalogueCommand` could not read: returned as data. */
export interface MalformedCatalogueCommand {
  op: 'malformed';
  reason: string;
}

/** Plain msgpack (no records): equal inputs give equal bytes on every node. */
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

const TAGS = {
  'create-table': 'create',
  'mark-partition-ready': 'ready',
  'drop-table': 'drop',
  'partition-dropped': 'dropped',
  'update-replicas': 'replicas',
} as const;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNodeList = (v: unknown): v is NodeId[] => Array.isArray(v) && v.every((n) => typeof n === 'string' && n.length > 0) && new Set(v).size === v.length;

/** Why a partition's voters and learners are not acceptable, or null. */
function membersProblem(voters: unknown, learners: unknown): string | null {
  if (!isNodeList(voters) || voters.length === 0) return 'voters must be a non-empty list of distinct node names';
  if (!isNodeList(learners)) return 'learners must be a list of distinct node names';
  if (learners.some((n) => voters.includes(n))) return 'a node cannot be both a voter and a learner';
  return null;
}

/** Shape of a command (no limits): the one check both ends make. Null when well-formed. */
function shapeProblem(c: CatalogueCommand): string | null {
  switch (c.op) {
    case 'create-table': {
      const name = tableNameProblem(c.name);
      if (name !== null) return name;
      if (!isCount(c.partitions)) return `partitions must be a positive integer, got ${String(c.partitions)}`;
      if (!isCount(c.replicationFactor)) return `replication factor must be a positive integer, got ${String(c.replicationFactor)}`;
      if (!Array.isArray(c.replicas) || c.replicas.length !== c.partitions) return `a create needs one replica set per partition (${c.partitions})`;
      for (const [i, set] of c.replicas.entries()) {
        if (!isNodeList(set) || set.length === 0) return `the replica set of partition ${i} must be a non-empty list of distinct node names`;
      }
      return null;
    }
    case 'drop-table':
      return tableNameProblem(c.table);
    case 'mark-partition-ready':
    case 'partition-dropped':
    case 'update-replicas': {
      const name = tableNameProblem(c.table);
      if (name !== null) return name;
      if (!isIndex(c.incarnation)) return `incarnation must be a Raft index, got ${String(c.incarnation)}`;
      if (!isIndex(c.partition)) return `partition must be a non-negative integer, got ${String(c.partition)}`;
      return c.op === 'update-replicas' ? membersProblem(c.voters, c.learners) : null;
    }
    default:
      return `unknown catalogue operation ${JSON.stringify((c as { op: unknown }).op)}`;
  }
}

function tuple(c: CatalogueCommand): unknown[] {
  switch (c.op) {
    case 'create-table':
      return [CATALOGUE_COMMAND_FORMAT, TAGS[c.op], c.name, c.partitions, c.replicationFactor, c.replicas];
    case 'mark-partition-ready':
    case 'partition-dropped':
      return [CATALOGUE_COMMAND_FORMAT, TAGS[c.op], c.table, c.incarnation, c.partition];
    case 'drop-table':
      return [CATALOGUE_COMMAND_FORMAT, TAGS[c.op], c.table];
    case 'update-replicas':
      return [CATALOGUE_COMMAND_FORMAT, TAGS[c.op], c.table, c.incarnation, c.partition, c.voters, c.learners];
  }
}

/**
 * The entry data of `command`, after checking its shape and the limits
 * (propose time).
 * @throws BadRequestError (shape, name), LimitExceededError (partitions, replication factor)
 */
export function encodeCatalogueCommand(command: CatalogueCommand): Uint8Array {
  if (command.op === 'create-table') checkCreateLimits(command.partitions, command.replicationFactor);
  const problem = shapeProblem(command);
  if (problem !== null) throw new BadRequestError(problem);
  return packr.pack(tuple(command));
}

/**
 * The command an entry carries, or why it is malformed (apply time). Never
 * throws and depends on nothing but `data`. It checks the shape (and the table
 * name rule, which is part of a group id), not the limits.
 */
export function decodeCatalogueCommand(data: Uint8Array): CatalogueCommand | MalformedCatalogueCommand {
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch {
    return { op: 'malformed', reason: 'the entry is not msgpack' };
  }
  if (!Array.isArray(raw) || raw.length < 3) return { op: 'malformed', reason: 'the entry is not a catalogue command list' };
  if (raw[0] !== CATALOGUE_COMMAND_FORMAT) return { op: 'malformed', reason: `unknown catalogue command format ${JSON.stringify(raw[0])} (this node reads ${CATALOGUE_COMMAND_FORMAT})` };
  const [, tag, a, b, c, d, e] = raw as unknown[];
  const arity = (n: number): boolean => raw.length === n;
  let command: CatalogueCommand | null = null;
  switch (tag) {
    case TAGS['create-table']:
      if (arity(6)) command = { op: 'create-table', name: a as string, partitions: b as number, replicationFactor: c as number, replicas: d as NodeId[][] };
      break;
    case TAGS['mark-partition-ready']:
      if (arity(5)) command = { op: 'mark-partition-ready', table: a as string, incarnation: b as number, partition: c as number };
      break;
    case TAGS['drop-table']:
      if (arity(3)) command = { op: 'drop-table', table: a as string };
      break;
    case TAGS['partition-dropped']:
      if (arity(5)) command = { op: 'partition-dropped', table: a as string, incarnation: b as number, partition: c as number };
      break;
    case TAGS['update-replicas']:
      if (arity(7)) command = { op: 'update-replicas', table: a as string, incarnation: b as number, partition: c as number, voters: d as NodeId[], learners: e as NodeId[] };
      break;
    default:
      return { op: 'malformed', reason: `unknown catalogue operation ${JSON.stringify(tag)}` };
  }
  if (command === null) return { op: 'malformed', reason: `catalogue operation ${JSON.stringify(tag)} has ${raw.length - 2} fields` };
  const problem = shapeProblem(command);
  return problem === null ? command : { op: 'malformed', reason: problem };
}

// ---- Decisions of the proposer (propose time) ----

function checkCreateLimits(partitions: unknown, replicationFactor: unknown): void {
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1) {
    throw new BadRequestError(`partitions must be a positive integer, got ${String(partitions)}`);
  }
  if (partitions > MAX_PARTITIONS) {
    throw new LimitExceededError(MAX_PARTITIONS, partitions, `a table may have at most ${MAX_PARTITIONS} partitions, ${partitions} were asked for: use fewer partitions`);
  }
  if (typeof replicationFactor !== 'number' || !Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new BadRequestError(`replication factor must be a positive integer, got ${String(replicationFactor)}`);
  }
  if (replicationFactor > MAX_REPLICATION_FACTOR) {
    throw new LimitExceededError(MAX_REPLICATION_FACTOR, replicationFactor, `the replication factor may be at most ${MAX_REPLICATION_FACTOR}, ${replicationFactor} was asked for: every write waits for a majority of the replicas`);
  }
}

export interface CreateTableOptions {
  /** @default DEFAULT_PARTITIONS */
  partitions?: number;
  /** @default the node's REPLICATION_FACTOR */
  replicationFactor?: number;
}

/**
 * The create-table command for `name`, with the replica sets placement gives
 * over `upMembers`, after enforcing the name rule and the limits against the
 * catalogue's current `tables`. A factor above the number of up members is
 * allowed (every up member holds a replica; placement grows the partitions
 * when nodes join).
 * @throws BadRequestError, LimitExceededError, TableExistsError
 */
export function planCreateTable(
  name: string,
  options: CreateTableOptions,
  context: { tables: readonly TableInfo[]; upMembers: Iterable<NodeId>; defaultReplicationFactor: number },
): CreateTableCommand {
  const problem = tableNameProblem(name);
  if (problem !== null) throw new BadRequestError(problem);
  const partitions = options.partitions ?? DEFAULT_PARTITIONS;
  const replicationFactor = options.replicationFactor ?? context.defaultReplicationFactor;
  checkCreateLimits(partitions, replicationFactor);
  const existing = context.tables.find((t) => t.name === name);
  if (existing !== undefined) throw new TableExistsError(name, existing.state);
  if (context.tables.length >= MAX_TABLES) {
    throw new LimitExceededError(MAX_TABLES, context.tables.length + 1, `the cluster may hold at most ${MAX_TABLES} tables: drop a table first`);
  }
  const up = [...new Set(context.upMembers)];
  if (up.length === 0) throw new BadRequestError('no member is up to hold the table: start a node first');
  const replicas = Array.from({ length: partitions }, (_, i) => replicasFor(placementKey(name, i), up, replicationFactor).replicas);
  return { op: 'create-table', name, partitions, replicationFactor, replicas };
}

/**
 * The drop-table command for `name`.
 * @throws BadRequestError (name), NoSuchTableError
 */
export function planDropTable(name: string, tables: readonly TableInfo[]): DropTableCommand {
  const problem = tableNameProblem(name);
  if (problem !== null) throw new BadRequestError(problem);
  if (!tables.some((t) => t.name === name)) throw new NoSuchTableError(name);
  return { op: 'drop-table', table: name };
}

/** What a node should do for a table's partitions now, from the catalogue alone. */
export type PartitionTask =
  | { kind: 'await-leader'; table: string; incarnation: number; partition: number; group: string; voters: NodeId[] }
  | { kind: 'destroy'; table: string; incarnation: number; partition: number; group: string; replicas: NodeId[] };

/**
 * The outstanding work of a table: while 'creating', the partitions still
 * waiting for a leader (propose mark-partition-ready when one is seen); while
 * 'dropping', the partitions whose replicas must destroy their data (propose
 * partition-dropped once all of them confirmed). None for a ready table.
 */
export function pendingTasks(table: TableInfo): PartitionTask[] {
  const base = (p: PartitionInfo) => ({ table: table.name, incarnation: table.incarnation, partition: p.partition, group: p.group });
  if (table.state === 'creating') return table.partitions.filter((p) => !p.ready).map((p) => ({ kind: 'await-leader', ...base(p), voters: p.voters }));
  if (table.state === 'dropping') return table.partitions.filter((p) => !p.dropped).map((p) => ({ kind: 'destroy', ...base(p), replicas: [...p.voters, ...p.learners] }));
  return [];
}

/**
 * Placement's plan for every partition of `table` over `upMembers` at the
 * table's own factor (planPlacement); its executable steps, once a group
 * adopted them, are recorded with `replicasUpdate`.
 */
export function planTablePlacement(table: TableInfo, upMembers: Iterable<NodeId>): PartitionPlan[] {
  const current = new Map<string, Membership>(table.partitions.map((p) => [placementKey(table.name, p.partition), { voters: p.voters, learners: p.learners }]));
  return planPlacement(current, upMembers, table.replicationFactor);
}

/** The update-replicas command recording a partition's membership after a change. */
export function replicasUpdate(table: TableInfo, partition: number, membership: Membership): UpdateReplicasCommand {
  return { op: 'update-replicas', table: table.name, incarnation: table.incarnation, partition, voters: [...membership.voters], learners: [...membership.learners] };
}

// ---- The catalogue group's own members ----

/**
 * The nodes that should hold the catalogue: up to CATALOGUE_MAX_REPLICAS up
 * members by rendezvous score for CATALOGUE_GROUP, highest first. Every node
 * computes the same set from the same members, in any order; a join or leave
 * changes it only where the node scores in the top five.
 */
export function catalogueReplicas(upMembers: Iterable<NodeId>): NodeId[] {
  return replicasFor(CATALOGUE_GROUP, upMembers, CATALOGUE_MAX_REPLICAS).replicas;
}

/**
 * What to do with the catalogue group as members join: placement's plan for
 * it at CATALOGUE_MAX_REPLICAS (growth to five voters, one single-server
 * change at a time, then reports), and the next change to execute, if any
 * (execute it, wait until the group adopted it, then ask again).
 */
export function planCatalogueMembership(current: Membership, upMembers: Iterable<NodeId>): { plan: PartitionPlan; next: MembershipChange | null } {
  const [plan] = planPlacement(new Map([[CATALOGUE_GROUP, current]]), upMembers, CATALOGUE_MAX_REPLICAS);
  const step = plan!.steps.find((s) => s.kind === 'add-learner' || s.kind === 'promote');
  return { plan: plan!, next: step === undefined ? null : { type: step.kind as 'add-learner' | 'promote', node: step.node } };
}
