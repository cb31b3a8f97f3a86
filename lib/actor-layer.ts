/**
 * The node's actor layer (lib/remote/cluster-actors.ts), pub/sub
 * (lib/remote/topics.ts) and cluster-wide names and singletons
 * (lib/remote/names.ts, on the node's replicated tables) wired to its
 * membership: member states kept current from member events (a dispatch
 * checks its target's node without rebuilding the member list), addresses
 * from the member-events address book; the `$cluster` topic fed with this
 * node's member events and the leader changes of its Raft replicas
 * (lib/remote/cluster-topic.ts).
 */
import type { Ref } from 'nact';
import type { MemberEvents } from '../actors/member-events.js';
import type { TroupeConfig } from './config.js';
import type { LeaderChange } from './data-layer.js';
import type { Logger } from './log.js';
import { MemberStates } from './member-states.js';
import type { MemberStatus } from './node-api.js';
import { useDefaultActorMessagesPerTurn } from './remote/actor-turns.js';
import { ClusterActors, type MemberView } from './remote/cluster-actors.js';
import { CLUSTER_TOPIC, leaderChangedMessage, publishMemberEvents } from './remote/cluster-topic.js';
import { ClusterNames } from './remote/names.js';
import { Topics } from './remote/topics.js';
import type { Rpc } from './rpc/rpc.js';
import type { TablesApi } from './tables/tables-api.js';
import type { Transport } from './transport/transport.js';

export type { ClusterActors, ClusterNames, Topics };

export interface ActorLayer {
  actors: ClusterActors;
  topics: Topics;
  names: ClusterNames;
  /** Before a graceful leave: singletons stop here and this node's names are released (bounded wait). */
  beforeLeave(): Promise<void>;
  stop(): void;
}

export interface ActorLayerDeps {
  self: string;
  /** This start's generation, the transport's (the epoch of this node's pub/sub subscriptions; whose answers a query takes). */
  generation: number;
  system: Ref<never>;
  transport: Transport;
  rpc: Rpc;
  memberEvents: MemberEvents;
  members: () => MemberStatus[];
  /** Subscribes to the leader changes of this node's Raft replicas (DataLayer.onLeaderChange), for `$cluster`. */
  leaderChanges?: (listener: (change: LeaderChange) => void) => () => void;
  /** The node's replicated tables: the names table lives there. */
  tables: TablesApi;
  /** REPLICATION_FACTOR (the names table's, at least 3) and HEARTBEAT_TIMEOUT (a singleton's lease is half of it). */
  config: Pick<TroupeConfig, 'replicationFactor' | 'heartbeatTimeoutMs'>;
  log: Logger;
}

export function startActorLayer(deps: ActorLayerDeps): ActorLayer {
  useDefaultActorMessagesPerTurn();
  const states = new MemberStates(deps.memberEvents, deps.members());
  const members: MemberView = {
    stateOf: (node) => states.stateOf(node),
    addressOf: (node) => deps.memberEvents.addressOf(node),
    subscribe: (listener) => deps.memberEvents.subscribe((msg) => listener(msg.event, msg.member.name)),
  };
  const actors = new ClusterActors({ self: deps.self, generation: deps.generation, system: deps.system, transport: deps.transport, rpc: deps.rpc, log: deps.log, members });
  const initialPeers = deps.members().filter((m) => !m.self && m.state === 'up').map((m) => ({ name: m.name, address: m.address }));
  const topics = new Topics({ self: deps.self, generation: deps.generation, system: deps.system, transport: deps.transport, members, initialPeers, log: deps.log });
  const stopMemberTopic = publishMemberEvents(topics, deps.memberEvents, deps.self);
  const stopLeaderTopic = deps.leaderChanges?.((change) => topics.publishLocal(CLUSTER_TOPIC, leaderChangedMessage(change, deps.self)));
  const names = new ClusterNames({
    self: deps.self, actors, system: deps.system, tables: deps.tables, log: deps.log.child({ component: 'names' }),
    members: { stateOf: members.stateOf, up: () => states.up(), subscribe: members.subscribe },
    replicationFactor: deps.config.replicationFactor, heartbeatTimeoutMs: deps.config.heartbeatTimeoutMs,
  });
  return {
    actors,
    topics,
    names,
    beforeLeave: () => names.beforeLeave(),
    stop: () => {
      names.close();
      stopMemberTopic();
      stopLeaderTopic?.();
      topics.close();
      actors.close();
      states.close();
    },
  };
}
