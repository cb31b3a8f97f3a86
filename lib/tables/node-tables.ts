/**
 * The tables of one node, wired: the replica requests it serves, the control
 * loop that creates, grows and destroys its replicas, and the TablesApi it
 * offers. node.ts calls `startTables` once the raft host and the router run;
 * the state machines (`TableStateMachines`) exist before the raft host, which
 * reopens the groups stored on the node with them.
 */

import type { MemberEvents } from '../../actors/member-events.js';
import type { RaftHostHandle } from '../../actors/raft-host-actor.js';
import type { Logger } from '../log.js';
import type { MemberStatus } from '../node-api.js';
import type { NodeId } from '../protocol/raft/types.js';
import type { RaftRouter } from '../raft/forwarding.js';
import type { Rpc } from '../rpc/rpc.js';
import { TablesControlLoop } from './control-loop.js';
import { serveReplicaRpc } from './replica-rpc.js';
import type { TableStateMachines } from './state-machines.js';
import { TablesService } from './tables-service.js';
import { MemberStates } from '../member-states.js';
import { ApplyWaiters, WatchServer } from './watch.js';

export interface NodeTablesDeps {
  self: NodeId;
  raft: RaftHostHandle;
  router: RaftRouter;
  rpc: Rpc;
  machines: TableStateMachines;
  memberEvents: MemberEvents;
  members: () => MemberStatus[];
  defaultReplicationFactor: number;
  log: Logger;
  /** Called on every run of the control loop (the raft report samples replication lag). */
  sample?: () => void;
  /** When this node's data directory was first used. */
  bornAt: number;
  /** Whether the transport failed to reach a node since its link was last up. */
  unreachable?: (node: NodeId) => boolean;
}

export interface NodeTables {
  service: TablesService;
  control: TablesControlLoop;
  /** Wake the watches' long polls: call when a group applies. */
  waiters: ApplyWaiters;
  stop(): void;
}

export function startTables(deps: NodeTablesDeps): NodeTables {
  const addressOf = (node: NodeId) => deps.memberEvents.addressOf(node);
  const states = new MemberStates(deps.memberEvents, deps.members());
  const upMembers = (): NodeId[] => {
    const up = states.up();
    return up.includes(deps.self) ? up : [...up, deps.self];
  };
  serveReplicaRpc({ self: deps.self, rpc: deps.rpc, raft: deps.raft, machines: deps.machines, bornAt: deps.bornAt, log: deps.log });
  const waiters = new ApplyWaiters();
  const watchServer = new WatchServer(deps.raft, waiters);
  watchServer.register(deps.rpc);
  const control = new TablesControlLoop({ self: deps.self, raft: deps.raft, router: deps.router, rpc: deps.rpc, machines: deps.machines, upMembers, addressOf, log: deps.log, ...(deps.sample ? { sample: deps.sample } : {}) });
  const service = new TablesService({
    self: deps.self, raft: deps.raft, router: deps.router, rpc: deps.rpc, machines: deps.machines, members: states, addressOf,
    defaultReplicationFactor: deps.defaultReplicationFactor, log: deps.log, watchServer,
    ...(deps.unreachable ? { unreachable: deps.unreachable } : {}),
  });
  const unsubscribe = deps.memberEvents.subscribe((msg) => {
    if (msg.event === 'member-up') control.memberUp(msg.member.name);
    control.trigger();
  });
  control.start();
  return {
    service,
    control,
    waiters,
    stop: () => {
      unsubscribe();
      states.close();
      control.stop();
    },
  };
}
