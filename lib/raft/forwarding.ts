/**
 * Forwarding of Raft requests to the group's leader: a `propose` or a named
 * `query` issued at any node is served by the leader of the group and its
 * answer (result or typed error) comes back to the caller, who never needs to
 * know who leads.
 *
 * Routing. The target is, in order: this node when its replica leads; the
 * leader its replica knows of; the leader cached for the group (learnt from
 * earlier answers and NotLeader hints); else a replica named by
 * `replicasOf`, in turn. A local target runs on the local host; a remote
 * one over rpc (`raft.propose`, `raft.query`, served by every node's router:
 * the serving node runs the request only if its replica leads, and otherwise
 * answers NotLeaderError with its hint, so a request never travels more than
 * one hop per attempt).
 *
 * Retries, all within the caller's deadline and signal:
 * - NotLeader with a hint: follow it at once, at most `maxHops` times in a
 *   row (then the NotLeaderError goes to the caller: the hints chase each
 *   other); a back-off in between starts the count again.
 * - NotLeader without a hint, no known target, a retryable refusal before
 *   anything was appended (ProposalDropped: transferring, full pipeline), an
 *   rpc that could not be sent: back off (exponential, jittered) and retry.
 * - A query (idempotent) is also retried after a lost reply or a link down.
 * - An rpc that could not be sent (no link could be made to the target)
 *   is retried like a refusal: nothing reached the leader.
 * - A forwarded proposal whose answer was lost (the rpc timed out, the link
 *   went down, the serving host stopped) is NOT retried: it may have been
 *   appended, so it fails with OutcomeUnknownError. A refusal (NotLeader,
 *   ProposalDropped) means nothing was appended, so it is safe to retry.
 *
 * The leader cache is per group; an entry is dropped on NotLeader (replaced by
 * the hint), on a lost reply, and when the link to that node goes down or
 * membership reports it down, left or removed.
 *
 * A node whose link went down is not a target, and a hint naming it is
 * stale, until its link is up again, or until `unlinkedMs` have passed since
 * the link went down or a dial to it last failed: a leader that crashed drops
 * its links at once, long before membership reports it down, and until its
 * followers elect another leader they still name it. A request sent there
 * would wait out its whole deadline for a dial that cannot succeed (and a
 * write would end with an unknown outcome); kept away, it backs off and
 * retries until the election names the new leader. While the node stays
 * unreachable, the Raft and SWIM traffic queued for it keeps the transport
 * redialing (at most 5 s apart), and each failed dial extends the wait; a
 * live node behind a dropped link is redialed by that traffic within a
 * heartbeat or a probe period (link up ends the wait), and by the router
 * itself once the wait lapses.
 *
 * Queries are named functions of the state machine registered on every node
 * (`queries`): a closure cannot travel, a name and a msgpack argument can.
 * They run by ReadIndex at the leader, so they are linearizable.
 */

import { AbortError, TimeoutError, TroupeError } from '../errors.js';
import type { MemberEvents } from '../../actors/member-events.js';
import type { Random } from '../protocol/random.js';
import { NotLeaderError } from '../protocol/raft/errors.js';
import type { NodeId } from '../protocol/raft/types.js';
import { RemoteError, type Rpc } from '../rpc/rpc.js';
import type { Transport } from '../transport/transport.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, OutcomeUnknownError, type RequestOptions } from './requests.js';
import type { StateMachine } from './state-machine.js';

export const RPC_RAFT_PROPOSE = 'raft.propose';
export const RPC_RAFT_QUERY = 'raft.query';
/** NotLeader hints followed per request. @default 3: a leader change moves the hint once or twice; more means the hints chase each other. */
export const DEFAULT_MAX_HOPS = 3;
/** Backoff between attempts when no leader is known, ms. @default 20 to 400 */
export const DEFAULT_FORWARD_BACKOFF = { baseMs: 20, maxMs: 400 } as const;
/** How long after its link went down, or a dial to it last failed, a node is not sent requests (unless its link comes back first), ms. @default 5000: the transport's longest redial backoff */
export const DEFAULT_UNLINKED_MS = 5_000;

/** A named read of a group's state machine: `arg` and the result must be msgpack-encodable. */
export type Query = (sm: StateMachine, arg: unknown) => unknown;

/** What the router needs of the local raft host (actors/raft-host-actor.ts's handle has it). */
export interface LocalRaft {
  propose(group: string, command: Uint8Array, options?: RequestOptions): Promise<unknown>;
  read<T>(group: string, fn: (sm: StateMachine) => T, options?: RequestOptions): Promise<T>;
  host(): { status(group: string): { role: string; leader: NodeId | null; term: number } | null };
}

export interface RaftRouterOptions {
  /** This node's name (its Raft id). */
  self: NodeId;
  raft: LocalRaft;
  /** The node's one Rpc (one per transport: the 'rpc' channel has one handler). */
  rpc: Rpc;
  /** The transport address of a node (the member-events address book). */
  addressOf: (node: NodeId) => string | undefined;
  /** Link events: a link down drops that node from the leader cache and keeps requests away from it until it is up again (failed dials extend that). */
  transport?: Pick<Transport, 'onEvent'>;
  /** Member events: a node down, left or removed is dropped from the leader cache. */
  members?: Pick<MemberEvents, 'subscribe'>;
  /** The named queries this node serves and issues. */
  queries?: Readonly<Record<string, Query>>;
  /** Nodes holding a replica of a group, tried when no leader is known (placement knows). */
  replicasOf?: (group: string) => readonly NodeId[];
  /**
   * Checked before every retry: an error when the group cannot serve now
   * (it has lost its majority), thrown at once instead of retrying until the
   * deadline. Only ever thrown before the request was sent or after a
   * refusal, so nothing was appended.
   */
  availability?: (group: string) => Error | null;
  maxHops?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** @default DEFAULT_UNLINKED_MS */
  unlinkedMs?: number;
  /** Monotonic ms (tests). @default performance.now */
  now?: () => number;
  random?: Random;
}

export interface RouterStats {
  local: number;
  forwarded: number;
  served: number;
  hops: number;
  retries: number;
  cacheInvalidations: number;
}

interface ProposeArg { group: string; data: Uint8Array; timeoutMs: number }
interface QueryArg { group: string; name: string; arg: unknown; timeoutMs: number }

/** An attempt's failure, classified. */
type Verdict =
  | { kind: 'hint'; leader: NodeId; err: Error }
  | { kind: 'retry'; err: Error }
  | { kind: 'unknown'; err: Error }
  | { kind: 'fail'; err: Error };

export class RaftRouter {
  readonly stats: RouterStats = { local: 0, forwarded: 0, served: 0, hops: 0, retries: 0, cacheInvalidations: 0 };
  private readonly leaders = new Map<string, NodeId>();
  /** Nodes membership reports down, left or removed (until it reports them joining or up): never a target. */
  private readonly down = new Set<NodeId>();
  /** Nodes whose link went down, and when it did or a dial to them last failed (monotonic ms), until a link to them is up again. */
  private readonly unlinked = new Map<NodeId, number>();
  private readonly now: () => number;
  private readonly queries: Readonly<Record<string, Query>>;
  private readonly maxHops: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly opts: RaftRouterOptions) {
    this.queries = opts.queries ?? {};
    this.maxHops = opts.maxHops ?? DEFAULT_MAX_HOPS;
    this.backoff = opts.backoff ?? DEFAULT_FORWARD_BACKOFF;
    this.now = opts.now ?? (() => performance.now());
    opts.rpc.handle(RPC_RAFT_PROPOSE, (arg, _from, signal) => this.serveProposal(arg as ProposeArg, signal));
    opts.rpc.handle(RPC_RAFT_QUERY, (arg, _from, signal) => this.serveQuery(arg as QueryArg, signal));
    opts.transport?.onEvent((event) => {
      if (this.closed) return;
      if (event.type === 'link-down') {
        this.unlinked.set(event.peer.name, this.now());
        this.forgetNode(event.peer.name);
      } else if (event.type === 'link-up') {
        this.unlinked.delete(event.peer.name);
      } else if (event.type === 'dial-failed') {
        for (const node of this.unlinked.keys()) if (this.opts.addressOf(node) === event.address) this.unlinked.set(node, this.now());
      }
    });
    this.unsubscribe = opts.members?.subscribe((msg) => {
      if (msg.event === 'member-down' || msg.event === 'member-left' || msg.event === 'member-removed') {
        this.down.add(msg.member.name);
        this.forgetNode(msg.member.name);
      } else if (msg.event === 'member-up' || msg.event === 'member-joining') {
        this.down.delete(msg.member.name);
      }
    });
  }

  /** Replicates `command` in `group` through its leader; resolves with the state machine's result. */
  propose(group: string, command: Uint8Array, options: RequestOptions = {}): Promise<unknown> {
    return this.route(group, `proposal to raft group ${group}`, options, true,
      (o) => this.opts.raft.propose(group, command, o),
      (timeoutMs) => [RPC_RAFT_PROPOSE, { group, data: command, timeoutMs } satisfies ProposeArg]);
  }

  /** Runs the named query on the leader's state machine at a linearizable point (ReadIndex). */
  query<T = unknown>(group: string, name: string, arg: unknown, options: RequestOptions = {}): Promise<T> {
    const fn = this.queries[name];
    if (fn === undefined) return Promise.reject(new TroupeError('ERR_BAD_REQUEST', `no raft query named ${JSON.stringify(name)} is registered`));
    return this.route(group, `query ${name} of raft group ${group}`, options, false,
      (o) => this.opts.raft.read(group, (sm) => fn(sm, arg), o),
      (timeoutMs) => [RPC_RAFT_QUERY, { group, name, arg, timeoutMs } satisfies QueryArg]) as Promise<T>;
  }

  /** The leader this node would send `group`'s requests to, if it knows one. */
  leaderOf(group: string): NodeId | undefined {
    const s = this.localStatus(group);
    if (s?.role === 'leader') return this.opts.self;
    const known = s?.leader ?? this.leaders.get(group);
    return known === undefined || known === this.opts.self || this.avoided(known) ? undefined : known;
  }

  /** The cached leader of `group` (learnt from answers and hints), if any. */
  cachedLeader(group: string): NodeId | undefined {
    return this.leaders.get(group);
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.leaders.clear();
    this.unlinked.clear();
  }

  // ---- Routing ----

  private async route<T>(
    group: string,
    what: string,
    options: RequestOptions,
    isWrite: boolean,
    local: (o: RequestOptions) => Promise<T>,
    remote: (timeoutMs: number) => [string, unknown],
  ): Promise<T> {
    const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    const signal = options.signal;
    let hops = 0;
    let attempt = 0;
    let hinted: NodeId | undefined;
    const hopped: NodeId[] = [];
    let tried = 0;
    for (;;) {
      if (signal?.aborted) throw new AbortError(what, { cause: signal.reason });
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new TimeoutError(isWrite ? `${what} (outcome unknown)` : what, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      // The caller checked before the first attempt; a retry checks again (membership or links may have changed meanwhile).
      const unavailable = tried > 0 ? (this.opts.availability?.(group) ?? null) : null;
      if (unavailable !== null) throw unavailable;
      const target = hinted ?? this.target(group, tried++);
      hinted = undefined;
      let verdict: Verdict;
      if (target === undefined) {
        verdict = { kind: 'retry', err: new NotLeaderError(group, null, 0) };
      } else {
        const o: RequestOptions = { timeoutMs: remaining, ...(signal ? { signal } : {}) };
        try {
          if (target === this.opts.self) {
            this.stats.local++;
            return await local(o);
          }
          const address = this.opts.addressOf(target);
          if (address === undefined) {
            this.forget(group, target);
            verdict = { kind: 'retry', err: new TroupeError('ERR_UNKNOWN_NODE', `no address known for ${target}`, { retryable: true }) };
          } else {
            this.stats.forwarded++;
            const [method, arg] = remote(remaining);
            const result = await this.opts.rpc.call<T>(address, method, arg, o);
            this.leaders.set(group, target);
            return result;
          }
        } catch (err) {
          verdict = this.classify(err, target, isWrite);
        }
        if (target !== this.opts.self && verdict.kind !== 'hint' && verdict.kind !== 'fail') this.forget(group, target);
      }
      switch (verdict.kind) {
        case 'fail':
          throw verdict.err;
        case 'unknown':
          throw new OutcomeUnknownError(what, `the answer of ${target} was lost (${verdict.err.message})`, { cause: verdict.err });
        case 'hint':
          if (target !== undefined) this.forget(group, target);
          // A hint naming the node that just refused, a node down or unlinked, or this node while its own replica does not lead, is stale: wait for the election.
          if (verdict.leader !== target && !this.avoided(verdict.leader) && (verdict.leader !== this.opts.self || this.localStatus(group)?.role === 'leader')) {
            if (verdict.leader !== this.opts.self) this.leaders.set(group, verdict.leader);
            if (++hops > this.maxHops) {
              // The hints chase each other: say where they led, so the cause can be found from the error alone.
              verdict.err.message += ` (after following ${this.maxHops} leader hints: ${[...hopped, target, verdict.leader].join(' → ')})`;
              throw verdict.err;
            }
            if (target !== undefined) hopped.push(target);
            this.stats.hops++;
            hinted = verdict.leader;
            continue;
          }
          break;
        case 'retry':
          break;
      }
      // A back-off ends a chase: the hop limit is for hints that bounce between nodes without a pause, not for a
      // leader that is named correctly but cannot be reached yet (a node just restarted, a link coming up).
      hops = 0;
      hopped.length = 0;
      this.stats.retries++;
      await this.sleep(Math.min(this.backoffMs(attempt++), deadline - performance.now()), signal);
    }
  }

  private target(group: string, attempt: number): NodeId | undefined {
    const known = this.leaderOf(group);
    if (known !== undefined) return known;
    const replicas = (this.opts.replicasOf?.(group) ?? []).filter((n) => !this.avoided(n) && (n !== this.opts.self || this.localStatus(group) !== null));
    return replicas.length === 0 ? undefined : replicas[attempt % replicas.length];
  }

  private classify(err: unknown, target: NodeId, isWrite: boolean): Verdict {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e instanceof AbortError) return { kind: 'fail', err: e };
    const code = err instanceof RemoteError ? err.remoteCode : (err as Partial<TroupeError>).code;
    if (code === 'ERR_NOT_LEADER') {
      const hint = err instanceof NotLeaderError ? err.leaderHint : err instanceof RemoteError ? err.data['leaderHint'] : null;
      const asLocal = err instanceof RemoteError ? new NotLeaderError(String(err.data['group'] ?? ''), typeof hint === 'string' ? hint : null, Number(err.data['term'] ?? 0)) : e;
      return typeof hint === 'string' ? { kind: 'hint', leader: hint, err: asLocal } : { kind: 'retry', err: asLocal };
    }
    if (code === 'ERR_PROPOSAL_DROPPED') return (err as TroupeError).retryable ? { kind: 'retry', err: e } : { kind: 'fail', err: e };
    if (target === this.opts.self) {
      // The local host answered: its errors are the caller's (a timeout, an unknown outcome, a bad request).
      return { kind: 'fail', err: e };
    }
    if (err instanceof RemoteError) {
      if (code === 'ERR_OUTCOME_UNKNOWN') return { kind: isWrite ? 'unknown' : 'retry', err: e };
      if (code === 'ERR_TIMEOUT') return { kind: isWrite ? 'unknown' : 'retry', err: e };
      // An unknown group there (ERR_NOT_FOUND): the replica moved or is not created yet.
      if (code === 'ERR_NOT_FOUND' && err.data['group'] !== undefined) return { kind: 'retry', err: e };
      return { kind: 'fail', err: e };
    }
    // Local failures of the call: not sent (queue full) is safe to retry; anything after sending may have reached the leader.
    if (code === 'ERR_QUEUE_FULL' || code === 'ERR_UNKNOWN_NODE' || code === 'ERR_UNREACHABLE') return { kind: 'retry', err: e };
    if (code === 'ERR_TIMEOUT' || code === 'ERR_LINK_CLOSED') return { kind: isWrite ? 'unknown' : 'retry', err: e };
    return { kind: isWrite ? 'unknown' : 'fail', err: e };
  }

  private backoffMs(attempt: number): number {
    const cap = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** attempt);
    const jitter = this.opts.random ? this.opts.random.next() : Math.random();
    return cap / 2 + (cap / 2) * jitter;
  }

  private sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private localStatus(group: string): { role: string; leader: NodeId | null; term: number } | null {
    try {
      return this.opts.raft.host().status(group);
    } catch {
      return null; // the host is not started (or is being rebuilt)
    }
  }

  /** Down as membership says, or unlinked: its link went down, is not up again, and it went down or a dial to it failed less than `unlinkedMs` ago. */
  private avoided(node: NodeId): boolean {
    if (this.down.has(node)) return true;
    const since = this.unlinked.get(node);
    if (since === undefined) return false;
    if (this.now() - since < (this.opts.unlinkedMs ?? DEFAULT_UNLINKED_MS)) return true;
    this.unlinked.delete(node);
    return false;
  }

  private forget(group: string, node: NodeId): void {
    if (this.leaders.get(group) !== node) return;
    this.leaders.delete(group);
    this.stats.cacheInvalidations++;
  }

  private forgetNode(node: NodeId): void {
    for (const [group, leader] of this.leaders) if (leader === node) this.forget(group, leader);
  }

  // ---- Serving ----

  /** Runs only at the leader: elsewhere NotLeaderError with this node's hint, so the caller goes there itself. */
  private requireLeader(group: string): void {
    const s = this.localStatus(group);
    if (s === null) throw new UnknownReplicaError(group);
    if (s.role !== 'leader') throw new NotLeaderError(group, s.leader, s.term);
  }

  private async serveProposal(arg: ProposeArg, signal: AbortSignal): Promise<unknown> {
    if (!isRecord(arg) || typeof arg.group !== 'string' || !(arg.data instanceof Uint8Array)) throw new TroupeError('ERR_BAD_REQUEST', 'malformed raft.propose request');
    this.requireLeader(arg.group);
    this.stats.served++;
    return this.opts.raft.propose(arg.group, arg.data, { timeoutMs: clampTimeout(arg.timeoutMs), signal });
  }

  private async serveQuery(arg: QueryArg, signal: AbortSignal): Promise<unknown> {
    if (!isRecord(arg) || typeof arg.group !== 'string' || typeof arg.name !== 'string') throw new TroupeError('ERR_BAD_REQUEST', 'malformed raft.query request');
    const fn = this.queries[arg.name];
    if (fn === undefined) throw new TroupeError('ERR_BAD_REQUEST', `no raft query named ${JSON.stringify(arg.name)} on this node`);
    this.requireLeader(arg.group);
    this.stats.served++;
    return this.opts.raft.read(arg.group, (sm) => fn(sm, arg.arg), { timeoutMs: clampTimeout(arg.timeoutMs), signal });
  }
}

/** The serving node holds no replica of the group (ERR_NOT_FOUND with `group`: the caller tries another replica). */
export class UnknownReplicaError extends TroupeError {
  constructor(readonly group: string) {
    super('ERR_NOT_FOUND', `no replica of raft group ${JSON.stringify(group)} on this node`, { retryable: true });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> & ProposeArg & QueryArg {
  return typeof v === 'object' && v !== null;
}

function clampTimeout(ms: unknown): number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, DEFAULT_REQUEST_TIMEOUT_MS * 12) : DEFAULT_REQUEST_TIMEOUT_MS;
}
