/**
 * The tables' control loop, its decisions: given what one node sees (the
 * catalogue as its replica applied it, the Raft groups it holds and their
 * roles, the up members), what should this node do now? Pure: no clock, no
 * I/O; the control loop (control-loop.ts) executes the actions and asks
 * again. Every action is idempotent or refused harmlessly when stale, so
 * asking twice, or on a view a little behind, never does harm.
 *
 * Who acts, so that one node does each thing:
 * - every replica creates its own replica of a partition of a table being
 *   created, from its copy of the catalogue;
 * - the leader of a partition marks it ready, grows it (learner → voter) up
 *   to the table's factor, asks every member that has acknowledged nothing
 *   yet to create its replica (one added later, or one whose copy of the
 *   catalogue arrived after the table was ready), and records its
 *   membership in the catalogue;
 * - the leader of the catalogue grows the catalogue (up to
 *   CATALOGUE_MAX_REPLICAS voters, every other up member a learner, so every
 *   node holds a copy) and drives the drop of a table on its replicas;
 * - every node destroys replicas of tables the catalogue no longer has.
 */

import { changesOf, isExecutable } from '../protocol/placement.js';
import type { Membership, MembershipChange, NodeId, Role } from '../protocol/raft/types.js';
import {
  CATALOGUE_GROUP,
  parsePartitionGroup,
  pendingTasks,
  planCatalogueMembership,
  planTablePlacement,
  replicasUpdate,
  type PartitionInfo,
  type TableInfo,
  type UpdateReplicasCommand,
} from './catalogue.js';

/** A group replica this node holds, as its Raft core reports it. */
export interface LocalGroup {
  role: Role;
  leader: NodeId | null;
  membership: Membership;
  /** The membership the group was created with and when this replica was created (wall clock ms): what a member that lacks its replica recreates it from. */
  bootstrap: { membership: Membership; createdAt: number } | null;
  /** Leader only: how far each peer's log matches. */
  match: ReadonlyMap<NodeId, number> | null;
  /** Leader only: peers that have not answered for about an election timeout. */
  silent?: ReadonlySet<NodeId> | null;
}

export interface NodeView {
  self: NodeId;
  /** Up members, this node included. */
  up: readonly NodeId[];
  /** The catalogue as this node's replica applied it, with its applied index; null when this node holds no catalogue replica. */
  catalogue: { tables: readonly TableInfo[]; applied: number } | null;
  groups: ReadonlyMap<string, LocalGroup>;
}

export type TablesAction =
  /** Create this node's replica of a partition of a table being created. */
  | { kind: 'create-replica'; group: string; table: string; partition: number; membership: Membership; campaign: boolean }
  /** Propose mark-partition-ready (this node leads the partition). */
  | { kind: 'mark-ready'; table: string; incarnation: number; partition: number }
  /** One membership change of a group this node leads. */
  | { kind: 'change-membership'; group: string; change: MembershipChange }
  /**
   * Ask `node`, a member of a group this node leads that has acknowledged
   * nothing, to create its replica from the group's bootstrap membership.
   * `voter`: it is a voter now (it refuses if its data directory is younger
   * than the group: it lost its replica and must not vote with an empty log).
   */
  | { kind: 'host-replica'; group: string; node: NodeId; bootstrap: Membership; groupCreatedAt: number; voter: boolean }
  /** Propose update-replicas: the catalogue's record of a partition differs from its group's membership. */
  | { kind: 'record-replicas'; command: UpdateReplicasCommand }
  /** Catalogue leader: make every replica of a dropped partition destroy its data, then propose partition-dropped. */
  | { kind: 'drop-partition'; table: string; incarnation: number; partition: number; group: string; replicas: NodeId[] }
  /** Destroy this node's replica of a partition of a table the catalogue no longer has. */
  | { kind: 'destroy-local'; group: string }
  /** A table whose partitions have fewer voters than its factor (report it once). */
  | { kind: 'under-replicated'; table: string; partitions: number[]; replicationFactor: number; voters: number };

const sorted = (nodes: readonly NodeId[]): NodeId[] => [...nodes].sort();

const sameMembers = (a: Membership, b: { voters: readonly NodeId[]; learners: readonly NodeId[] }): boolean =>
  sorted(a.voters).join('\0') === sorted(b.voters).join('\0') && sorted(a.learners).join('\0') === sorted(b.learners).join('\0');

/** Everything this node should do now, in no particular order. */
export function reconcile(view: NodeView): TablesAction[] {
  const actions: TablesAction[] = [];
  const catalogueGroup = view.groups.get(CATALOGUE_GROUP);
  if (catalogueGroup?.role === 'leader') actions.push(...growCatalogue(view, catalogueGroup));
  if (catalogueGroup !== undefined) actions.push(...tellAddedReplicas(CATALOGUE_GROUP, catalogueGroup, view.up));
  if (view.catalogue === null) return actions;
  const byGroup = new Map<string, { table: TableInfo; partition: PartitionInfo }>();
  for (const table of view.catalogue.tables) {
    for (const partition of table.partitions) byGroup.set(partition.group, { table, partition });
    actions.push(...tableActions(view, table, catalogueGroup?.role === 'leader'));
  }
  for (const group of view.groups.keys()) {
    const id = parsePartitionGroup(group);
    // A group of a table created at or before what this catalogue applied, and absent from it: dropped while we were away.
    if (id !== null && id.incarnation <= view.catalogue.applied && !byGroup.has(group)) actions.push({ kind: 'destroy-local', group });
  }
  return actions;
}

function tableActions(view: NodeView, table: TableInfo, leadsCatalogue: boolean): TablesAction[] {
  const actions: TablesAction[] = [];
  if (table.state === 'dropping') {
    if (leadsCatalogue) for (const task of pendingTasks(table)) if (task.kind === 'destroy') actions.push({ kind: 'drop-partition', ...withoutKind(task) });
    return actions;
  }
  const short = table.partitions.filter((p) => p.voters.length < table.replicationFactor).map((p) => p.partition);
  if (short.length > 0) actions.push({ kind: 'under-replicated', table: table.name, partitions: short, replicationFactor: table.replicationFactor, voters: Math.min(...table.partitions.map((p) => p.voters.length)) });
  for (const p of table.partitions) {
    const local = view.groups.get(p.group);
    if (local === undefined) {
      if (table.state === 'creating' && !p.ready && p.voters.includes(view.self)) {
        actions.push({ kind: 'create-replica', group: p.group, table: table.name, partition: p.partition, membership: { voters: sorted(p.voters), learners: sorted(p.learners) }, campaign: p.voters[0] === view.self });
      }
      continue;
    }
    if (local.role !== 'leader') continue;
    if (!p.ready) {
      actions.push({ kind: 'mark-ready', table: table.name, incarnation: table.incarnation, partition: p.partition });
      continue;
    }
    if (!sameMembers(local.membership, p)) actions.push({ kind: 'record-replicas', command: replicasUpdate(table, p.partition, local.membership) });
    actions.push(...tellAddedReplicas(p.group, local, view.up));
    // Plan from what the group holds now, which may be ahead of the catalogue's record.
    const [plan] = planTablePlacement({ ...table, partitions: [{ ...p, voters: local.membership.voters, learners: local.membership.learners }] }, view.up);
    const step = plan?.steps.find(isExecutable);
    if (step !== undefined && table.state === 'ready') {
      const [change] = changesOf(step, local.membership);
      if (change !== undefined) actions.push({ kind: 'change-membership', group: p.group, change });
    }
  }
  return actions;
}

/** The catalogue leader's next membership change: voters up to CATALOGUE_MAX_REPLICAS, then every other up member as a learner. */
function growCatalogue(view: NodeView, g: LocalGroup): TablesAction[] {
  const { next } = planCatalogueMembership(g.membership, view.up);
  if (next !== null) return [{ kind: 'change-membership', group: CATALOGUE_GROUP, change: next }];
  const missing = view.up.filter((n) => !g.membership.voters.includes(n) && !g.membership.learners.includes(n)).sort();
  return missing.length === 0 ? [] : [{ kind: 'change-membership', group: CATALOGUE_GROUP, change: { type: 'add-learner', node: missing[0]! } }];
}

/**
 * Leader: members that have acknowledged nothing yet, or that are up but
 * silent in this group (restarted without their replica), are told to create
 * their replica (idempotent where it exists; refused by a voter that lost it).
 */
function tellAddedReplicas(group: string, g: LocalGroup, up: readonly NodeId[]): TablesAction[] {
  if (g.role !== 'leader' || g.bootstrap === null || g.match === null) return [];
  const { membership: bootstrap, createdAt } = g.bootstrap;
  const missing = (node: NodeId): boolean => g.match!.get(node) === 0 || (g.silent?.has(node) === true && up.includes(node));
  return [...g.membership.voters, ...g.membership.learners]
    .filter((node) => g.match!.has(node) && missing(node))
    .map((node) => ({ kind: 'host-replica', group, node, bootstrap, groupCreatedAt: createdAt, voter: g.membership.voters.includes(node) }));
}

function withoutKind<T extends { kind: string }>(task: T): Omit<T, 'kind'> {
  const { kind: _kind, ...rest } = task;
  return rest;
}

export type { Role };
