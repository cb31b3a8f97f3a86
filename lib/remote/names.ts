/**
 * Cluster-wide names and singletons (Erlang's `global`, Akka's cluster
 * singleton), on a replicated table: `node.names`.
 *
 * - register(name, ref): a cas of the key `name` in NAMES_TABLE from absent
 *   to the entry (name-entry.ts). The table is linearizable, so exactly one
 *   of concurrent registrations wins; the others fail with NameTakenError
 *   naming the holder. The registering node monitors the actor and releases
 *   the name (a cas from its exact entry to absent) when it stops, crashes,
 *   or its node goes down or leaves.
 * - unregister(name): releases this node's registration of `name`.
 * - whereis(name): the actor's reference, from any node; cached per node and
 *   dropped on change (name-cache.ts: the node watches the table).
 * - singleton(name, behaviour, args): one instance cluster-wide (singletons.ts).
 *
 * Release when a node dies: on member-down, -left or -removed of a node,
 * every live node sweeps (scans the table and cas-deletes the entries whose
 * actor ran on that node or that it registered; a singleton's claim is
 * replaced by a swept mark instead, singleton-decision.ts), staggered by
 * rendezvous rank so that one node does the writes; a node restarted under
 * its name releases what its former life registered. A graceful leave hands
 * over first (`beforeLeave`): singletons stop here and every name of this
 * node is released before the others see it leave.
 *
 * The table (names-table.ts) is created on first use (register, singleton).
 */
import type { Ref } from 'nact';
import { stop as nactStop } from 'nact';
import { nanoid } from 'nanoid';
import { BadRequestError, ConflictError, NameTakenError, NoSuchActorError, NoSuchTableError, TroupeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallOptions } from '../node-api.js';
import type { TablesApi, WatchEvent } from '../tables/tables-api.js';
import { nactRefAt, type ActorRef, type RemoteRef } from './actor-ref.js';
import type { ClusterActors } from './cluster-actors.js';
import { NameCache } from './name-cache.js';
import {
  entryRef, formerLife, nameEntry, nameProblem, ownEntry, parseEntry, releasedBy, sameEntry, SINGLETON_PREFIX, singletonNameProblem, sweepDelayMs, sweptMark, type NameEntry, type NameKind,
} from './name-entry.js';
import { NamesTable } from './names-table.js';
import { SINGLETON_RESTART_DELAY_MS, SingletonContender, type SingletonHandle, type SingletonHost } from './singletons.js';

export { DEFAULT_NAMES_TIMEOUT_MS } from './names-table.js';

/** How many times a sweep of a gone node is tried before it is left to the other nodes. @default 5 */
export const SWEEP_ATTEMPTS = 5;
/** Longest a graceful leave waits for the hand-over (singletons stopped, names released), ms. @default 3000 */
export const HANDOVER_TIMEOUT_MS = 3_000;
/**
 * How long after it first sees another member up a node looks for names its
 * former process registered, ms. @default 5000: the join settles first (the
 * sweep reads the catalogue and every partition), and nothing waits for it
 * but the stale names of a node that restarted faster than a down verdict.
 */
export const FORMER_LIFE_SWEEP_DELAY_MS = 5_000;

const GONE_EVENTS = new Set(['member-down', 'member-left', 'member-removed']);
const LIVE_STATES = new Set(['up', 'joining', 'suspect', 'leaving']);

/** A name as the table holds it. */
export interface NameInfo {
  ref: RemoteRef;
  kind: NameKind;
  /** The node that registered it. */
  registeredBy: string;
  /** Wall-clock ms since the epoch. */
  registeredAt: number;
  /** The version of the write that registered it: larger for every later registration of the name (a fencing token). */
  version: number;
}

export interface WhereisOptions extends CallOptions {
  /** Skip this node's cache: a linearizable read. @default false */
  fresh?: boolean;
}

/** What the names service needs of membership. */
export interface NamesMembers {
  stateOf(node: string): string | undefined;
  up(): string[];
  /** Calls `listener` on every member event; returns the unsubscribe. */
  subscribe(listener: (event: string, node: string) => void): () => void;
}

export interface ClusterNamesOptions {
  self: string;
  actors: ClusterActors;
  /** The node's nact actor system (the singletons' instances are stopped through it). */
  system: Ref<never>;
  tables: TablesApi;
  members: NamesMembers;
  /** The cluster's REPLICATION_FACTOR: the names table's, when at least NAMES_MIN_REPLICATION_FACTOR. */
  replicationFactor: number;
  /** HEARTBEAT_TIMEOUT, ms: a singleton's lease is half of it (singleton-decision.ts). */
  heartbeatTimeoutMs: number;
  log: Logger;
  now?: () => number;
}

interface Registration {
  /** The stored value (what a release compares). */
  entry: NameEntry;
  version: number;
  cancel: () => void;
}

export class ClusterNames {
  /** This process's token in the entries it writes. */
  readonly owner = nanoid(12);
  private readonly cache = new NameCache<NameEntry | null>();
  private readonly registrations = new Map<string, Registration>();
  private readonly singletons = new Map<string, SingletonContender>();
  private readonly stopping = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private readonly now: () => number;
  private readonly systemName: string;
  private readonly table: NamesTable;
  private formerLifeSwept = false;
  private state: 'open' | 'leaving' | 'closed' = 'open';

  constructor(private readonly opts: ClusterNamesOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.systemName = (opts.system as unknown as { system: { name: string } }).system.name;
    this.table = new NamesTable({
      tables: opts.tables, replicationFactor: opts.replicationFactor, log: opts.log, now: this.now, signal: this.stopping.signal,
      onReady: () => {
        this.startWatch();
        this.sweepFormerLifeOnce(0);
      },
    });
    this.unsubscribe = opts.members.subscribe((event, node) => {
      if (node === opts.self) return;
      if (GONE_EVENTS.has(event)) this.later(sweepDelayMs(opts.self, opts.members.up(), node), () => this.sweep(node, 1));
      if (event === 'member-up') this.sweepFormerLifeOnce(FORMER_LIFE_SWEEP_DELAY_MS); // in a cluster after a start
    });
  }

  /** The lease of this node's singleton instances, ms (singleton-decision.ts). */
  get leaseMs(): number {
    return Math.max(1, Math.floor(this.opts.heartbeatTimeoutMs / 2));
  }

  /**
   * Registers `name` for the actor at `ref` (this node's or another's)
   * cluster-wide. Registering again the name this node holds for the same
   * actor succeeds.
   * @throws NameTakenError naming the holder; NoSuchActorError for a local actor that does not exist or an actor of a node that is not a live member; BadRequestError for a bad name
   */
  async register(name: string, ref: ActorRef, call: CallOptions = {}): Promise<void> {
    this.checkOpen();
    const problem = nameProblem(name);
    if (problem !== null) throw new BadRequestError(problem);
    const target = this.opts.actors.refOf(ref);
    const entry = nameEntry({ node: target.node, path: [...target.path], by: this.opts.self, owner: this.owner, kind: 'name', at: Date.now() });
    // Monitored from before the cas: an actor that stops while it runs still releases the name.
    const watch = { dead: false, cancel: (): void => {} };
    watch.cancel = this.opts.actors.monitor(target, () => {
      watch.dead = true;
      const reg = this.registrations.get(name);
      if (reg !== undefined && reg.cancel === watch.cancel) this.drop(name, reg, true);
    });
    const cancel = watch.cancel;
    if (watch.dead) throw new NoSuchActorError(target.toString()); // a local actor that is not there, or a node down, left or unknown
    try {
      const won = await this.casFromAbsent(name, entry, (current) => current.kind === 'name' && entryRef(current).equals(target), call);
      const previous = this.registrations.get(name);
      if (previous !== undefined && sameEntry(previous.entry, won.entry)) return cancel(); // registered already
      if (previous !== undefined) this.drop(name, previous, false);
      const reg = { entry: won.entry, version: won.version, cancel };
      this.registrations.set(name, reg);
      this.cache.invalidate(name);
      if (watch.dead) this.drop(name, reg, true); // the actor stopped while the cas ran
    } catch (err) {
      cancel();
      throw err;
    }
  }

  /**
   * Releases this node's registration of `name`; resolves false when this
   * node holds none (the name is absent, or another node's registration,
   * which is left alone).
   */
  async unregister(name: string, call: CallOptions = {}): Promise<boolean> {
    const reg = this.registrations.get(name);
    let expected: unknown = reg?.entry;
    if (reg !== undefined) this.drop(name, reg, false);
    else {
      const found = await this.table.attempt(`unregister ${name}`, call, (left) => this.table.get(name, left));
      const entry = found === null || found === undefined ? null : parseEntry(found.value);
      if (entry === null || entry.kind !== 'name' || !ownEntry(entry, this.opts.self, this.owner)) return false;
      expected = found!.value;
    }
    const outcome = await this.table.attempt(`unregister ${name}`, call, (left) => this.table.cas(name, expected, null, left));
    this.cache.invalidate(name);
    return outcome.ok;
  }

  /** The actor registered as `name` (any kind: a singleton is `$singleton/<name>`), or null. From this node's cache unless `fresh`. */
  async whereis(name: string, options: WhereisOptions = {}): Promise<RemoteRef | null> {
    if (typeof name !== 'string' || name === '') throw new BadRequestError('a name must be a non-empty string');
    if (options.fresh !== true) {
      const hit = this.cache.get(name, this.now());
      if (hit !== undefined) return hit === null ? null : entryRef(hit);
    }
    const ticket = this.cache.ticket();
    const found = await this.table.attempt(`whereis ${name}`, options, (left) => this.table.get(name, left));
    if (found === undefined) return null; // no names table: no names
    const entry = found === null ? null : parseEntry(found.value);
    this.startWatch();
    this.cache.fill(name, entry, ticket, this.now());
    return entry === null ? null : entryRef(entry);
  }

  /** What the table holds for `name` now (linearizable), or null. */
  async lookup(name: string, call: CallOptions = {}): Promise<NameInfo | null> {
    const found = await this.table.attempt(`lookup ${name}`, call, (left) => this.table.get(name, left));
    const entry = found === undefined || found === null ? null : parseEntry(found.value);
    if (entry === null) return null;
    return { ref: entryRef(entry), kind: entry.kind, registeredBy: entry.by, registeredAt: entry.at, version: found!.version };
  }

  /**
   * Runs one instance of `behaviour` (defined on this node with
   * actors.defineBehaviour) cluster-wide under the name `$singleton/<name>`:
   * this node competes with every node that calls singleton(name, …) for the
   * same name, and runs the instance, with its own `args`, while it holds
   * the name. Calling it again for the same name returns the same handle.
   */
  async singleton(name: string, behaviour: string, args: unknown = null, call: CallOptions = {}): Promise<SingletonHandle> {
    this.checkOpen();
    const problem = singletonNameProblem(name);
    if (problem !== null) throw new BadRequestError(problem);
    if (!this.opts.actors.hasBehaviour(behaviour)) throw new TroupeError('ERR_NOT_FOUND', `no behaviour named ${JSON.stringify(behaviour)} on this node: define it (actors.defineBehaviour) before running it as a singleton`);
    const running = (): SingletonContender | undefined => {
      const existing = this.singletons.get(name);
      if (existing === undefined || existing.withdrawn) return undefined;
      if (existing.behaviour !== behaviour) throw new ConflictError(`singleton ${name} runs behaviour ${existing.behaviour} on this node, not ${behaviour}: stop it first`);
      return existing;
    };
    const existing = running();
    if (existing !== undefined) return existing;
    await this.table.attempt(`singleton ${name}`, call, (left) => this.table.ensure(left));
    this.checkOpen();
    const contender = running() ?? new SingletonContender(this.singletonHost(), name, behaviour, args);
    if (this.singletons.get(name) !== contender) {
      this.singletons.set(name, contender);
      contender.start();
    }
    return contender;
  }

  /** Before a graceful leave: stop this node's singletons and release its names, so that the others take over after, not during. */
  async beforeLeave(timeoutMs = HANDOVER_TIMEOUT_MS): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'leaving';
    const handover = Promise.all([
      ...[...this.singletons.values()].map((s) => s.stop()),
      ...[...this.registrations].map(([name, reg]) => {
        this.drop(name, reg, false);
        return this.table.release(name, reg.entry);
      }),
    ]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([handover, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Stops every task of this node; releases nothing (a graceful leave did, a node that dies is swept). Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopping.abort();
    this.unsubscribe();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const s of this.singletons.values()) s.dispose();
    this.singletons.clear();
    for (const reg of this.registrations.values()) reg.cancel();
    this.registrations.clear();
  }

  // ---- Registrations ----

  /**
   * cas of `key` from absent to `entry`, retried; a mismatch that finds this
   * process's own entry matching `same` counts as won (a retry after an
   * unknown outcome), one that finds a former life's entry releases it and
   * tries again, any other throws NameTakenError.
   */
  private async casFromAbsent(key: string, entry: NameEntry, same: (current: NameEntry) => boolean, call: CallOptions): Promise<{ entry: NameEntry; version: number }> {
    for (;;) {
      const outcome = await this.table.attempt(`register ${key}`, call, async (left) => {
        await this.table.ensure(left);
        return this.table.cas(key, null, entry, left);
      });
      if (outcome.ok) return { entry, version: outcome.version };
      const value = outcome.current?.value;
      const current = parseEntry(value);
      if (current !== null && ownEntry(current, this.opts.self, this.owner) && same(current)) return { entry: value as NameEntry, version: outcome.current!.version };
      if (current !== null && formerLife(current, this.opts.self, this.owner)) {
        await this.table.cas(key, value, null, call);
        continue;
      }
      throw new NameTakenError(key, current === null ? '(a value that is not a name entry)' : entryRef(current).toString(), current?.by ?? 'unknown');
    }
  }

  // ---- Watch, sweeps ----

  private startWatch(): void {
    if (this.state !== 'closed') this.table.watch((event) => this.changed(event), () => this.cache.clear());
  }

  private changed(event: WatchEvent): void {
    this.cache.invalidate(event.key);
    if (event.key.startsWith(SINGLETON_PREFIX)) this.singletons.get(event.key.slice(SINGLETON_PREFIX.length))?.poke();
    const reg = this.registrations.get(event.key);
    if (reg === undefined || event.version <= reg.version) return;
    const now = event.type === 'put' ? parseEntry(event.value) : null;
    if (now === null || !sameEntry(now, reg.entry)) this.drop(event.key, reg, false); // released elsewhere (a sweep)
  }

  private drop(name: string, reg: Registration, release: boolean): void {
    if (this.registrations.get(name) === reg) this.registrations.delete(name);
    reg.cancel();
    if (release) void this.table.release(name, reg.entry).then(() => this.cache.invalidate(name));
  }

  /** Releases the names that died with `gone`, while it is still gone. */
  private async sweep(gone: string, attempt: number): Promise<void> {
    const state = this.opts.members.stateOf(gone);
    if (state !== undefined && LIVE_STATES.has(state)) return; // back (a new process registers anew)
    // A singleton's claim is replaced by a swept mark: its holder may still run (cut off, or wrongly declared down) until its lease runs out.
    const replacement = (entry: NameEntry): unknown => (entry.kind === 'singleton' ? sweptMark(gone, Date.now()) : null);
    await this.sweepWhere((entry) => releasedBy(entry, gone), replacement, `names of ${gone}`, attempt, (next) => this.sweep(gone, next));
  }

  /** Once per start: a former process of this node is dead (a node name runs once), so its names and claims are deleted. */
  private sweepFormerLifeOnce(delayMs: number): void {
    if (this.formerLifeSwept) return;
    this.formerLifeSwept = true;
    const sweep = (attempt: number): Promise<void> =>
      this.sweepWhere((entry) => formerLife(entry, this.opts.self, this.owner), () => null, 'names of a former process of this node', attempt, sweep);
    this.later(delayMs, () => sweep(1));
  }

  private async sweepWhere(match: (entry: NameEntry) => boolean, replacement: (entry: NameEntry) => unknown, what: string, attempt: number, again: (attempt: number) => Promise<void>): Promise<void> {
    try {
      const released = await this.table.sweep(match, replacement);
      if (released > 0) this.opts.log.info({ released }, `released ${released} ${what}`);
    } catch (err) {
      if (err instanceof NoSuchTableError || this.stopping.signal.aborted) return; // no names table: nothing to release
      if (attempt >= SWEEP_ATTEMPTS) return void this.opts.log.warn({ err }, `gave up releasing the ${what}; other nodes sweep too`);
      this.later(Math.min(10_000, 500 * 2 ** attempt), () => again(attempt + 1));
    }
  }

  // ---- Helpers ----

  private singletonHost(): SingletonHost {
    return {
      self: this.opts.self,
      owner: this.owner,
      leaseMs: this.leaseMs,
      restartDelayMs: SINGLETON_RESTART_DELAY_MS,
      now: this.now,
      log: this.opts.log,
      read: async (key, timeoutMs) => (await this.table.get(key, { timeoutMs })) ?? null,
      claim: (key, expected, entry, timeoutMs) => this.table.attempt(`claim ${key}`, { timeoutMs }, async (left) => {
        await this.table.ensure(left); // created again if it was dropped
        return this.table.cas(key, expected, entry, left);
      }),
      release: (key, value) => this.table.release(key, value),
      spawn: (behaviour, args, actorName) => this.opts.actors.spawn(behaviour, args, { name: actorName }),
      monitor: (ref, onStopped) => this.opts.actors.monitor(ref, onStopped),
      stopLocal: (ref) => nactStop(nactRefAt(this.systemName, ref.path)),
    };
  }

  private later(delayMs: number, task: () => Promise<void>): void {
    if (this.state === 'closed') return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task().catch((err: unknown) => this.opts.log.warn({ err }, 'a names task failed'));
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new ConflictError(`this node is ${this.state === 'leaving' ? 'leaving the cluster' : 'stopped'}: register names and singletons on another node`);
  }
}
