/**
 * Join, leave and remove: the operator's verbs, each answering only after
 * the fact, and each failure named.
 *
 * - join(`name@host[:port]`): resolves the locator (a missing port by
 *   scanning the host's port range), refuses this node itself, asks
 *   membership to sync with the target, and succeeds once this node and the
 *   target are both `up` — in this node's view, and in the target's, which
 *   it confirms over rpc (`membership.await`). Fails fast, by transport
 *   event, on a refused connection, a refused handshake (cookie, cluster
 *   name, protocol version) or a port that does not speak troupe.
 * - leave(): the hand-over (`beforeLeave`: the actor layer stops its
 *   singletons and releases its names), graceful leave, then the
 *   confirmation of every member that was up that it sees this node `left`.
 * - remove(name): forgets a down or left member; done once it is gone here.
 *
 * Everything waits on events (membership, transport), never on polling.
 */
import type { EventEmitter } from 'node:events';
import type { TroupeConfig } from './config.js';
import {
  AbortError,
  AuthenticationError,
  ClusterNameError,
  ConflictError,
  NodeNotFoundError,
  NotATroupeNodeError,
  ProtocolVersionError,
  TimeoutError,
  TroupeError,
  UnknownNodeError,
  UnreachableError,
} from './errors.js';
import { formatAddress, formatLocator, namePart, nodeHost, parseNodeLocator, type NodeLocator } from './node-address.js';
import type { CallOptions, MemberState, MemberStatus } from './node-api.js';
import type { Rpc } from './rpc/rpc.js';
import { describeMiss } from './transport/port-scan.js';
import { PROTOCOL_VERSION } from './transport/handshake.js';
import type { Transport, TransportEvent } from './transport/transport.js';

/** How long join waits for the target to answer and both sides to be up, unless the caller says. @default 10000 ms */
export const DEFAULT_JOIN_TIMEOUT_MS = 10_000;
/** How long leave waits for the leave to complete and peers to confirm it, unless the caller says. @default 5000 ms */
export const DEFAULT_LEAVE_TIMEOUT_MS = 5_000;
/** How long remove waits for the member to be gone, unless the caller says. @default 5000 ms */
export const DEFAULT_REMOVE_TIMEOUT_MS = 5_000;
/** The rpc method a node serves so that another can learn how it sees a member. */
export const AWAIT_MEMBER_METHOD = 'membership.await';

type MembershipCommand = { type: 'join'; addresses: string[] } | { type: 'leave' } | { type: 'remove'; name: string };

/** The member events a node emits (lib/node.ts `TroupeNodeEvents`). */
export interface MemberEvents {
  'member-up': [MemberStatus];
  'member-left': [MemberStatus];
  'member-removed': [MemberStatus];
  'self-up': [];
  'leave-complete': [];
}

export interface ClusterOperationsDeps {
  config: TroupeConfig;
  name: string;
  address(): string;
  transport: Transport;
  rpc: Rpc;
  membership: { send(command: MembershipCommand): void };
  members(): MemberStatus[];
  selfState(): MemberState;
  /** Emits the MemberEvents (the node itself). */
  events: EventEmitter;
  /** Runs before a graceful leave is announced (the actor layer hands its singletons and names over); must not throw. */
  beforeLeave?: () => Promise<void> | undefined;
}

/** The target of a join once resolved: where to dial, and the name when known. */
interface JoinTarget {
  address: string;
  name: string | undefined;
}

export class ClusterOperations {
  private leaving: Promise<void> | undefined;
  /** Joins in progress, watching for the transport's verdict on their target. */
  private readonly transportWatchers = new Set<(event: TransportEvent) => void>();

  constructor(private readonly deps: ClusterOperationsDeps) {
    deps.transport.onEvent((event) => {
      for (const watch of this.transportWatchers) watch(event);
    });
    deps.rpc.handle(AWAIT_MEMBER_METHOD, (arg, _from, signal) => this.awaitMember(arg, signal));
  }

  async join(node: string, options: CallOptions = {}): Promise<void> {
    const { config } = this.deps;
    const locator = parseNodeLocator(node, 'node');
    if (!config.clusteringEnabled) throw new ConflictError('clustering is disabled on this node: start it with CLUSTERING_ENABLED=true to join a cluster');
    const state = this.deps.selfState();
    if (state === 'leaving' || state === 'left') throw new ConflictError(`this node is ${state}; restart it to join a cluster again`);
    if (this.namesSelf(locator)) throw new ConflictError(`${node} is this node itself: name another node of the cluster to join`);
    const deadline = deadlineOf(options.timeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS);
    const target = await this.resolveTarget(locator, node, options.signal);
    if (target.address === this.deps.address() || this.deps.transport.resolve(target.address) === this.deps.address()) {
      throw new ConflictError(`${node} is this node itself (${this.deps.address()}): name another node of the cluster to join`);
    }
    const member = await this.untilTargetUp(target, node, deadline, options.signal);
    await this.confirmSeenUp(member, node, deadline, options.signal);
  }

  leave(options: CallOptions = {}): Promise<void> {
    this.leaving ??= this.leaveAndConfirm(options);
    // A leave that failed may be retried (a left node's retry only re-asks for the confirmations).
    this.leaving.catch(() => (this.leaving = undefined));
    return this.leaving;
  }

  async remove(name: string, options: CallOptions = {}): Promise<void> {
    const member = this.deps.members().find((m) => m.name === name);
    if (!member) throw new UnknownNodeError(name);
    if (member.self) throw new ConflictError(`${name} is this node: use POST /api/cluster/leave to leave`);
    if (member.state !== 'down' && member.state !== 'left') throw new ConflictError(`${name} is ${member.state}; only a down or left member can be removed`);
    const gone = this.waitForEvent(`removal of ${name}`, options.timeoutMs ?? DEFAULT_REMOVE_TIMEOUT_MS, options.signal, (done, fail) => {
      const check = (): void => {
        const now = this.deps.members().find((m) => m.name === name);
        if (now === undefined) done();
        else if (now.state !== 'down' && now.state !== 'left') fail(new ConflictError(`${name} came back (${now.state}) before it could be removed`));
      };
      return this.onMemberEvents(['member-removed', 'member-up'], check);
    });
    this.deps.membership.send({ type: 'remove', name });
    await gone;
  }

  /** Whether the locator spells this node's own name (its port, if given, included). */
  private namesSelf(locator: NodeLocator): boolean {
    const own = this.deps.name;
    if (locator.name === undefined || locator.name !== namePart(own) || locator.host !== nodeHost(own)) return false;
    return locator.port === undefined || formatAddress(locator.host, locator.port) === this.deps.address();
  }

  /** `host:port` as given, or the port a scan of the host finds for the name. */
  private async resolveTarget(locator: NodeLocator, node: string, signal: AbortSignal | undefined): Promise<JoinTarget> {
    if (locator.port !== undefined) return { address: formatAddress(locator.host, locator.port), name: locator.name };
    const scan = await this.deps.transport.scan(locator.host, this.deps.config.clusterPortRange, signal ? { signal } : {});
    signal?.throwIfAborted();
    if (scan.error !== null) throw new UnreachableError(node, scan.error);
    const named = scan.nodes.filter((n) => locator.name === undefined || namePart(n.name) === locator.name);
    const others = named.filter((n) => n.address !== this.deps.address() && n.name !== this.deps.name);
    if (named.length > 0 && others.length === 0) throw new ConflictError(`${node} is this node itself (${this.deps.address()}): name another node of the cluster to join`);
    const found = others.find((n) => n.clusterName === this.deps.config.clusterName && n.protocolVersion === PROTOCOL_VERSION) ?? others[0];
    if (found === undefined) throw new NodeNotFoundError(formatLocator(locator), describeMiss(locator, scan));
    if (found.clusterName !== this.deps.config.clusterName) throw new ClusterNameError(this.deps.config.clusterName, found.clusterName);
    if (found.protocolVersion !== PROTOCOL_VERSION) throw new ProtocolVersionError(PROTOCOL_VERSION, found.protocolVersion);
    return { address: found.address, name: found.name };
  }

  /** Asks membership to sync with the target; resolves with its member record once it and this node are up here. */
  private untilTargetUp(target: JoinTarget, node: string, deadline: number, signal: AbortSignal | undefined): Promise<MemberStatus> {
    const { transport } = this.deps;
    const matches = (m: MemberStatus): boolean =>
      !m.self && (m.address === target.address || m.address === transport.resolve(target.address) || (target.name !== undefined && target.name.includes('@') && m.name === target.name));
    const upMember = (): MemberStatus | undefined => (this.deps.selfState() === 'up' ? this.deps.members().find((m) => matches(m) && m.state === 'up') : undefined);
    const waiting = this.waitForEvent(`join of ${node}`, remaining(deadline), signal, (done: (m: MemberStatus) => void, fail) => {
      const check = (): void => {
        const member = upMember();
        if (member) done(member);
      };
      const offMembers = this.onMemberEvents(['member-up', 'self-up'], check);
      const onTransport = (event: TransportEvent): void => {
        const failure = joinFailure(event, target.address, node, transport, this.deps.config.clusterName);
        if (failure) fail(failure);
      };
      this.transportWatchers.add(onTransport);
      queueMicrotask(check);
      return () => {
        offMembers();
        this.transportWatchers.delete(onTransport);
      };
    });
    this.deps.membership.send({ type: 'join', addresses: [target.address] });
    return waiting;
  }

  /** The target confirms that it sees this node up (what "both report" means). */
  private async confirmSeenUp(member: MemberStatus, node: string, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const timeoutMs = remaining(deadline);
    const seen = await this.deps.rpc.call<{ state: MemberState | null }>(member.address, AWAIT_MEMBER_METHOD, { name: this.deps.name, states: ['up'], timeoutMs: Math.max(0, timeoutMs - 200) }, { timeoutMs, ...(signal ? { signal } : {}) });
    if (seen.state !== 'up') throw new TimeoutError(`join of ${node}: ${member.name} is up here, but it sees this node as ${seen.state ?? 'unknown'}, not up,`, timeoutMs);
  }

  private async leaveAndConfirm(options: CallOptions): Promise<void> {
    const deadline = deadlineOf(options.timeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS);
    const witnesses = this.deps.members().filter((m) => !m.self && m.state === 'up');
    if (this.deps.selfState() !== 'left') {
      await this.deps.beforeLeave?.();
      const complete = this.waitForEvent('graceful leave', remaining(deadline), options.signal, (done) => {
        const off = this.onMemberEvents(['leave-complete'], () => done());
        queueMicrotask(() => this.deps.selfState() === 'left' && done());
        return off;
      });
      this.deps.membership.send({ type: 'leave' });
      await complete;
    }
    const confirmations = await Promise.allSettled(witnesses.map((w) => this.deps.rpc.call<{ state: MemberState | null }>(
      w.address, AWAIT_MEMBER_METHOD, { name: this.deps.name, states: ['left'], timeoutMs: Math.max(0, remaining(deadline) - 200) }, { timeoutMs: remaining(deadline), ...(options.signal ? { signal: options.signal } : {}) },
    )));
    const unconfirmed = witnesses.filter((_, i) => {
      const c = confirmations[i]!;
      return c.status === 'rejected' || (c.value.state !== 'left' && c.value.state !== null);
    });
    if (unconfirmed.length > 0) {
      throw new TroupeError('ERR_TIMEOUT', `this node left, but ${unconfirmed.map((m) => m.name).join(', ')} did not confirm it within the deadline; they will see it left or down`, { retryable: true });
    }
  }

  /** rpc `membership.await`: how this node sees member `name`, once it is in one of `states` or at the deadline. */
  private awaitMember(arg: unknown, signal: AbortSignal): Promise<{ state: MemberState | null }> {
    const { name, states, timeoutMs } = (arg ?? {}) as { name?: unknown; states?: unknown; timeoutMs?: unknown };
    if (typeof name !== 'string' || !Array.isArray(states)) return Promise.reject(new TroupeError('ERR_BAD_REQUEST', 'membership.await takes { name, states, timeoutMs }'));
    const stateOf = (): MemberState | null => this.deps.members().find((m) => m.name === name)?.state ?? null;
    const wait = Math.min(typeof timeoutMs === 'number' ? timeoutMs : 0, DEFAULT_JOIN_TIMEOUT_MS);
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        off();
        signal.removeEventListener('abort', finish);
        resolve({ state: stateOf() });
      };
      const off = this.onMemberEvents(['member-up', 'member-left', 'member-removed'], () => states.includes(stateOf()) && finish());
      const timer = setTimeout(finish, wait);
      signal.addEventListener('abort', finish, { once: true });
      if (states.includes(stateOf())) finish();
    });
  }

  private onMemberEvents(names: Array<keyof MemberEvents>, listener: () => void): () => void {
    const events = this.deps.events;
    for (const name of names) events.on(name, listener);
    return () => {
      for (const name of names) events.off(name, listener);
    };
  }

  /** A promise settled by `setup`'s callbacks, by the deadline (TimeoutError) or by the signal (AbortError); `setup` returns its cleanup. */
  private waitForEvent<T = void>(what: string, timeoutMs: number, signal: AbortSignal | undefined, setup: (done: (value: T) => void, fail: (err: Error) => void) => () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let cleanup = (): void => {};
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        cleanup();
        fn();
      };
      const onAbort = (): void => settle(() => reject(new AbortError(what, { cause: signal?.reason })));
      const timer = setTimeout(() => settle(() => reject(new TimeoutError(what, timeoutMs))), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      cleanup = setup((value) => settle(() => resolve(value)), (err) => settle(() => reject(err)));
      if (settled) cleanup();
      if (signal?.aborted) onAbort();
    });
  }
}

/** The error a transport event means for a join of `address`, or null when it says nothing about it. */
export function joinFailure(event: TransportEvent, address: string, node: string, transport: Pick<Transport, 'resolve'>, clusterName: string): TroupeError | null {
  if (event.type === 'dial-failed') return event.address === address ? new UnreachableError(`${node} at ${address}`, event.message) : null;
  if (event.type !== 'handshake-failed') return null;
  if (event.remoteAddress !== address && transport.resolve(event.remoteAddress) !== transport.resolve(address)) return null;
  switch (event.reason) {
    case 'bad-cookie':
      return new AuthenticationError(`${node} refused this node's cookie, or this node its (${event.message}): set COOKIE to the cluster's cookie`);
    case 'cluster-name':
      return new ClusterNameError(clusterName, event.message);
    case 'protocol-version':
      return new ProtocolVersionError(PROTOCOL_VERSION, event.message);
    case 'bad-frame':
    case 'frame-too-large':
      return new NotATroupeNodeError(`${node} at ${address}`, `it answered with bytes that are not the troupe handshake: ${event.message}`);
    default:
      return new UnreachableError(`${node} at ${address}`, `handshake failed (${event.reason}): ${event.message}`);
  }
}

function deadlineOf(timeoutMs: number): number {
  return performance.now() + timeoutMs;
}

function remaining(deadline: number): number {
  return Math.max(1, Math.round(deadline - performance.now()));
}
