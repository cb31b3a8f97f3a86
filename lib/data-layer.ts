/**
 * The data layer of a node, wired: the multi-Raft host actor (every group
 * replica on the node), the router that sends a group's requests to its
 * leader from any node, and the replicated tables on top (catalogue,
 * control loop, service, watches). node.ts starts it once the transport,
 * membership and the node's storage run, and stops it before them.
 */
import type { Ref } from 'nact';
import { MemberEvents } from '../actors/member-events.js';
import { spawnRaftHostActor, type RaftHostHandle } from '../actors/raft-host-actor.js';
import type { Logger } from './log.js';
import type { MemberStatus } from './node-api.js';
import type { Random } from './protocol/random.js';
import type { RaftConfig } from './protocol/raft/config.js';
import { RaftRouter } from './raft/forwarding.js';
import { RaftGroupReport } from './raft/group-report.js';
import type { RaftMetricsSnapshot } from './raft/raft-metrics.js';
import type { StateMachineFactory } from './raft/state-machine.js';
import type { Rpc } from './rpc/rpc.js';
import type { NodeStorage } from './storage/node-storage.js';
import { startTables, type NodeTables } from './tables/node-tables.js';
import { CATALOGUE_GROUP } from './tables/catalogue.js';
import { PARTITION_QUERIES } from './tables/partition-client.js';
import { CATALOGUE_QUERIES, TableStateMachines } from './tables/state-machines.js';
import type { Transport } from './transport/transport.js';

export interface DataLayerDeps {
  system: Ref<never>;
  self: string;
  storage: NodeStorage;
  /** When the node's data directory was first used (NodeStateStore.bornAt). */
  bornAt: number;
  transport: Transport;
  rpc: Rpc;
  memberEvents: MemberEvents;
  members: () => MemberStatus[];
  /** Whether the transport failed to dial this address since its link was last up. */
  dialFailed: (address: string) => boolean;
  raftConfig: Partial<RaftConfig>;
  defaultReplicationFactor: number;
  random: Random;
  log: Logger;
  onActorRestart: () => void;
  /** Overrides the tables' state machines (tests of the raft host alone). */
  stateMachines?: StateMachineFactory | undefined;
}

/** A Raft group's leader as this node's replica learnt it (null: none known). */
export interface LeaderChange {
  group: string;
  leader: string | null;
  term: number;
}

export interface DataLayer {
  raft: RaftHostHandle;
  router: RaftRouter;
  tables: NodeTables;
  report: RaftGroupReport;
  /** The Raft part of a /metrics scrape. */
  metrics(): RaftMetricsSnapshot;
  /** Ready for requests: the catalogue has a leader, when this node holds a copy of it (none yet: no table exists). */
  ready(): boolean;
  /** Calls `listener` for every leader change of a group replica on this node (the `$cluster` topic); returns the unsubscribe. */
  onLeaderChange(listener: (change: LeaderChange) => void): () => void;
  stop(): Promise<void>;
}

export function startDataLayer(deps: DataLayerDeps): DataLayer {
  const { self, memberEvents, log } = deps;
  const machines = new TableStateMachines(deps.storage);
  let tables: NodeTables | undefined;
  const leaderListeners = new Set<(change: LeaderChange) => void>();
  const raft = spawnRaftHostActor(deps.system, {
    self,
    storage: deps.storage,
    transport: deps.transport,
    members: memberEvents,
    stateMachineFor: deps.stateMachines ?? machines.stateMachineFor,
    onGroupEvent: (group, event) => {
      tables?.control.trigger();
      if (event.type === 'leader-changed') for (const listener of leaderListeners) listener({ group, leader: event.leader, term: event.term });
    },
    onGroupApplied: (group) => tables?.waiters.notify(group),
    config: deps.raftConfig,
    random: deps.random.fork(),
    log: log.child({ component: 'raft' }),
    supervision: { onRestart: deps.onActorRestart },
  });
  const report = new RaftGroupReport(() => raft.host());
  const router = new RaftRouter({
    self, raft, rpc: deps.rpc, addressOf: (node) => memberEvents.addressOf(node), transport: deps.transport, members: memberEvents,
    queries: { ...PARTITION_QUERIES, ...CATALOGUE_QUERIES }, replicasOf: (group) => tables?.service.replicasOf(group) ?? [], random: deps.random.fork(),
    availability: (group) => tables?.service.availability(group) ?? null,
  });
  tables = startTables({
    self, raft, router, rpc: deps.rpc, machines, memberEvents, members: deps.members, defaultReplicationFactor: deps.defaultReplicationFactor,
    log: log.child({ component: 'tables' }), sample: () => report.groups(), bornAt: deps.bornAt,
    unreachable: (node) => {
      const address = memberEvents.addressOf(node);
      return address !== undefined && deps.dialFailed(address);
    },
  });
  const started = tables;
  return {
    raft,
    router,
    tables: started,
    report,
    ready: () => raft.host().status(CATALOGUE_GROUP)?.leader !== null,
    onLeaderChange: (listener) => {
      leaderListeners.add(listener);
      return () => leaderListeners.delete(listener);
    },
    metrics: () => ({ groups: report.groups(), host: raft.stats(), proposalLatency: raft.host().proposalLatency, batchLatency: raft.host().batchLatency, router: router.stats, underReplicated: started.control.underReplicated }),
    async stop() {
      leaderListeners.clear();
      started.stop();
      router.close();
      await raft.stop().catch(() => {});
    },
  };
}
