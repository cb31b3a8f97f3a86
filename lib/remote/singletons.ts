/**
 * A singleton's contender on one node: performs what singleton-decision.ts
 * decides, over the names table (names.ts) and the actor layer.
 *
 * It reads the key `$singleton/<name>` when the node's watch of the names
 * table reports a change to it, and on a timer (every leaseMs / 3 while it
 * holds the key, to renew its lease; every leaseMs otherwise, in case a
 * change was missed). Everything that changes its state runs in one chain,
 * in order; the writes a step asks for either finish within the lease (a
 * claim) or run in the background (releases), so fencing is never queued
 * behind a slow write.
 *
 * The instance is a top-level actor named `$singleton-<name>` on the holder,
 * spawned from the behaviour this node defined (actors.defineBehaviour) with
 * this node's arguments. Its claim is written before it is spawned and
 * removed only after it stopped, so an instance runs only under a claim.
 */
import type { Logger } from '../log.js';
import type { Versioned, WriteOutcome } from '../tables/tables-api.js';
import type { RemoteRef } from './actor-ref.js';
import { formerLife, isSweptMark, nameEntry, ownEntry, parseEntry, singletonActorName, singletonKey, type NameEntry } from './name-entry.js';
import { initialSingletonState, stepSingleton, type Holder, type SingletonAction, type SingletonConfig, type SingletonInput, type SingletonState } from './singleton-decision.js';

/** How long a node whose instance stopped or crashed by itself waits before it claims the singleton again, ms. @default 1000 */
export const SINGLETON_RESTART_DELAY_MS = 1_000;

/** What a contender needs of the names service and the actor layer. */
export interface SingletonHost {
  self: string;
  /** This process's owner token (name-entry.ts). */
  owner: string;
  leaseMs: number;
  restartDelayMs: number;
  now(): number;
  log: Logger;
  /** A linearizable read of `key`. */
  read(key: string, timeoutMs: number): Promise<Versioned<unknown> | null>;
  /** cas of `key` from `expected` (absent, or a swept mark) to `entry`. */
  claim(key: string, expected: unknown, entry: NameEntry, timeoutMs: number): Promise<WriteOutcome<unknown>>;
  /** cas of `key` from `value` to absent, in the background, retried. */
  release(key: string, value: unknown): Promise<boolean>;
  /** Spawns the instance on this node. */
  spawn(behaviour: string, args: unknown, actorName: string): RemoteRef;
  /** Calls back once when the actor stops; returns the cancel. */
  monitor(ref: RemoteRef, onStopped: () => void): () => void;
  /** Stops a local actor. */
  stopLocal(ref: RemoteRef): void;
}

/** A singleton as seen from one node that runs `singleton(…)`. */
export interface SingletonHandle {
  readonly name: string;
  /** Whether this node runs the instance now. */
  readonly runningHere: boolean;
  /**
   * The fencing token of this node's instance while it runs here: the
   * version of its claim, larger for every later claim of the name. Pass it
   * to external systems that can refuse a smaller token than one they saw.
   */
  readonly fencingToken: number | null;
  /** Withdraws this node: stops the instance if it runs here and releases the name to the other contenders. */
  stop(): Promise<void>;
}

export class SingletonContender implements SingletonHandle {
  private state: SingletonState = initialSingletonState();
  private readonly key: string;
  private readonly actorName: string;
  /** The stored value of this node's claim (the exact bytes a release compares), and its version. */
  private claim: { value: unknown; version: number } | null = null;
  /** The value and version a read found, when it was this process's claim (adopted as `claim` if the decision accepts the read). */
  private found: { value: unknown; version: number } | null = null;
  /** The value a read found, when it was a former life's claim. */
  private former: unknown = null;
  /** What the last read found when the key was free: null (absent) or a swept mark; a claim expects it. */
  private free: unknown = null;
  private instance: { ref: RemoteRef; cancel: () => void } | null = null;
  private chain: Promise<void> = Promise.resolve();
  private reading = false;
  private readAgain = false;
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | null = null;
  /** The last release of this node's claim, while it runs. */
  private released: Promise<unknown> = Promise.resolve();
  /** A claim whose cas failed without an answer: it may have landed. */
  private claimUncertain = false;

  private readonly config: SingletonConfig;

  constructor(private readonly host: SingletonHost, readonly name: string, readonly behaviour: string, private readonly args: unknown) {
    this.key = singletonKey(name);
    this.actorName = singletonActorName(name);
    this.config = { leaseMs: host.leaseMs, tickMs: Math.max(1, Math.floor(host.leaseMs / 3)), restartDelayMs: host.restartDelayMs };
  }

  get runningHere(): boolean {
    return this.state.running;
  }

  /** Stopped by `stop()`: a later singleton(name, …) on this node starts a new contender. */
  get withdrawn(): boolean {
    return this.closed !== null;
  }

  get fencingToken(): number | null {
    return this.state.running ? (this.claim?.version ?? null) : null;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.config.tickMs);
    this.timer.unref();
    this.poke();
  }

  /** The key may have changed: read it (now, or once the read in flight is done). */
  poke(): void {
    if (this.state.phase === 'closed') return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.readLoop().finally(() => (this.reading = false));
  }

  stop(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.timer);
      await this.apply({ type: 'close' });
      // A claim whose cas had an unknown outcome may have landed: one last read gives it back.
      if (this.claimUncertain) await this.readOnce().catch(() => undefined);
      await this.released;
    })();
    return this.closed;
  }

  /** Stops the timer and the instance without releasing anything (the node is stopping). */
  dispose(): void {
    clearInterval(this.timer);
    this.state = { ...this.state, phase: 'closed' };
    this.stopInstance();
  }

  // ---- Internals ----

  private tick(): void {
    void this.apply({ type: 'tick' });
    const holding = this.state.phase === 'holding';
    if (holding || ++this.ticks % 3 === 0) this.poke();
  }

  private async readLoop(): Promise<void> {
    do {
      this.readAgain = false;
      await this.readOnce().catch((err: unknown) => this.host.log.debug({ err, singleton: this.name }, 'singleton read failed'));
    } while (this.readAgain && this.state.phase !== 'closed');
  }

  private async readOnce(): Promise<void> {
    const startedAt = this.host.now();
    const found = await this.host.read(this.key, this.host.leaseMs);
    await this.apply({ type: 'observed', holder: this.classify(found), startedAt });
  }

  private classify(found: Versioned<unknown> | null): Holder {
    const entry = found === null ? null : parseEntry(found.value);
    if (found === null || isSweptMark(found.value)) {
      this.free = found?.value ?? null;
      return found === null ? 'none' : 'swept';
    }
    if (entry !== null && entry.kind === 'singleton' && ownEntry(entry, this.host.self, this.host.owner)) {
      this.found = { value: found.value, version: found.version };
      return 'self';
    }
    if (entry !== null && formerLife(entry, this.host.self, this.host.owner)) {
      this.former = found.value;
      return 'former';
    }
    return 'other';
  }

  /** Steps the decision and performs its actions, one input at a time. */
  private apply(input: SingletonInput): Promise<void> {
    this.chain = this.chain.then(() => this.applyNow(input)).catch((err: unknown) => this.host.log.error({ err, singleton: this.name }, 'singleton step failed'));
    return this.chain;
  }

  /** Steps within the chain (from an action already running in it). */
  private async applyNow(input: SingletonInput): Promise<void> {
    const { state, actions } = stepSingleton(this.state, input, this.host.now(), this.config);
    // A read that found this process's claim: the claim to confirm, or to give back; a stale read (ignored) changes nothing.
    if (input.type === 'observed' && input.holder === 'self' && (actions.includes('release') || (state.phase === 'holding' && !state.releasing))) this.claim = this.found;
    this.state = state;
    for (const action of actions) await this.perform(action);
  }

  private async perform(action: SingletonAction): Promise<void> {
    switch (action) {
      case 'stop':
        return this.stopInstance();
      case 'spawn':
        return this.spawnInstance();
      case 'release': {
        const claim = this.claim;
        this.claim = null;
        if (claim === null) return void this.apply({ type: 'released' });
        this.released = this.host.release(this.key, claim.value).finally(() => this.apply({ type: 'released' }));
        return;
      }
      case 'clear-former': {
        const value = this.former;
        this.former = null;
        void this.host.release(this.key, value).then(() => this.poke());
        return;
      }
      case 'claim':
        return this.tryClaim();
    }
  }

  private async tryClaim(): Promise<void> {
    const entry = nameEntry({ node: this.host.self, path: [this.actorName], by: this.host.self, owner: this.host.owner, kind: 'singleton', at: Date.now() });
    const startedAt = this.host.now();
    const expected = this.free;
    let outcome: WriteOutcome<unknown>;
    try {
      outcome = await this.host.claim(this.key, expected, entry, this.host.leaseMs);
    } catch {
      this.claimUncertain = true;
      this.readAgain = true; // the outcome is unknown: a read tells
      return;
    }
    this.claimUncertain = false;
    const afterSweep = expected !== null;
    if (outcome.ok) {
      this.claim = { value: entry, version: outcome.version };
      return this.applyNow({ type: 'claimed', startedAt, afterSweep });
    }
    // A retried claim can find its own entry (the first attempt landed).
    if (this.classify(outcome.current) !== 'self') return this.applyNow({ type: 'claim-lost' });
    this.claim = this.found;
    return this.applyNow({ type: 'claimed', startedAt, afterSweep });
  }

  private spawnInstance(): void {
    let ref: RemoteRef;
    try {
      ref = this.host.spawn(this.behaviour, this.args, this.actorName);
    } catch (err) {
      this.host.log.error({ err, singleton: this.name }, `singleton ${this.name} could not start here; the name is released for the other nodes`);
      void this.apply({ type: 'instance-stopped' });
      return;
    }
    const instance = {
      ref,
      cancel: this.host.monitor(ref, () => {
        if (this.instance !== instance) return; // stopped by us
        this.instance = null;
        void this.apply({ type: 'instance-stopped' });
      }),
    };
    this.instance = instance;
    this.host.log.info({ singleton: this.name, token: this.claim?.version }, `singleton ${this.name} runs on this node`);
  }

  private stopInstance(): void {
    const instance = this.instance;
    if (instance === null) return;
    this.instance = null;
    instance.cancel();
    this.host.stopLocal(instance.ref);
    this.host.log.info({ singleton: this.name }, `singleton ${this.name} stopped on this node`);
  }
}
