/**
 * Watches: every committed change of a table (or of the keys under a prefix)
 * from a position on, in version order per partition, exactly once.
 *
 * Server side (any node holding a replica): `tables.watch-poll` reads the
 * partition's retained history (change-history.ts) after a version; with
 * nothing new it waits, up to `waitMs`, for the group's next apply (a
 * long poll). History is committed data, so any replica may serve it: a
 * follower only serves it later than the leader.
 *
 * Client side (`watchTable`): one poller per partition, on a local replica
 * when the node holds one, else on a replica over rpc (the known leader
 * first, then the others in turn after a failure). Each poller keeps the
 * last version it delivered and drops anything at or below it, so a change
 * is delivered once even when the serving replica changes (a leader change,
 * a node down). Positions travel as a cursor: one version per partition.
 * Across partitions there is no order: versions are per partition (Raft
 * indexes of different groups).
 *
 * When a replica no longer retains the changes asked for (trimmed, or
 * replaced by a snapshot) the other replicas are tried; if none has them,
 * the watch ends with WatchCompactedError saying where to resume after a
 * re-read.
 */

import type { RaftHostHandle } from '../../actors/raft-host-actor.js';
import { BadRequestError, TroupeError, WatchCompactedError } from '../errors.js';
import type { NodeId } from '../protocol/raft/types.js';
import type { Rpc } from '../rpc/rpc.js';
import { decodeKey, decodeValue, encodeKey } from './commands.js';
import type { TableInfo as CatalogueTable } from './catalogue.js';
import { PartitionStateMachine } from './partition-state-machine.js';
import { parsePartitionGroup } from './catalogue.js';
import type { HistoryChange } from './change-history.js';

export const RPC_TABLES_WATCH_POLL = 'tables.watch-poll';
/** How long one poll waits for a change, ms. @default 10000 */
export const WATCH_POLL_WAIT_MS = 10_000;
/** Versions one poll returns at most. @default 1000 */
const WATCH_POLL_VERSIONS = 1_000;
/** Events buffered for a slow consumer before the pollers pause. @default 10000 */
const WATCH_BUFFER = 10_000;

/** One committed change, as a watcher receives it. */
export interface WatchEvent<V = unknown> {
  type: 'put' | 'delete';
  table: string;
  partition: number;
  key: string;
  /** The new value (puts only). */
  value?: V;
  /** The Raft index of the partition's entry that made the change. */
  version: number;
  /** Resume here: a watch started with this cursor delivers what follows this event. */
  cursor: string;
}

export interface WatchOptions {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Deliver changes with a version above this, in every partition. Default: from now on. */
  fromVersion?: number;
  /** Resume after the event that carried this cursor (overrides fromVersion). */
  cursor?: string;
  signal?: AbortSignal;
}

interface PollArg {
  group: string;
  /** Deliver versions above this; null: nothing, just the current position. */
  after: number | null;
  prefix?: Uint8Array;
  waitMs: number;
}

interface PollAnswer {
  changes: HistoryChange[];
  /** The position the answer covers: the next poll asks for versions above it. */
  through: number;
}

/** Wakes long polls when a group applies. */
export class ApplyWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  notify(group: string): void {
    const set = this.waiting.get(group);
    if (set === undefined) return;
    this.waiting.delete(group);
    for (const wake of set) wake();
  }

  wait(group: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiting.get(group);
      if (set === undefined) this.waiting.set(group, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set!.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/** Serves `tables.watch-poll` on this node; `poll` is also the local path. */
export class WatchServer {
  constructor(private readonly raft: RaftHostHandle, private readonly waiters: ApplyWaiters) {}

  register(rpc: Rpc): void {
    rpc.handle(RPC_TABLES_WATCH_POLL, (arg, _from, signal) => this.poll(checkPollArg(arg), signal));
  }

  async poll(arg: PollArg, signal?: AbortSignal): Promise<PollAnswer> {
    const first = this.read(arg);
    if (first.changes.length > 0 || arg.after === null || arg.waitMs <= 0) return first;
    await this.waiters.wait(arg.group, Math.min(arg.waitMs, WATCH_POLL_WAIT_MS), signal);
    return this.read(arg);
  }

  private read(arg: PollArg): PollAnswer {
    const host = this.raft.host();
    const status = host.status(arg.group);
    const sm = host.stateMachine(arg.group);
    if (status === null || !(sm instanceof PartitionStateMachine)) throw new TroupeError('ERR_NOT_FOUND', `no replica of ${arg.group} on this node`, { retryable: true });
    const applied = status.applied;
    if (arg.after === null) return { changes: [], through: applied };
    const page = sm.history.after(arg.after, WATCH_POLL_VERSIONS, arg.prefix);
    if (arg.after + 1 < page.from) {
      const where = parsePartitionGroup(arg.group);
      throw new WatchCompactedError(where?.table ?? arg.group, where?.partition ?? 0, arg.after, page.from, applied);
    }
    const last = page.changes.at(-1)?.version ?? 0;
    const full = page.changes.length > 0 && new Set(page.changes.map((c) => c.version)).size >= WATCH_POLL_VERSIONS;
    return { changes: page.changes, through: full ? last : Math.max(applied, last, arg.after) };
  }
}

function checkPollArg(arg: unknown): PollArg {
  const a = arg as Partial<PollArg> | null;
  if (typeof a !== 'object' || a === null || typeof a.group !== 'string' || parsePartitionGroup(a.group) === null) throw new BadRequestError('malformed watch poll: no partition group');
  if (a.after !== null && (typeof a.after !== 'number' || !Number.isSafeInteger(a.after) || a.after < 0)) throw new BadRequestError('malformed watch poll: after must be a version or null');
  if (a.prefix !== undefined && !(a.prefix instanceof Uint8Array)) throw new BadRequestError('malformed watch poll: prefix must be bytes');
  const waitMs = typeof a.waitMs === 'number' && a.waitMs >= 0 ? Math.min(a.waitMs, WATCH_POLL_WAIT_MS) : 0;
  return { group: a.group, after: a.after, ...(a.prefix ? { prefix: a.prefix } : {}), waitMs };
}

// ---- Cursors ----

const CURSOR_PREFIX = 'w1.';

export function encodeWatchCursor(positions: readonly number[]): string {
  return CURSOR_PREFIX + positions.map((v) => v.toString(36)).join('.');
}

export function decodeWatchCursor(cursor: string, partitions: number): number[] {
  const parts = cursor.startsWith(CURSOR_PREFIX) ? cursor.slice(CURSOR_PREFIX.length).split('.') : [];
  const positions = parts.map((p) => (/^[0-9a-z]{1,11}$/.test(p) ? parseInt(p, 36) : NaN));
  if (positions.length !== partitions || positions.some((v) => !Number.isSafeInteger(v))) {
    throw new BadRequestError(`malformed watch cursor for a table of ${partitions} partitions: pass back a cursor a watch event carried, unchanged`);
  }
  return positions;
}

// ---- Client ----

export interface WatchClientDeps {
  self: NodeId;
  raft: RaftHostHandle;
  server: WatchServer;
  rpc: Rpc;
  addressOf: (node: NodeId) => string | undefined;
  /** The leader the router knows for a group, if any (tried first). */
  leaderOf: (group: string) => NodeId | undefined;
  /** Whether a member is up now. */
  isUp: (node: NodeId) => boolean;
}

/** Every change of `table` from the options' position on, until the signal aborts or the iterator is returned. */
export async function* watchTable(deps: WatchClientDeps, table: CatalogueTable, options: WatchOptions): AsyncGenerator<WatchEvent> {
  const positions: (number | null)[] = options.cursor !== undefined
    ? decodeWatchCursor(options.cursor, table.partitions.length)
    : table.partitions.map(() => (options.fromVersion === undefined ? null : Math.max(0, Math.floor(options.fromVersion))));
  if (options.prefix !== undefined && options.prefix !== '') encodeKey(options.prefix); // the key rules apply to the prefix
  const prefix = options.prefix ? encodeKey(options.prefix) : undefined;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const queue = new EventQueue();
  const pollers = table.partitions.map((p) => runPoller(deps, table, p.partition, p.group, [...p.voters, ...p.learners], positions, prefix, queue, stop.signal));
  void Promise.all(pollers).then(() => queue.end());
  try {
    for (;;) {
      const next = await queue.next(stop.signal);
      if (next === null) break;
      if (next instanceof Error) throw next;
      yield next;
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

async function runPoller(
  deps: WatchClientDeps,
  table: CatalogueTable,
  partition: number,
  group: string,
  replicas: NodeId[],
  positions: (number | null)[],
  prefix: Uint8Array | undefined,
  queue: EventQueue,
  signal: AbortSignal,
): Promise<void> {
  let attempt = 0;
  let compacted: WatchCompactedError | null = null;
  const tried = new Set<NodeId>();
  while (!signal.aborted) {
    await queue.room(signal);
    const target = pickReplica(deps, group, replicas, attempt);
    try {
      const answer = await pollOn(deps, target, { group, after: positions[partition]!, ...(prefix ? { prefix } : {}), waitMs: positions[partition] === null ? 0 : WATCH_POLL_WAIT_MS }, signal);
      attempt = 0;
      tried.clear();
      compacted = null;
      const after = positions[partition];
      for (const change of answer.changes) {
        if (after !== null && change.version <= after) continue;
        positions[partition] = change.version;
        queue.push(toEvent(table.name, partition, change, positions));
      }
      positions[partition] = Math.max(positions[partition] ?? 0, answer.through);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof WatchCompactedError || (err as { remoteCode?: string }).remoteCode === 'ERR_WATCH_COMPACTED') {
        compacted ??= err instanceof WatchCompactedError ? err : new WatchCompactedError(table.name, partition, positions[partition] ?? 0, 0, Number((err as { data?: { resumeFrom?: number } }).data?.resumeFrom ?? 0));
        if (target !== undefined) tried.add(target);
        if (replicas.every((r) => tried.has(r) || !deps.isUp(r))) {
          queue.fail(compacted);
          return;
        }
      }
      attempt++;
      await sleep(Math.min(1_000, 20 * 2 ** Math.min(attempt, 6)), signal);
    }
  }
}

function pickReplica(deps: WatchClientDeps, group: string, replicas: NodeId[], attempt: number): NodeId | undefined {
  if (deps.raft.host().status(group) !== null && attempt === 0) return deps.self;
  const up = replicas.filter((r) => deps.isUp(r));
  const leader = deps.leaderOf(group);
  const order = leader !== undefined && up.includes(leader) ? [leader, ...up.filter((r) => r !== leader)] : up;
  return order.length === 0 ? undefined : order[attempt % order.length];
}

async function pollOn(deps: WatchClientDeps, target: NodeId | undefined, arg: PollArg, signal: AbortSignal): Promise<PollAnswer> {
  if (target === undefined) throw new TroupeError('ERR_UNAVAILABLE', `no replica of ${arg.group} is up`, { retryable: true });
  if (target === deps.self) return deps.server.poll(arg, signal);
  const address = deps.addressOf(target);
  if (address === undefined) throw new TroupeError('ERR_UNKNOWN_NODE', `no address known for ${target}`, { retryable: true });
  return deps.rpc.call<PollAnswer>(address, RPC_TABLES_WATCH_POLL, arg, { timeoutMs: arg.waitMs + 5_000, signal });
}

function toEvent(table: string, partition: number, change: HistoryChange, positions: (number | null)[]): WatchEvent {
  const base = { table, partition, key: decodeKey(change.key), version: change.version, cursor: encodeWatchCursor(positions.map((p) => p ?? 0)) };
  return change.value === null ? { type: 'delete', ...base } : { type: 'put', ...base, value: decodeValue(change.value) };
}

/** Events from the pollers to the consumer; pollers pause while it is full. */
class EventQueue {
  private readonly items: (WatchEvent | Error)[] = [];
  private ended = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducers: (() => void)[] = [];

  push(event: WatchEvent): void {
    this.items.push(event);
    this.wakeConsumer?.();
  }

  fail(err: Error): void {
    this.items.push(err);
    this.wakeConsumer?.();
  }

  end(): void {
    this.ended = true;
    this.wakeConsumer?.();
  }

  async next(signal: AbortSignal): Promise<WatchEvent | Error | null> {
    while (this.items.length === 0) {
      if (this.ended || signal.aborted) return null;
      await untilWoken(signal, (wake) => (this.wakeConsumer = wake));
      this.wakeConsumer = null;
    }
    const item = this.items.shift()!;
    if (this.items.length < WATCH_BUFFER / 2) for (const wake of this.wakeProducers.splice(0)) wake();
    return item;
  }

  async room(signal: AbortSignal): Promise<void> {
    while (this.items.length >= WATCH_BUFFER && !signal.aborted) await untilWoken(signal, (wake) => this.wakeProducers.push(wake));
  }
}

/** Resolves when the function handed to `register` is called, or the signal aborts; leaves no listener behind. */
function untilWoken(signal: AbortSignal, register: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    register(done);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return untilWoken(signal, (wake) => setTimeout(wake, ms));
}
