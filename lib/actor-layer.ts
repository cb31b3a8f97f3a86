/**
 * The node's actor layer (lib/remote/cluster-actors.ts) wired to its
 * membership: member states kept current from member events (a dispatch
 * checks its target's node without rebuilding the member list), addresses
 * from the member-events address book.
 */
import type { Ref } from 'nact';
import type { MemberEvents } from '../actors/member-events.js';
import type { Logger } from './log.js';
import { MemberStates } from './member-states.js';
import type { MemberStatus } from './node-api.js';
import { ClusterActors } from './remote/cluster-actors.js';
import type { Rpc } from './rpc/rpc.js';
import type { Transport } from './transport/transport.js';

export type { ClusterActors };

export interface ActorLayer {
  actors: ClusterActors;
  stop(): void;
}

export function startActorLayer(deps: { self: string; system: Ref<never>; transport: Transport; rpc: Rpc; memberEvents: MemberEvents; members: () => MemberStatus[]; log: Logger }): ActorLayer {
  const states = new MemberStates(deps.memberEvents, deps.members());
  const actors = new ClusterActors({
    self: deps.self, system: deps.system, transport: deps.transport, rpc: deps.rpc, log: deps.log,
    members: {
      stateOf: (node) => states.stateOf(node),
      addressOf: (node) => deps.memberEvents.addressOf(node),
      subscribe: (listener) => deps.memberEvents.subscribe((msg) => listener(msg.event, msg.member.name)),
    },
  });
  return {
    actors,
    stop: () => {
      actors.close();
      states.close();
    },
  };
}
