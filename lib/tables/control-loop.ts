/**
 * The tables' control loop on one node: builds the node's view (catalogue,
 * local groups, up members), asks `reconcile` what to do, and does it. It
 * runs every `intervalMs` and soon after anything that may change the answer
 * (a member event, a leader change, a catalogue entry applied).
 *
 * Actions run asynchronously, at most one per key (kind and group) at a time;
 * a failed action is logged at debug and simply decided again on a later
 * run, since every action is idempotent or refused harmlessly when stale.
 * Under-replication is logged once per table and replica count.
 */

import type { RaftHostHandle } from '../../actors/raft-host-actor.js';
import type { Logger } from '../log.js';
import type { NodeId } from '../protocol/raft/types.js';
import type { RaftRouter } from '../raft/forwarding.js';
import type { Rpc } from '../rpc/rpc.js';
import { CATALOGUE_GROUP, encodeCatalogueCommand, type CatalogueCommand } from './catalogue.js';
import { reconcile, type LocalGroup, type NodeView, type TablesAction } from './reconcile.js';
import { RPC_TABLES_DESTROY_REPLICA, RPC_TABLES_HOST_REPLICA } from './replica-rpc.js';
import type { TableStateMachines } from './state-machines.js';

/** Period of the control loop, ms. @default 500: creation and growth steps follow events at once; the period only retries. */
export const DEFAULT_CONTROL_INTERVAL_MS = 500;
/** Deadline of one action's request, ms. @default 5000 */
const ACTION_TIMEOUT_MS = 5_000;

export interface ControlLoopDeps {
  self: NodeId;
  raft: RaftHostHandle;
  router: RaftRouter;
  rpc: Rpc;
  machines: TableStateMachines;
  /** Up members, this node included. */
  upMembers: () => NodeId[];
  addressOf: (node: NodeId) => string | undefined;
  log: Logger;
  intervalMs?: number;
  /** Called on every run (the raft report samples replication lag). */
  sample?: () => void;
}

export interface ControlLoopStats {
  runs: number;
  actions: number;
  failures: number;
}

export class TablesControlLoop {
  readonly stats: ControlLoopStats = { runs: 0, actions: 0, failures: 0 };
  /** Tables (name and incarnation) reported under-replicated, with the voter count reported. */
  readonly underReplicated = new Map<string, { table: string; partitions: number[]; replicationFactor: number; voters: number }>();
  private readonly inFlight = new Set<string>();
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;
  private leadsCatalogue = false;

  constructor(private readonly deps: ControlLoopDeps) {}

  start(): void {
    this.timer = setInterval(() => this.run(), this.deps.intervalMs ?? DEFAULT_CONTROL_INTERVAL_MS);
    this.timer.unref();
    this.trigger();
  }

  /** Runs the loop soon (coalesces bursts of events into one run). */
  trigger(): void {
    if (this.stopped || this.soon !== undefined) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.run();
    }, 5);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  /**
   * A member came up (it may have restarted, possibly without its data): for
   * every group this node leads that counts it as a member, ask it to hold
   * its replica — a no-op where it does, a recreation where it never had it,
   * a refusal (logged there) where its data directory was emptied.
   */
  memberUp(node: NodeId): void {
    if (this.stopped || node === this.deps.self) return;
    let host;
    try {
      host = this.deps.raft.host();
    } catch {
      return;
    }
    for (const group of host.groupIds()) {
      const s = host.status(group);
      const bootstrap = host.bootstrap(group);
      if (s === null || bootstrap === null || s.role !== 'leader') continue;
      const voter = s.membership.voters.includes(node);
      if (!voter && !s.membership.learners.includes(node)) continue;
      this.runAction({ kind: 'host-replica', group, node, bootstrap: bootstrap.membership, groupCreatedAt: bootstrap.createdAt, voter });
    }
  }

  /** What this node sees now. */
  view(): NodeView {
    const host = this.deps.raft.host();
    const groups = new Map<string, LocalGroup>();
    for (const id of host.groupIds()) {
      const s = host.status(id);
      if (s === null) continue;
      groups.set(id, { role: s.role, leader: s.leader, membership: s.membership, bootstrap: host.bootstrap(id), match: s.role === 'leader' ? host.replication(id) : null, silent: s.role === 'leader' ? host.silentPeers(id) : null });
    }
    const catalogueStatus = host.status(CATALOGUE_GROUP);
    const catalogue = catalogueStatus === null ? null : { tables: this.deps.machines.catalogue.list(), applied: catalogueStatus.applied };
    return { self: this.deps.self, up: this.deps.upMembers(), catalogue, groups };
  }

  private run(): void {
    if (this.stopped) return;
    this.stats.runs++;
    let actions: TablesAction[];
    let view: NodeView;
    try {
      this.deps.sample?.();
      view = this.view();
      actions = reconcile(view);
    } catch (err) {
      this.deps.log.debug({ err }, 'tables control loop: no view yet');
      return;
    }
    this.underReplicated.clear();
    this.leadsCatalogue = view.groups.get(CATALOGUE_GROUP)?.role === 'leader';
    for (const action of actions) this.runAction(action);
  }

  private runAction(action: TablesAction): void {
    const key = actionKey(action);
    if (key === null) return this.report(action);
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    this.stats.actions++;
    this.execute(action)
      .catch((err: unknown) => {
        this.stats.failures++;
        this.deps.log.debug({ err, action: action.kind, key }, 'tables control action failed; it will be decided again');
      })
      .finally(() => {
        this.inFlight.delete(key);
      });
  }

  private async execute(action: TablesAction): Promise<void> {
    const { raft, machines, log } = this.deps;
    const options = { timeoutMs: ACTION_TIMEOUT_MS };
    switch (action.kind) {
      case 'create-replica':
        await raft.createGroup(action.group, action.membership, machines.stateMachineFor(action.group), { ...options, campaign: action.campaign });
        return;
      case 'mark-ready':
        await this.proposeCatalogue({ op: 'mark-partition-ready', table: action.table, incarnation: action.incarnation, partition: action.partition });
        return;
      case 'record-replicas':
        await this.proposeCatalogue(action.command);
        return;
      case 'change-membership':
        await raft.changeMembership(action.group, action.change, options);
        log.info({ group: action.group, change: action.change }, `raft group ${action.group}: ${action.change.type} ${action.change.node}`);
        this.trigger();
        return;
      case 'host-replica':
        await this.call(action.node, RPC_TABLES_HOST_REPLICA, { group: action.group, bootstrap: action.bootstrap, groupCreatedAt: action.groupCreatedAt, voter: action.voter });
        return;
      case 'drop-partition':
        await Promise.all(action.replicas.map((node) => (node === this.deps.self ? raft.destroyGroup(action.group, options) : this.call(node, RPC_TABLES_DESTROY_REPLICA, { group: action.group }))));
        await this.proposeCatalogue({ op: 'partition-dropped', table: action.table, incarnation: action.incarnation, partition: action.partition });
        return;
      case 'destroy-local':
        await raft.destroyGroup(action.group, options);
        log.info({ group: action.group }, `destroyed the replica of ${action.group}: its table was dropped`);
        return;
      default:
        return;
    }
  }

  private report(action: TablesAction): void {
    if (action.kind === 'under-replicated') {
      this.underReplicated.set(action.table, action);
      // Logged by the catalogue's leader only: one line for the cluster, not one per node.
      if (!this.leadsCatalogue) return;
      const key = `under:${action.table}:${action.replicationFactor}:${action.voters}`;
      if (this.reported.has(key)) return;
      this.reported.add(key);
      this.deps.log.warn(action, `table ${action.table} is under-replicated: ${action.voters} of ${action.replicationFactor} replicas (REPLICATION_FACTOR is greater than the up nodes); partitions gain replicas as nodes join`);
    }
  }

  private async proposeCatalogue(command: CatalogueCommand): Promise<void> {
    await this.deps.router.propose(CATALOGUE_GROUP, encodeCatalogueCommand(command), { timeoutMs: ACTION_TIMEOUT_MS });
    this.trigger();
  }

  private async call(node: NodeId, method: string, arg: unknown): Promise<void> {
    const address = this.deps.addressOf(node);
    if (address === undefined) throw new Error(`no address known for ${node}`);
    await this.deps.rpc.call(address, method, arg, { timeoutMs: ACTION_TIMEOUT_MS });
  }
}

/** One action of a kind per group at a time; reports have no key (they run inline). */
function actionKey(action: TablesAction): string | null {
  switch (action.kind) {
    case 'under-replicated':
      return null;
    case 'mark-ready':
      return `mark-ready:${action.table}/${action.partition}@${action.incarnation}`;
    case 'record-replicas':
      return `record:${action.command.table}/${action.command.partition}`;
    case 'host-replica':
      return `host:${action.group}:${action.node}`;
    case 'change-membership':
      return `change:${action.group}`;
    default:
      return `${action.kind}:${action.group}`;
  }
}
