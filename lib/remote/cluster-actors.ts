/**
 * Actors across nodes: `dispatch` and `query` on any reference, local (a
 * nact reference) or remote (a RemoteRef, or a reference that arrived inside
 * a message), over the transport's 'actor' channel (wire.ts).
 *
 * Guarantees, as in Erlang distribution and Akka remoting:
 * - At most once. A message is sent once and never retried; one lost with a
 *   broken link is lost. Acknowledge at the application level where it
 *   matters (a query is such an acknowledgement).
 * - In order per sender→receiver pair: the transport keeps one ordered link
 *   per pair of nodes, and nact one mailbox per actor.
 * - Dead letters: a message to an actor that does not exist, to a node that
 *   is down, left or unknown, or that the link or mailbox had no room for,
 *   is counted by reason (`stats.deadLetters`) and logged at most once per
 *   reason per DEAD_LETTER_LOG_INTERVAL_MS with the number suppressed.
 * - A query to a node that is down, left or unknown fails at once with
 *   NodeDownError, and one waiting for an answer fails as soon as
 *   membership reports the node down or its link breaks — not at its
 *   timeout. A query to an actor that does not exist fails with
 *   NoSuchActorError, answered by the node that looked.
 * - Bounded: a message from another node for an actor whose mailbox already
 *   holds `maxMailbox` messages is dropped and counted (a query gets
 *   MailboxFullError), so a fast sender cannot grow a node's memory without
 *   bound; the transport's per-link queues bound what is in flight.
 *
 * A query's message may be a function of the reference to reply to, as in
 * nact: remotely, that reference is a RemoteRef back to this node, and the
 * actor answers by dispatching to it. A plain message reaches the actor on
 * its node with a temporary reference as `ctx.sender`
 * (local-actors.ts `replyReference`), so an actor that answers `ctx.sender`
 * with nact's dispatch works unchanged.
 */
import { dispatch as nactDispatch, query as nactQuery, type Ref } from 'nact';
import { MailboxFullError, NodeDownError, NoSuchActorError, TimeoutError, TroupeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../transport/log-limiter.js';
import type { PeerIdentity, Transport } from '../transport/transport.js';
import type { Rpc } from '../rpc/rpc.js';
import { isRemoteRef, nactPath, nactRefAt, RemoteRef, type ActorRef } from './actor-ref.js';
import { Behaviours, type BehaviourFactory, type StopReason } from './behaviours.js';
import { Monitors, type Terminated, type TerminationReason } from './monitors.js';
import { findLocalActor, replyReference, systemNameOf } from './local-actors.js';
import { registerRemoteSender } from './nact-bridge.js';
import { ServedQueries } from './served-queries.js';
import { ACTOR_CHANNEL, decode, decodeFrame, encode, messageFrame, queryFrame, replyFrame } from './wire.js';

/** nact's dispatch takes the sender as a third argument (its typings omit it). */
const dispatchWithSender = nactDispatch as unknown as (ref: Ref<any>, message: unknown, sender?: unknown) => void;

/** Messages from other nodes an actor's mailbox may hold before more are dropped. @default 10000 */
export const DEFAULT_MAX_MAILBOX = 10_000;
/** Timeout of a query that names none, ms. @default 5000 */
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;
/** Shortest gap between two dead-letter log lines of one reason, ms. @default 10000 */
export const DEAD_LETTER_LOG_INTERVAL_MS = 10_000;
/** The rpc method that spawns a behaviour on the node serving it. */
export const RPC_ACTORS_SPAWN = 'actors.spawn';
/** Longest query timeout, ms: what a Node timer holds (a longer one would fire at once); longer ones are cut to it. */
export const MAX_QUERY_TIMEOUT_MS = 2_147_483_647;
/** Path prefix of the references a remote query's answer is sent to. */
const REPLY_PATH = '$reply';

export type DeadLetterReason = 'no-such-actor' | 'node-down' | 'link-full' | 'mailbox-full' | 'malformed';

export interface ClusterActorsStats {
  sent: number;
  received: number;
  queriesSent: number;
  queriesServed: number;
  deadLetters: Record<DeadLetterReason, number>;
}

/** What the layer needs to know of membership. */
export interface MemberView {
  /** The node's membership state, or undefined when it is not a member this node knows. */
  stateOf(node: string): string | undefined;
  addressOf(node: string): string | undefined;
  /** Calls `listener` on every member event; returns the unsubscribe. */
  subscribe(listener: (event: string, node: string) => void): () => void;
}

export interface ClusterActorsOptions {
  self: string;
  /** This process's generation (the transport's): answers and reply references of a former process are refused. */
  generation: number;
  /** The node's nact actor system. */
  system: Ref<never>;
  transport: Transport;
  /** The node's rpc (spawnOn). */
  rpc: Rpc;
  members: MemberView;
  log: Logger;
  maxMailbox?: number;
  now?: () => number;
}

interface PendingQuery {
  target: RemoteRef;
  timeoutMs: number;
  timer: NodeJS.Timeout;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const GONE_STATES = new Set(['down', 'left', 'removed']);

export class ClusterActors {
  readonly stats: ClusterActorsStats = {
    sent: 0, received: 0, queriesSent: 0, queriesServed: 0,
    deadLetters: { 'no-such-actor': 0, 'node-down': 0, 'link-full': 0, 'mailbox-full': 0, malformed: 0 },
  };
  private readonly pending = new Map<number, PendingQuery>();
  private nextId = 1;
  private readonly systemName: string;
  private readonly maxMailbox: number;
  private readonly deadLetterLog = new LogLimiter({ intervalMs: DEAD_LETTER_LOG_INTERVAL_MS, maxKeys: 16 });
  private readonly unsubscribe: () => void;
  private readonly now: () => number;
  private readonly behaviours = new Behaviours();
  private readonly monitors: Monitors;
  /** Cancels of `watch`, by watcher and target. */
  private readonly watches = new Map<string, () => void>();
  /** Queries from other nodes waiting for this node's actors to answer. */
  private readonly served: ServedQueries;
  /** Undoes this layer's registration as the sender of nact's dispatch to RemoteRefs it decodes. */
  private readonly unregisterSender: () => void;

  constructor(private readonly opts: ClusterActorsOptions) {
    opts.rpc.handle(RPC_ACTORS_SPAWN, (arg) => this.serveSpawn(arg));
    this.monitors = new Monitors({
      self: opts.self,
      exists: (path) => findLocalActor(this.systemName, this.localRef(path)) !== undefined,
      send: (node, frame) => {
        const address = this.reachable(node);
        return address !== undefined && opts.transport.send(address, ACTOR_CHANNEL, frame);
      },
      stateOf: (node) => opts.members.stateOf(node),
    });
    this.systemName = systemNameOf(opts.system);
    this.maxMailbox = opts.maxMailbox ?? DEFAULT_MAX_MAILBOX;
    this.now = opts.now ?? (() => performance.now());
    this.served = new ServedQueries(this.now);
    this.unregisterSender = registerRemoteSender(opts.self, {
      dispatch: (ref, message, sender) => this.dispatch(ref, message, sender as ActorRef | undefined),
      query: (ref, message, timeoutMs) => this.query(ref, message, timeoutMs),
    });
    opts.transport.onMessage(ACTOR_CHANNEL, (from, payload) => this.receive(from, payload));
    opts.transport.onEvent((event) => {
      if (event.type === 'link-down') this.failQueriesTo(event.peer.name, 'is unreachable: its link broke while the query waited');
      if (event.type === 'link-up') this.monitors.linkUp(event.peer);
    });
    this.unsubscribe = opts.members.subscribe((event, node) => {
      if (event === 'member-down' || event === 'member-left' || event === 'member-removed') {
        this.failQueriesTo(node, `is ${event.slice('member-'.length)}`);
        this.monitors.nodeGone(node, event === 'member-left' ? 'node-left' : 'node-down');
      }
    });
  }

  /** This node's name. */
  get self(): string {
    return this.opts.self;
  }

  /** The cluster-wide reference of an actor of this node (what a local reference becomes on the wire). */
  refOf(ref: ActorRef): RemoteRef {
    if (isRemoteRef(ref)) return ref;
    const path = nactPath(ref);
    if (path === null) throw new TroupeError('ERR_BAD_REQUEST', 'only references to actors have a cluster-wide form (not the actor system, a query\'s temporary reference or nobody)');
    return new RemoteRef(this.opts.self, path);
  }

  /** Sends `message` to the actor at `ref`, at most once; `sender` is what the receiver sees as `ctx.sender`. Never throws for delivery problems: those are dead letters. */
  dispatch(ref: ActorRef, message: unknown, sender?: ActorRef): void {
    if (!isRemoteRef(ref)) return this.deliverLocal(ref, message, sender, nactPath(ref) ?? []);
    if (ref.node === this.opts.self) return this.deliverLocal(this.localRef(ref.path), message, sender, ref.path);
    const address = this.reachable(ref.node);
    if (address === undefined) return this.deadLetter('node-down', ref.toString());
    this.stats.sent++;
    const body = encode(this.opts.self, [message, sender ?? null]);
    if (!this.opts.transport.send(address, ACTOR_CHANNEL, messageFrame(ref.path, body))) this.deadLetter('link-full', ref.toString());
  }

  /**
   * Asks the actor at `ref` and resolves with its answer. `message` is the
   * message, answered to `ctx.sender`, or a function of the reference to
   * answer to. Fails with TimeoutError, NodeDownError, NoSuchActorError or
   * MailboxFullError.
   */
  query<T = unknown>(ref: ActorRef, message: unknown, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS): Promise<T> {
    if (!(timeoutMs > 0)) return Promise.reject(new RangeError(`a query's timeout must be a number of ms above 0, got ${timeoutMs}`));
    timeoutMs = Math.min(timeoutMs, MAX_QUERY_TIMEOUT_MS);
    if (!isRemoteRef(ref) || ref.node === this.opts.self) return this.queryLocal<T>(isRemoteRef(ref) ? this.localRef(ref.path) : ref, message, timeoutMs, isRemoteRef(ref) ? ref.toString() : String(nactPath(ref)?.join('/')));
    const address = this.reachable(ref.node);
    if (address === undefined) return Promise.reject(new NodeDownError(ref.node, ref.toString(), this.opts.members.stateOf(ref.node) === undefined ? 'is not a member this node knows' : `is ${this.opts.members.stateOf(ref.node)}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const pending: PendingQuery = { target: ref, timeoutMs, resolve: resolve as (value: unknown) => void, reject, timer: setTimeout(this.expireQuery, timeoutMs, id) };
      this.pending.set(id, pending);
      const replyByRef = typeof message === 'function';
      const payload = replyByRef ? (message as (replyTo: RemoteRef) => unknown)(new RemoteRef(this.opts.self, [REPLY_PATH, `${this.opts.generation}.${id}`])) : message;
      this.stats.queriesSent++;
      const sent = this.opts.transport.send(address, ACTOR_CHANNEL, queryFrame(id, ref.path, encode(this.opts.self, [payload, null]), timeoutMs, replyByRef));
      if (!sent) this.settle(id)?.reject(new NodeDownError(ref.node, ref.toString(), 'has no room on its link (the outbound queue is full)'));
    });
  }

  /** Takes query `id` out of the waiting ones (its timer stopped); undefined when it already settled. */
  private settle(id: number): PendingQuery | undefined {
    const pending = this.pending.get(id);
    if (pending === undefined) return undefined;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  private readonly expireQuery = (id: number): void => {
    const pending = this.settle(id);
    pending?.reject(new TimeoutError(`query of ${pending.target.toString()}`, pending.timeoutMs));
  };

  // ---- Spawning ----

  /** Registers how to make an actor of behaviour `name`; define it on every node that may run it. */
  defineBehaviour(name: string, factory: BehaviourFactory): void {
    this.behaviours.define(name, factory);
  }

  /** Whether a behaviour of that name is defined on this node. */
  hasBehaviour(name: string): boolean {
    return this.behaviours.has(name);
  }

  /** Spawns an actor of a defined behaviour on this node; resolves to its cluster-wide reference. */
  spawn(behaviour: string, args: unknown = null, options: { name?: string } = {}): RemoteRef {
    const ref = this.behaviours.spawn(this.opts.system, behaviour, args, options.name, (reason) => this.actorStopped(ref, reason));
    return this.refOf(ref);
  }

  /** Spawns an actor of behaviour `behaviour` on `node` (which must define it), with msgpack-encodable `args`. */
  async spawnOn(node: string, behaviour: string, args: unknown = null, options: { name?: string; timeoutMs?: number } = {}): Promise<RemoteRef> {
    if (node === this.opts.self) return this.spawn(behaviour, args, options);
    const address = this.reachable(node);
    if (address === undefined) throw new NodeDownError(node, `${node}/(spawn ${behaviour})`, this.opts.members.stateOf(node) === undefined ? 'is not a member this node knows' : `is ${this.opts.members.stateOf(node)}`);
    const path = await this.opts.rpc.call<string[]>(address, RPC_ACTORS_SPAWN, { behaviour, args, name: options.name ?? null }, { timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS });
    return new RemoteRef(node, path);
  }

  private serveSpawn(arg: unknown): string[] {
    const a = arg as { behaviour?: unknown; args?: unknown; name?: unknown } | null;
    if (a === null || typeof a !== 'object' || typeof a.behaviour !== 'string' || (a.name !== null && typeof a.name !== 'string')) throw new TroupeError('ERR_BAD_REQUEST', 'malformed actors.spawn request');
    return [...this.spawn(a.behaviour, a.args ?? null, a.name === null ? {} : { name: a.name as string }).path];
  }

  /** An actor spawned through this layer stopped: its monitors fire now. */
  private actorStopped(ref: Ref<any>, reason: StopReason): void {
    const path = nactPath(ref);
    if (path !== null) this.monitors.localStopped(path, reason);
  }

  // ---- Monitors (monitors.ts) ----

  /**
   * `watcher` receives `{ type: 'terminated', ref, reason }` (Terminated)
   * once, when the actor at `target` stops or crashes, or its node goes down
   * or leaves; at once when it does not exist. Watching twice is one watch.
   */
  watch(watcher: ActorRef, target: ActorRef): void {
    const ref = this.refOf(target);
    const key = `${this.refOf(watcher).toString()} ${ref.toString()}`;
    if (this.watches.has(key)) return;
    let fired = false;
    const cancel = this.monitor(ref, (reason) => {
      fired = true;
      this.watches.delete(key);
      this.dispatch(watcher, { type: 'terminated', ref, reason } satisfies Terminated);
    });
    if (!fired) this.watches.set(key, cancel); // a dead target fires at once: nothing to keep
  }

  /** Cancels `watcher`'s watch of `target`; a terminated message already sent may still arrive. */
  unwatch(watcher: ActorRef, target: ActorRef): void {
    const key = `${this.refOf(watcher).toString()} ${this.refOf(target).toString()}`;
    this.watches.get(key)?.();
    this.watches.delete(key);
  }

  /** Calls `onTerminated` once when the actor at `target` terminates (see watch); returns the cancel. */
  monitor(target: ActorRef, onTerminated: (reason: TerminationReason) => void): () => void {
    return this.monitors.monitor(this.refOf(target), onTerminated);
  }


  close(): void {
    this.monitors.close();
    this.served.close();
    this.unregisterSender();
    this.unsubscribe();
    this.failAll('the node is stopping');
  }

  // ---- Local delivery ----

  private localRef(path: readonly string[]): Ref<any> {
    return nactRefAt(this.systemName, path);
  }

  private deliverLocal(ref: Ref<any>, message: unknown, sender: ActorRef | undefined, path: readonly string[]): void {
    if (path[0] === REPLY_PATH && path.length === 2) return this.answerByRef(path[1]!, message);
    const actor = findLocalActor(this.systemName, ref);
    if (actor === undefined) return this.deadLetter('no-such-actor', `${this.opts.self}/${path.join('/')}`);
    dispatchWithSender(ref, message, sender);
  }

  private queryLocal<T>(ref: Ref<any>, message: unknown, timeoutMs: number, where: string): Promise<T> {
    const path = nactPath(ref);
    if (path !== null && findLocalActor(this.systemName, ref) === undefined) return Promise.reject(new NoSuchActorError(`${this.opts.self}/${path.join('/')}`));
    return (nactQuery(ref, message as never, timeoutMs) as Promise<T>).catch((err: unknown) => {
      throw err instanceof Error && err.message === 'Query Timeout' ? new TimeoutError(`query of ${where}`, timeoutMs) : err;
    });
  }

  // ---- Inbound ----

  private receive(from: PeerIdentity, payload: unknown): void {
    const frame = decodeFrame(payload);
    if (frame === null) return this.deadLetter('malformed', from.name);
    this.stats.received++;
    try {
      switch (frame.kind) {
        case 'message':
          return this.receiveMessage(frame.path, frame.body);
        case 'query':
          return this.serveQuery(from, frame.id, frame.path, frame.body, frame.timeoutMs, frame.replyByRef);
        case 'reply':
          return this.settleReply(frame.id, frame.ok, frame.body, from, frame.askerGeneration);
        case 'watch':
          return this.monitors.watchRequested(from, frame.id, frame.path);
        case 'unwatch':
          return this.monitors.unwatchRequested(from, frame.id);
        case 'terminated':
          return this.monitors.terminated(from, frame.id, frame.reason);
      }
    } catch {
      this.deadLetter('malformed', from.name); // a body that does not decode
    }
  }

  /**
   * A message from another node. Its target is found once and checked before the body is decoded, so a
   * message that is dropped (no such actor, mailbox full) costs no decoding; such a message is counted under
   * that reason even when its body would not have decoded.
   */
  private receiveMessage(path: string[], body: Uint8Array): void {
    if (path[0] === REPLY_PATH && path.length === 2) return this.answerByRef(path[1]!, (decode(body, this.opts.self) as [unknown])[0]);
    const actor = findLocalActor(this.systemName, this.localRef(path));
    if (actor === undefined) return this.deadLetter('no-such-actor', `${this.opts.self}/${path.join('/')}`);
    if ((actor.mailbox?.length ?? 0) >= this.maxMailbox) return this.deadLetter('mailbox-full', `${this.opts.self}/${path.join('/')}`);
    const [message, sender] = decode(body, this.opts.self) as [unknown, RemoteRef | null];
    actor.dispatch(message, sender ?? undefined);
  }

  private serveQuery(from: PeerIdentity, id: number, path: string[], body: Uint8Array, timeoutMs: number, replyByRef: boolean): void {
    this.stats.queriesServed++;
    const actor = findLocalActor(this.systemName, this.localRef(path));
    if (actor === undefined) return this.refuseQuery(from, id, 'no-such-actor', path);
    if ((actor.mailbox?.length ?? 0) >= this.maxMailbox) return this.refuseQuery(from, id, 'mailbox-full', path);
    const [message] = decode(body, this.opts.self) as [unknown];
    // Answered by the actor to the reference inside the message: deliver it; the reply travels as a message.
    if (replyByRef) return actor.dispatch(message);
    const replyTo = replyReference(this.systemName, (value) => {
      done();
      this.answerQuery(from, id, true, value);
    });
    const done = this.served.hold(Math.min(timeoutMs, MAX_QUERY_TIMEOUT_MS), replyTo.release);
    actor.dispatch(message, replyTo.ref);
  }

  private refuseQuery(from: PeerIdentity, id: number, reason: 'no-such-actor' | 'mailbox-full', path: readonly string[]): void {
    const where = `${this.opts.self}/${path.join('/')}`;
    this.deadLetter(reason, where);
    const err = reason === 'no-such-actor' ? new NoSuchActorError(where) : new MailboxFullError(where, this.maxMailbox);
    this.answerQuery(from, id, false, { code: err.code, message: err.message });
  }

  /** Sends the answer of query `id` to the process that asked; an answer that cannot travel (unencodable, too large) is sent as that error. */
  private answerQuery(to: PeerIdentity, id: number, ok: boolean, value: unknown): void {
    let body: Uint8Array;
    try {
      body = encode(this.opts.self, value);
      this.opts.transport.send(to.address, ACTOR_CHANNEL, replyFrame(id, ok, body, to.generation));
    } catch (err) {
      if (!ok) throw err; // an error answer is small and plain: this is a bug, not the actor's answer
      const e = err as Partial<TroupeError>;
      this.answerQuery(to, id, false, { code: typeof e.code === 'string' ? e.code : 'ERR_BAD_REQUEST', message: `the answer could not be sent: ${String(e.message ?? err)}` });
    }
  }

  private settleReply(id: number, ok: boolean, body: Uint8Array, from: PeerIdentity, askerGeneration: number): void {
    if (askerGeneration !== this.opts.generation) return; // the answer to a former process of this node
    if (this.pending.get(id)?.target.node !== from.name) return; // late (timed out) or not ours
    const value = decode(body, this.opts.self);
    const pending = this.settle(id)!;
    if (ok) return pending.resolve(value);
    pending.reject(remoteError(value, pending.target.toString()));
  }

  /** A message to a query's reply reference (`$reply/<generation>.<id>`): answers that query, if it is this process's and still waits. */
  private answerByRef(key: string, message: unknown): void {
    const [generation, id] = key.split('.').map(Number);
    const pending = generation === this.opts.generation ? this.settle(id!) : undefined;
    if (pending === undefined) return this.deadLetter('no-such-actor', `${this.opts.self}/${REPLY_PATH}/${key}`);
    pending.resolve(message);
  }

  // ---- Failure ----

  /** The node's address when it is a member not known to be gone. */
  private reachable(node: string): string | undefined {
    const state = this.opts.members.stateOf(node);
    if (state === undefined || GONE_STATES.has(state)) return undefined;
    return this.opts.members.addressOf(node);
  }

  private failQueriesTo(node: string, reason: string): void {
    for (const [id, p] of [...this.pending]) if (p.target.node === node) this.settle(id)?.reject(new NodeDownError(node, p.target.toString(), reason));
  }

  private failAll(reason: string): void {
    for (const [id, p] of [...this.pending]) this.settle(id)?.reject(new NodeDownError(this.opts.self, p.target.toString(), reason));
  }

  private deadLetter(reason: DeadLetterReason, target: string): void {
    this.stats.deadLetters[reason]++;
    const decision = this.deadLetterLog.decide(reason, this.now());
    if (decision.log) this.opts.log.warn({ reason, target, suppressed: decision.suppressed }, `dead letter (${reason}) for ${target}`);
  }
}

/** The typed error an error answer stands for. */
function remoteError(value: unknown, ref: string): Error {
  const v = (value ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof v.code === 'string' ? v.code : 'ERR_INTERNAL';
  const message = typeof v.message === 'string' ? v.message : 'the remote query failed';
  if (code === 'ERR_NO_SUCH_ACTOR') return new NoSuchActorError(ref);
  if (code === 'ERR_MAILBOX_FULL') return new MailboxFullError(ref, 0);
  if (code === 'ERR_TIMEOUT') return new TroupeError('ERR_TIMEOUT', message);
  return new TroupeError(code as ErrorCode, message);
}
