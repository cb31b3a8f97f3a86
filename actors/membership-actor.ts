/**
 * The membership actor: a thin nact shell around the pure SWIM core
 * (`lib/protocol/swim`) and the seed-retry schedule (`lib/protocol/seed-retry`).
 *
 * Each mailbox message becomes one `step`; the actor then performs `ready()`
 * — sends SWIM messages on the transport's `swim` channel, contacts due
 * seeds, publishes events and a members snapshot — calls `advance`, and arms
 * one timer for the earliest `nextWakeAt`. Nothing else happens here.
 *
 * Priority lane: nact runs one mailbox message per event-loop turn (each in
 * its own setImmediate), and under HTTP load a turn lasts as long as all the
 * requests read in it. A backlog of SWIM messages behind that made a busy
 * node's acks seconds late, and its peers declared it down. So SWIM messages
 * and timer ticks, the inputs the failure detector times, skip the mailbox:
 * the shell steps the core in the callback that delivered them (transport
 * I/O, timer) and flushes the transport at once, so an ack leaves in the same
 * I/O callback that brought the ping. Operator requests, candidates and lag
 * readings still go through the mailbox. Both lanes step the one state, one
 * input at a time: an input delivered while a step runs (the memory transport
 * delivers synchronously) waits in `inbox` until that step ends. After a
 * crash, until the supervisor has reset the state, every input goes through
 * the mailbox.
 *
 * On a crash the supervisor resets the actor: a fresh core with the same
 * generation rejoins through the last known addresses (persisted in LMDB) and
 * the discovery candidates; peers still hold our old incarnation, which the
 * fresh core adopts and raises when it hears of it, so the node stays in the
 * cluster.
 */
import { dispatch, spawn, stop, type Ref } from 'nact';
import type { Logger } from '../lib/log.js';
import { SeedRetry, type SeedRetryConfig } from '../lib/protocol/seed-retry.js';
import type { Random } from '../lib/protocol/random.js';
import { Membership } from '../lib/protocol/swim/membership.js';
import type { MemberView, MembershipEvent, MembershipStats, SwimMessage } from '../lib/protocol/swim/membership.js';
import type { SwimConfig } from '../lib/protocol/swim/config.js';
import type { NodeStateStore } from '../lib/storage/node-state.js';
import type { Transport } from '../lib/transport/transport.js';
import { resetWithinBudget, type SupervisionHooks } from './supervision.js';

export const SWIM_CHANNEL = 'swim';

/**
 * Most SWIM messages that may wait in the actor's mailbox, where they go only
 * while a crashed actor waits for its reset (otherwise they take the priority
 * lane). nact's mailbox is unbounded; past this backlog inbound SWIM messages
 * are dropped and counted (the protocol tolerates loss), while ticks and
 * operator requests always get through. 10,000 is minutes of traffic for a
 * healthy node.
 */
export const MAX_QUEUED_SWIM_MESSAGES = 10_000;

export type MembershipMsg =
  | { type: 'tick' }
  | { type: 'swim'; from: string; payload: unknown }
  | { type: 'join'; addresses: string[] }
  | { type: 'candidates'; addresses: string[] }
  | { type: 'leave' }
  | { type: 'remove'; name: string }
  | { type: 'lag'; lagMs: number }
  | { type: 'link-down'; address: string }
  /** Test hook: makes the handler throw, to exercise supervision. */
  | { type: 'crash' }
  /** A step of the priority lane threw: rethrown in the actor so that its supervisor decides. */
  | { type: 'fault'; error: unknown };

export interface MembershipSnapshot {
  members: MemberView[];
  self: MemberView;
  stats: MembershipStats;
}

export interface MembershipActorDeps {
  swimConfig: SwimConfig;
  seedRetryConfig: SeedRetryConfig;
  self: { name: string; address: string; generation: number };
  transport: Transport;
  store: NodeStateStore;
  random: Random;
  log: Logger;
  /** Monotonic ms. */
  now: () => number;
  onEvent: (event: MembershipEvent) => void;
  onSnapshot: (snapshot: MembershipSnapshot) => void;
  supervision?: SupervisionHooks;
}

interface ActorState {
  core: Membership;
  seeds: SeedRetry;
}

export interface MembershipActorHandle {
  /** Delivers a message unless the actor has been stopped. */
  send(msg: MembershipMsg): void;
  /** Stops the timer and the actor; later sends are ignored. Idempotent. */
  stop(): void;
  /** Inbound SWIM messages dropped because the mailbox backlog was full. */
  droppedInbound(): number;
}

/** Spawns the membership actor under `parent` and routes the transport's swim channel to it. */
export function spawnMembershipActor(parent: Ref<any>, deps: MembershipActorDeps): MembershipActorHandle {
  const shell = new MembershipShell(deps);
  const ref = spawn(parent, (state: ActorState, msg: MembershipMsg) => shell.handleMailbox(state, msg), 'membership', {
    initialStateFunc: () => shell.init(),
    onCrash: resetWithinBudget<MembershipMsg>('membership', deps.log, deps.supervision),
  });
  shell.bind(ref);
  deps.transport.onMessage(SWIM_CHANNEL, (from, payload) => shell.send({ type: 'swim', from: from.address, payload }));
  deps.transport.onEvent((event) => {
    if (event.type === 'link-down') shell.send({ type: 'link-down', address: event.peer.address });
  });
  return { send: (msg) => shell.send(msg), stop: () => shell.stop(), droppedInbound: () => shell.droppedInbound };
}

class MembershipShell {
  private timer: NodeJS.Timeout | undefined;
  private candidates: string[] = [];
  private lastLag = 0;
  private lastPersisted = '';
  private ref: Ref<MembershipMsg> | undefined;
  private stopped = false;
  private readonly pending: MembershipMsg[] = [];
  private unsendable = 0;
  private queuedSwim = 0;
  /** The actor's state, which the priority lane steps too; replaced by init() on every reset. */
  private state: ActorState | undefined;
  /** A step (either lane) is running: inputs of the priority lane wait in `inbox`. */
  private stepping = false;
  /** A step threw and the supervisor has not reset the state yet: everything goes through the mailbox. */
  private faulted = false;
  private readonly inbox: MembershipMsg[] = [];
  /** Inbound SWIM messages dropped because the mailbox backlog was full. */
  droppedInbound = 0;

  constructor(private readonly deps: MembershipActorDeps) {}

  bind(ref: Ref<MembershipMsg>): void {
    this.ref = ref;
    for (const msg of this.pending.splice(0)) dispatch(ref, msg);
  }

  send(msg: MembershipMsg): void {
    if (this.stopped) return;
    if ((msg.type === 'swim' || msg.type === 'tick') && this.state !== undefined && !this.faulted) {
      this.inbox.push(msg);
      if (!this.stepping) this.drain();
      return;
    }
    if (msg.type === 'swim') {
      if (this.queuedSwim >= MAX_QUEUED_SWIM_MESSAGES) {
        if (this.droppedInbound++ % 1000 === 0) this.deps.log.warn({ dropped: this.droppedInbound, backlog: this.queuedSwim }, 'membership mailbox is full; dropping inbound SWIM messages');
        return;
      }
      this.queuedSwim++;
    }
    this.dispatch(msg);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ref) stop(this.ref);
  }

  /** Builds a fresh core; after a reset it rejoins through every address it knew. */
  init(): ActorState {
    const { deps } = this;
    const now = deps.now();
    const core = new Membership(deps.swimConfig, deps.self, deps.random.fork(), now);
    const seeds = new SeedRetry(deps.seedRetryConfig, deps.self.address, deps.random.fork());
    this.lastLag = 0;
    this.state = { core, seeds };
    this.faulted = false;
    // A reset racing shutdown must not touch the closed store.
    if (this.stopped) return this.state;
    const known = deps.store.knownAddresses().filter((a) => a !== deps.self.address);
    // Runs inside spawn (before bind) and on every reset: queue, do not dispatch directly.
    this.send({ type: 'candidates', addresses: this.candidates });
    // An empty join would mean "no seeds: be up now"; whether that holds is the node's call.
    if (known.length > 0) this.send({ type: 'join', addresses: known });
    return this.state;
  }

  /** The nact handler: one mailbox message, then whatever the priority lane delivered meanwhile. */
  handleMailbox(state: ActorState, msg: MembershipMsg): ActorState {
    if (msg.type === 'fault') throw msg.error;
    if (msg.type === 'swim') this.queuedSwim = Math.max(0, this.queuedSwim - 1);
    this.stepping = true;
    try {
      this.state = this.handle(state, msg);
    } catch (err) {
      this.faulted = true;
      throw err;
    } finally {
      this.stepping = false;
    }
    if (this.inbox.length > 0) this.drain();
    return this.state;
  }

  /** The priority lane: steps the inputs in `inbox` now. A throw goes to the supervisor through the mailbox. */
  private drain(): void {
    this.stepping = true;
    try {
      for (let msg = this.inbox.shift(); msg !== undefined; msg = this.inbox.shift()) this.state = this.handle(this.state!, msg);
    } catch (error) {
      this.faulted = true;
      this.dispatch({ type: 'fault', error });
      for (const msg of this.inbox.splice(0)) this.send(msg);
    } finally {
      this.stepping = false;
    }
  }

  private dispatch(msg: MembershipMsg): void {
    if (this.ref === undefined) this.pending.push(msg);
    else dispatch(this.ref, msg);
  }

  private handle(state: ActorState, msg: MembershipMsg): ActorState {
    const now = this.deps.now();
    const { core, seeds } = state;
    switch (msg.type) {
      case 'tick':
        core.step({ type: 'tick' }, now);
        seeds.step({ type: 'tick' }, now);
        break;
      case 'swim':
        core.step({ type: 'message', from: msg.from, msg: msg.payload as SwimMessage }, now);
        break;
      case 'join':
        core.step({ type: 'join', addresses: msg.addresses }, now);
        break;
      case 'candidates':
        this.candidates = msg.addresses;
        seeds.step({ type: 'candidates', addresses: msg.addresses }, now);
        break;
      case 'leave':
        core.step({ type: 'leave' }, now);
        break;
      case 'remove':
        core.step({ type: 'remove', name: msg.name }, now);
        break;
      case 'lag':
        if (msg.lagMs === this.lastLag) return state;
        this.lastLag = msg.lagMs;
        core.step({ type: 'local-lag', lagMs: msg.lagMs }, now);
        break;
      case 'link-down':
        core.step({ type: 'link-down', address: msg.address }, now);
        break;
      case 'crash':
        throw new Error('injected crash (test hook)');
      case 'fault':
        throw msg.error;
    }
    this.perform(state, now);
    return state;
  }

  private perform(state: ActorState, now: number): void {
    const { core, seeds } = state;
    const ready = core.ready();
    this.sendAll(ready.messages);
    core.advance(ready);

    const members = core.members(now);
    const live = new Set(members.filter((m) => m.state !== 'down' && m.state !== 'left').map((m) => m.address));
    // A candidate spelled otherwise than the member's advertised address (an IP from DNS for a
    // node named by host name) counts as live once a handshake has tied the two together.
    const { transport, self } = this.deps;
    const liveAliases = this.candidates.filter((c) => {
      const known = transport.resolve(c);
      return known !== c && (live.has(known) || known === self.address);
    });
    seeds.step({ type: 'live-members', addresses: [...live, ...liveAliases] }, now);
    const seedReady = seeds.ready();
    const selfState = core.self().state;
    // A leaving or left node contacts nobody new.
    if (seedReady.messages.length > 0 && selfState !== 'leaving' && selfState !== 'left') core.step({ type: 'join', addresses: seedReady.messages.map((m) => m.to) }, now);
    seeds.advance(seedReady);
    // The join above may have produced messages; send them in this same turn.
    const joinReady = core.ready();
    this.sendAll(joinReady.messages);
    core.advance(joinReady);
    // Acks must not wait for the end of this event-loop turn (see the priority lane above).
    this.deps.transport.flush?.();

    this.deps.onSnapshot({ members, self: core.self(), stats: core.stats() });
    for (const event of [...ready.events, ...joinReady.events]) this.deps.onEvent(event);
    if (ready.events.length + joinReady.events.length > 0) this.persistKnown(members);
    this.arm(earliest(joinReady.nextWakeAt, seeds.ready().nextWakeAt), now);
  }

  /** A payload the transport refuses (e.g. larger than CLUSTER_MAX_FRAME_BYTES) is dropped and counted, never a crash. */
  private sendAll(messages: Array<{ to: string; msg: SwimMessage }>): void {
    for (const out of messages) {
      try {
        this.deps.transport.send(out.to, SWIM_CHANNEL, out.msg);
      } catch (err) {
        this.unsendable++;
        if (this.unsendable === 1 || this.unsendable % 1000 === 0) this.deps.log.warn({ err, to: out.to, type: out.msg.type, count: this.unsendable }, 'membership message could not be sent; raise CLUSTER_MAX_FRAME_BYTES if it is too large');
      }
    }
  }

  private persistKnown(members: MemberView[]): void {
    const addresses = members.filter((m) => m.state !== 'left' && m.address !== this.deps.self.address).map((m) => m.address);
    const key = addresses.sort().join(',');
    if (key === this.lastPersisted) return;
    this.lastPersisted = key;
    this.deps.store.saveKnownAddresses(addresses).catch((err) => this.deps.log.warn({ err }, 'could not persist known member addresses'));
  }

  private arm(wakeAt: number | null, now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (wakeAt === null || this.stopped) return;
    this.timer = setTimeout(() => this.send({ type: 'tick' }), Math.max(0, Math.ceil(wakeAt - now)));
  }
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
