/**
 * The raft host actor: one supervised nact actor per node that steps every
 * Raft group the node hosts (lib/raft/raft-host.ts is its state and
 * reducer). Inbound 'raft' frames, member events (a MemberEvents
 * subscription), client requests and the host's own continuations (tick,
 * end of turn, write done) all arrive as mailbox messages.
 *
 * One actor for all groups rather than one per group: group commit needs
 * one place that sees the Readys of every group in a turn (one LMDB
 * transaction, one flush), coalescing needs one outbox per peer node across
 * groups, and one timer must tick all awake groups together. Node runs one
 * thread, so per-group actors would buy no parallelism, only a mailbox, a
 * timer and dispatch overhead per group (thousands per node).
 *
 * Supervision: a crash (a state machine that throws, a failed write) resets
 * the actor within the restart budget; the new state reopens every group
 * from LMDB (its log, hard state and applied index), so the groups carry on.
 * Requests pending in the crashed host fail with OutcomeUnknownError.
 */
import { dispatch, spawn, stop, type Ref } from 'nact';
import type { Logger } from '../lib/log.js';
import type { Random } from '../lib/protocol/random.js';
import type { RaftConfig } from '../lib/protocol/raft/config.js';
import type { Membership, MembershipChange, NodeId } from '../lib/protocol/raft/types.js';
import { RaftHost, type GroupEvent, type RaftHostMsg, type RaftHostStats } from '../lib/raft/raft-host.js';
import { replyWithDeadline, type RequestOptions } from '../lib/raft/requests.js';
import type { StateMachine, StateMachineFactory } from '../lib/raft/state-machine.js';
import { RAFT_CHANNEL } from '../lib/raft/wire.js';
import type { NodeStorage } from '../lib/storage/node-storage.js';
import type { Transport } from '../lib/transport/transport.js';
import type { MemberEvents } from './member-events.js';
import { resetWithinBudget, type SupervisionHooks } from './supervision.js';

export interface RaftHostActorDeps {
  self: NodeId;
  storage: NodeStorage;
  transport: Transport;
  stateMachineFor: StateMachineFactory;
  /** Membership: addresses by node name, and member events as messages (a down leader wakes its quiet groups). */
  members?: MemberEvents;
  config?: Partial<RaftConfig>;
  random: Random;
  log: Logger;
  now?: () => number;
  quiesceAfterTicks?: number;
  supervision?: SupervisionHooks;
  /** Role, leader and membership events of the groups (the tables' control loop listens). */
  onGroupEvent?: (group: string, event: GroupEvent) => void;
  /** A group's applied index moved, durably (watches wake on it). */
  onGroupApplied?: (group: string, applied: number) => void;
}

export interface RaftHostHandle {
  /** Creates a replica of `group` on this node (every initial member calls it with the same membership); `campaign` makes this one stand for election at once. Idempotent. */
  createGroup(group: string, membership: Membership, stateMachine: StateMachine, options?: RequestOptions & { campaign?: boolean }): Promise<void>;
  /** Replicates `command`; resolves with the state machine's result once applied here. NotLeaderError (with the leader hint) on a follower. */
  propose(group: string, command: Uint8Array, options?: RequestOptions): Promise<unknown>;
  /** Runs `fn` on the state machine at a linearizable point (ReadIndex, thesis §6.4). */
  read<T>(group: string, fn: (sm: StateMachine) => T, options?: RequestOptions): Promise<T>;
  /** One single-server membership change at the group's leader; resolves once applied here. NotLeaderError on a follower, ProposalDroppedError when refused (another change pending, learner behind). */
  changeMembership(group: string, change: MembershipChange, options?: RequestOptions): Promise<void>;
  /** Removes the group and all its data from this node; resolves once durable. Idempotent. */
  destroyGroup(group: string, options?: RequestOptions): Promise<void>;
  /** Makes this replica campaign now. */
  campaign(group: string): void;
  /** The current host state (it is replaced after a crash). */
  host(): RaftHost;
  stats(): RaftHostStats;
  /** Test hook: makes the actor crash. */
  crash(): void;
  /** Stops the actor after its write in flight; pending requests fail. Idempotent. */
  stop(): Promise<void>;
}

export function spawnRaftHostActor(parent: Ref<any>, deps: RaftHostActorDeps): RaftHostHandle {
  const registry = new Map<string, StateMachine>();
  let current: RaftHost | undefined;
  let ref: Ref<RaftHostMsg> | undefined;
  let stopped: Promise<void> | undefined;
  const pending: RaftHostMsg[] = [];
  const post = (msg: RaftHostMsg): void => {
    if (stopped !== undefined) return;
    if (ref === undefined) pending.push(msg);
    else dispatch(ref, msg);
  };
  const makeHost = (): RaftHost => {
    const members = deps.members;
    const host = new RaftHost({
      self: deps.self,
      storage: deps.storage,
      transport: deps.transport,
      stateMachineFor: (group) => registry.get(group) ?? deps.stateMachineFor(group),
      ...(members ? { addressOf: (node: NodeId) => members.addressOf(node) } : {}),
      ...(deps.config ? { config: deps.config } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.quiesceAfterTicks !== undefined ? { quiesceAfterTicks: deps.quiesceAfterTicks } : {}),
      random: deps.random,
      log: deps.log,
      post,
      ...(deps.onGroupEvent ? { onGroupEvent: deps.onGroupEvent } : {}),
      ...(deps.onGroupApplied ? { onGroupApplied: deps.onGroupApplied } : {}),
    });
    host.openGroups(registry);
    current = host;
    return host;
  };
  const supervise = resetWithinBudget<RaftHostMsg>('raft-host', deps.log, deps.supervision);
  ref = spawn(parent, (state: RaftHost, msg: RaftHostMsg) => {
    if (msg.type === 'create-group') registry.set(msg.group, msg.stateMachine);
    state.handle(msg);
    return state;
  }, 'raft-host', {
    initialStateFunc: () => makeHost(),
    onCrash: (msg, err, ctx, child) => {
      // The crashed host's requests cannot complete: fail them before its state is replaced.
      void current?.close('the raft host crashed', err);
      return supervise(msg, err, ctx, child);
    },
  }) as Ref<RaftHostMsg>;
  for (const msg of pending.splice(0)) dispatch(ref, msg);
  deps.transport.onMessage(RAFT_CHANNEL, (from, payload) => post({ type: 'frame', from: from.name, address: from.address, payload }));
  deps.transport.onEvent((event) => {
    if (event.type === 'link-down') post({ type: 'link-down', node: event.peer.name });
  });
  const unsubscribe = deps.members?.subscribe((msg) => post({ type: 'member-event', event: msg.event, member: msg.member }));

  const ask = <T>(what: string, options: RequestOptions, make: (reply: import('../lib/raft/requests.js').Reply<T>) => RaftHostMsg): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const reply = replyWithDeadline<T>(what, options, resolve, reject);
      if (reply === null) return;
      if (stopped !== undefined) return reply.reject(new Error('the raft host is stopped'));
      post(make(reply));
    });

  return {
    createGroup: (group, membership, stateMachine, options = {}) =>
      ask<void>(`create raft group ${group}`, options, (reply) => ({ type: 'create-group', group, membership, stateMachine, campaign: options.campaign ?? false, reply })),
    propose: (group, command, options = {}) => ask<unknown>(`proposal to raft group ${group}`, options, (reply) => ({ type: 'propose', group, data: command, reply })),
    read: <T>(group: string, fn: (sm: StateMachine) => T, options: RequestOptions = {}) =>
      ask<T>(`read of raft group ${group}`, options, (reply) => ({ type: 'read', group, fn, reply: reply as import('../lib/raft/requests.js').Reply<unknown> })),
    changeMembership: async (group, change, options = {}) => {
      await ask<unknown>(`membership change of raft group ${group}`, options, (reply) => ({ type: 'change-membership', group, change, reply }));
    },
    destroyGroup: (group, options = {}) => {
      registry.delete(group);
      return ask<void>(`destroy raft group ${group}`, options, (reply) => ({ type: 'destroy-group', group, reply }));
    },
    campaign: (group) => post({ type: 'campaign', group }),
    host: () => {
      if (current === undefined) throw new Error('the raft host actor has not started');
      return current;
    },
    stats: () => current!.stats,
    crash: () => post({ type: 'crash' }),
    stop: () => {
      stopped ??= (async () => {
        unsubscribe?.();
        const host = current;
        if (ref !== undefined) stop(ref);
        await host?.close();
      })();
      return stopped;
    },
  };
}
