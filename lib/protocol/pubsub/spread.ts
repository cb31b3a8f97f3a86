/**
 * The subscription spread of pub/sub: which node has subscribers of which
 * topic, known on every node without a central table (OTP's `pg` scheme).
 *
 * Mechanism:
 *
 * - Each node owns its subscriptions: only it adds or removes them, and only
 *   it numbers their versions. Its state has an `epoch` (the node's
 *   generation, larger after every restart) and a `version`, raised by one
 *   for every change it spreads.
 * - When a peer comes up (membership says up, or the link to an up member
 *   was re-established: a broken link lost whatever was in flight), the node
 *   sends it its full set (`sync`, in parts when large) and asks for the
 *   peer's in return (`reply`). Afterwards each local change goes to every
 *   peer as a `delta` numbered `version`.
 * - A receiver applies a delta only on top of the version just before it;
 *   an older one is a duplicate and ignored, a newer one shows a gap (a
 *   frame lost to a full queue or a broken link) and the receiver asks the
 *   owner for a sync. A sync replaces the whole view of its owner unless it
 *   is older than the view (same epoch, lower version; or an older epoch).
 *   So applying anything twice changes nothing, and a view only moves forward.
 * - Every `digestIntervalMs` each node tells every peer its epoch and
 *   version (`digest`); a receiver whose view is behind asks for a sync.
 *   This repairs a lost last delta, a lost sync and a lost sync-request,
 *   without waiting for the next change or link-up. Sync requests to one
 *   peer are at most one per digest period.
 * - When membership reports a peer down, left or removed, its view (all of
 *   its subscriptions) is dropped at once, and nothing from it is believed
 *   until it is up again and has sent a full set. Messages from a node that
 *   is not a peer are dropped: a view lives exactly as long as its owner is
 *   up in this node's eyes.
 * - Topics starting with `$` (system topics) are subscribed locally only:
 *   they are in no sync and no delta, and never raise the version.
 *
 * Invariant: once links are up and no frame is lost for a digest period
 * and a round trip, every node's view of every peer equals that peer's own
 * spread subscriptions (property-tested with random loss, link drops and
 * peer restarts in test/property/pubsub-spread.test.ts).
 *
 * Limits: a node's own subscriptions are bounded by the config; the shell
 * asks `localLimitProblem` before a subscribe (stepping one beyond the
 * limits breaks an invariant and throws). A peer's view is cut at the same
 * limits, the excess counted in `stats.overLimitDropped`.
 *
 * Pure: no clock, timer or I/O; `now` comes with every step.
 */
import type { Outbound, ProtocolCore, Ready } from '../ready.js';
import { defaultSpreadConfig, validateSpreadConfig, type SpreadConfig } from './config.js';
import { parsePubSubMessage, type Change, type Delta, type PubSubMessage, type Sync } from './messages.js';
import { SubscriptionSet, type LimitProblem, type SubscriptionLimits } from './subscription-set.js';
import { isSystemTopic } from './topic-name.js';

export type { SpreadConfig } from './config.js';
export type { PubSubMessage } from './messages.js';
export type { LimitProblem } from './subscription-set.js';

export type SpreadInput =
  /** The timer armed for `nextWakeAt` fired. */
  | { type: 'tick' }
  /** A subscriber on this node joins a topic (check `localLimitProblem` first). */
  | { type: 'subscribe'; topic: string; subscriber: string }
  | { type: 'unsubscribe'; topic: string; subscriber: string }
  /** A subscriber on this node is gone (its actor stopped): it leaves every topic. */
  | { type: 'drop-subscriber'; subscriber: string }
  /** `node` is up at `address`: it came up, or its link came back. Sends it the full set. */
  | { type: 'peer-up'; node: string; address: string }
  /** `node` is down, left or removed: its subscriptions are dropped. */
  | { type: 'peer-down'; node: string }
  /** A message from `node` on the pub/sub channel; validated by the core. */
  | { type: 'message'; from: string; msg: unknown };

export type SpreadEvent =
  /** A full set from `node` replaced this node's view of it. */
  | { type: 'owner-synced'; node: string; subscriptions: number }
  /** `node` went down: its subscriptions were dropped from this node's view. */
  | { type: 'owner-dropped'; node: string; subscriptions: number };

export interface SpreadStats {
  syncsSent: number;
  syncsApplied: number;
  deltasSent: number;
  deltasApplied: number;
  digestsSent: number;
  syncRequestsSent: number;
  /** Deltas and syncs older than the view: duplicates, ignored. */
  staleDropped: number;
  /** Deltas that skipped a version: a sync was asked for. */
  gapsDetected: number;
  /** Sync parts out of sequence (an earlier part was lost): the sync is abandoned and asked for again. */
  syncPartsDropped: number;
  malformedDropped: number;
  /** Messages from a node that is not a peer (not up in this node's view). */
  fromNonPeerDropped: number;
  /** Pairs of a peer's view beyond the limits, not stored. */
  overLimitDropped: number;
}

interface OwnerView {
  epoch: number;
  version: number;
  set: SubscriptionSet;
}

interface Assembly extends OwnerView {
  parts: number;
  next: number;
  reply: boolean;
}

interface Peer {
  address: string;
  view: OwnerView | null;
  assembling: Assembly | null;
  /** When this node last asked the peer for a sync; null: not waiting for one. */
  syncRequestedAt: number | null;
}

export class TopicSpread implements ProtocolCore<SpreadInput, PubSubMessage, SpreadEvent> {
  readonly stats: SpreadStats = {
    syncsSent: 0, syncsApplied: 0, deltasSent: 0, deltasApplied: 0, digestsSent: 0, syncRequestsSent: 0,
    staleDropped: 0, gapsDetected: 0, syncPartsDropped: 0, malformedDropped: 0, fromNonPeerDropped: 0, overLimitDropped: 0,
  };
  readonly config: SpreadConfig;
  private readonly limits: SubscriptionLimits;
  private readonly local = new SubscriptionSet();
  private version = 0;
  private readonly peers = new Map<string, Peer>();
  /** topic → peers whose view holds at least one subscriber of it: the destinations of a publish. */
  private readonly owners = new Map<string, Set<string>>();
  private readonly outbox: Outbound<PubSubMessage>[] = [];
  private readonly events: SpreadEvent[] = [];
  private nextDigestAt: number | null = null;

  /** `epoch`: this node's generation, larger than that of any earlier run of the same node. */
  constructor(readonly epoch: number, config: Partial<SpreadConfig> = {}) {
    this.config = validateSpreadConfig({ ...defaultSpreadConfig(), ...config });
    this.limits = { maxTopics: this.config.maxTopicsPerNode, maxSubscriptions: this.config.maxSubscriptionsPerNode };
  }

  step(input: SpreadInput, now: number): void {
    switch (input.type) {
      case 'subscribe':
        return this.changeLocal([['+', input.topic, input.subscriber]]);
      case 'unsubscribe':
        return this.changeLocal([['-', input.topic, input.subscriber]]);
      case 'drop-subscriber':
        return this.changeLocal(this.local.topicsOf(input.subscriber).map((topic): Change => ['-', topic, input.subscriber]));
      case 'peer-up':
        return this.peerUp(input.node, input.address, now);
      case 'peer-down':
        return this.peerDown(input.node);
      case 'message':
        return this.receive(input.from, input.msg, now);
      case 'tick':
        return this.tick(now);
    }
  }

  ready(): Ready<PubSubMessage, SpreadEvent> {
    return { messages: this.outbox.slice(), events: this.events.slice(), nextWakeAt: this.nextDigestAt };
  }

  advance(ready: Ready<PubSubMessage, SpreadEvent>): void {
    this.outbox.splice(0, ready.messages.length);
    this.events.splice(0, ready.events.length);
  }

  // ---- Views, for the shell and tests ----

  /** This node's own version: raised once per spread change. */
  get ownVersion(): number {
    return this.version;
  }

  /** Which limit subscribing would break, or null. */
  localLimitProblem(topic: string, subscriber: string): LimitProblem | null {
    return this.local.limitProblem(topic, subscriber, this.limits);
  }

  localCounts(): { topics: number; subscriptions: number } {
    return { topics: this.local.topicCount, subscriptions: this.local.size };
  }

  /** Every topic with subscribers on this node, system topics included, and its subscribers. */
  localSubscriptions(): IterableIterator<[string, ReadonlySet<string>]> {
    return this.local.entries();
  }

  localSubscribersOf(topic: string): ReadonlySet<string> {
    return this.local.subscribersOf(topic) ?? EMPTY;
  }

  /** Addresses of the peers with at least one subscriber of `topic`: one publish frame each. */
  destinationsOf(topic: string): string[] {
    return [...(this.owners.get(topic) ?? EMPTY)].map((node) => this.peers.get(node)!.address);
  }

  /** [peer, subscriber] of every subscriber of `topic` on the peers, as this node knows them. */
  remoteSubscribersOf(topic: string): [string, string][] {
    return [...(this.owners.get(topic) ?? EMPTY)].flatMap((node) => [...this.peers.get(node)!.view!.set.subscribersOf(topic)!].map((s): [string, string] => [node, s]));
  }

  /** This node's spread subscriptions (system topics left out): what every peer's view of it converges to. */
  ownSpreadState(): Map<string, ReadonlySet<string>> {
    return new Map([...this.local.entries()].filter(([topic]) => !isSystemTopic(topic)));
  }

  /** This node's view of `node`'s subscriptions; null when it holds none (not a peer, or no full set yet). */
  viewOf(node: string): Map<string, ReadonlySet<string>> | null {
    const view = this.peers.get(node)?.view;
    return view ? new Map(view.set.entries()) : null;
  }

  peerNames(): string[] {
    return [...this.peers.keys()];
  }

  // ---- Local changes ----

  private changeLocal(changes: Change[]): void {
    const spread: Change[] = [];
    for (const change of changes) {
      const [op, topic, subscriber] = change;
      if (op === '+' && this.local.limitProblem(topic, subscriber, this.limits) !== null) {
        throw new Error(`pub/sub: subscribe of ${subscriber} to ${topic} beyond the limits; the shell must check localLimitProblem first`);
      }
      const changed = op === '+' ? this.local.add(topic, subscriber) : this.local.remove(topic, subscriber);
      if (changed && !isSystemTopic(topic)) spread.push(change);
    }
    if (spread.length === 0) return;
    this.version++;
    const delta: Delta = { type: 'delta', epoch: this.epoch, version: this.version, changes: spread };
    for (const peer of this.peers.values()) this.send(peer, delta);
    this.stats.deltasSent += this.peers.size;
  }

  // ---- Peers ----

  private peerUp(node: string, address: string, now: number): void {
    let peer = this.peers.get(node);
    if (peer === undefined) this.peers.set(node, (peer = { address, view: null, assembling: null, syncRequestedAt: null }));
    peer.address = address;
    peer.assembling = null; // parts of a sync sent on a link that broke will not all come
    this.sendSync(peer, true);
    this.nextDigestAt ??= now + this.config.digestIntervalMs;
  }

  private peerDown(node: string): void {
    const peer = this.peers.get(node);
    if (peer === undefined) return;
    if (peer.view !== null) {
      this.indexOwner(node, peer.view.set, false);
      this.events.push({ type: 'owner-dropped', node, subscriptions: peer.view.set.size });
    }
    this.peers.delete(node);
    if (this.peers.size === 0) this.nextDigestAt = null;
  }

  private tick(now: number): void {
    if (this.nextDigestAt === null || now < this.nextDigestAt) return;
    for (const peer of this.peers.values()) this.send(peer, { type: 'digest', epoch: this.epoch, version: this.version });
    this.stats.digestsSent += this.peers.size;
    this.nextDigestAt = now + this.config.digestIntervalMs;
  }

  // ---- Messages from peers ----

  private receive(from: string, raw: unknown, now: number): void {
    const msg = parsePubSubMessage(raw);
    if (msg === null) {
      this.stats.malformedDropped++;
      return;
    }
    const peer = this.peers.get(from);
    if (peer === undefined) {
      this.stats.fromNonPeerDropped++;
      return;
    }
    switch (msg.type) {
      case 'sync-request':
        return this.sendSync(peer, false);
      case 'digest':
        if (isBehind(peer.view, msg.epoch, msg.version)) this.requestSync(peer, now);
        return;
      case 'delta':
        return this.applyDelta(from, peer, msg, now);
      case 'sync':
        return this.receiveSyncPart(from, peer, msg, now);
    }
  }

  private applyDelta(from: string, peer: Peer, delta: Delta, now: number): void {
    const view = peer.view;
    if (view !== null && (delta.epoch < view.epoch || (delta.epoch === view.epoch && delta.version <= view.version))) {
      this.stats.staleDropped++;
      return;
    }
    if (view === null || delta.epoch !== view.epoch || delta.version !== view.version + 1) {
      this.stats.gapsDetected++;
      this.requestSync(peer, now);
      return;
    }
    for (const [op, topic, subscriber] of delta.changes) {
      if (op === '+') this.addToView(from, view.set, topic, subscriber);
      else this.removeFromView(from, view.set, topic, subscriber);
    }
    view.version = delta.version;
    this.stats.deltasApplied++;
  }

  private receiveSyncPart(from: string, peer: Peer, sync: Sync, now: number): void {
    if (sync.part === 0) {
      peer.assembling = { epoch: sync.epoch, version: sync.version, set: new SubscriptionSet(), parts: sync.parts, next: 0, reply: sync.reply };
    }
    const a = peer.assembling;
    if (a === null || a.epoch !== sync.epoch || a.version !== sync.version || a.parts !== sync.parts || a.next !== sync.part) {
      this.stats.syncPartsDropped++;
      peer.assembling = null;
      this.requestSync(peer, now);
      return;
    }
    for (const [topic, subscribers] of sync.topics) for (const s of subscribers) this.addToView(null, a.set, topic, s);
    if (++a.next < a.parts) return;
    peer.assembling = null;
    this.installView(from, peer, a);
    if (a.reply) this.sendSync(peer, false);
  }

  private installView(from: string, peer: Peer, sync: Assembly): void {
    const old = peer.view;
    if (old !== null && (sync.epoch < old.epoch || (sync.epoch === old.epoch && sync.version < old.version))) {
      this.stats.staleDropped++;
      return;
    }
    if (old !== null) this.indexOwner(from, old.set, false);
    peer.view = { epoch: sync.epoch, version: sync.version, set: sync.set };
    this.indexOwner(from, sync.set, true);
    peer.syncRequestedAt = null;
    this.stats.syncsApplied++;
    this.events.push({ type: 'owner-synced', node: from, subscriptions: sync.set.size });
  }

  // ---- Helpers ----

  /** Adds a pair to a view (indexed under `owner` unless null: a sync being assembled), within the limits. */
  private addToView(owner: string | null, set: SubscriptionSet, topic: string, subscriber: string): void {
    if (set.limitProblem(topic, subscriber, this.limits) !== null) {
      this.stats.overLimitDropped++;
      return;
    }
    if (set.add(topic, subscriber) && owner !== null) this.ownersOf(topic).add(owner);
  }

  private removeFromView(owner: string, set: SubscriptionSet, topic: string, subscriber: string): void {
    if (set.remove(topic, subscriber) && set.subscribersOf(topic) === undefined) this.unindex(topic, owner);
  }

  private indexOwner(owner: string, set: SubscriptionSet, present: boolean): void {
    for (const topic of set.topics()) {
      if (present) this.ownersOf(topic).add(owner);
      else this.unindex(topic, owner);
    }
  }

  private ownersOf(topic: string): Set<string> {
    let owners = this.owners.get(topic);
    if (owners === undefined) this.owners.set(topic, (owners = new Set()));
    return owners;
  }

  private unindex(topic: string, owner: string): void {
    const owners = this.owners.get(topic);
    if (owners?.delete(owner) && owners.size === 0) this.owners.delete(topic);
  }

  private requestSync(peer: Peer, now: number): void {
    if (peer.syncRequestedAt !== null && now - peer.syncRequestedAt < this.config.digestIntervalMs) return;
    peer.syncRequestedAt = now;
    this.send(peer, { type: 'sync-request' });
    this.stats.syncRequestsSent++;
  }

  private sendSync(peer: Peer, reply: boolean): void {
    const parts = this.local.toParts(this.config.syncEntriesPerMessage, (topic) => !isSystemTopic(topic));
    parts.forEach((topics, part) => this.send(peer, { type: 'sync', epoch: this.epoch, version: this.version, part, parts: parts.length, reply, topics }));
    this.stats.syncsSent++;
  }

  private send(peer: Peer, msg: PubSubMessage): void {
    this.outbox.push({ to: peer.address, msg });
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Whether a view (null: none) is older than an owner state at (epoch, version). */
function isBehind(view: OwnerView | null, epoch: number, version: number): boolean {
  return view === null || epoch > view.epoch || (epoch === view.epoch && version > view.version);
}
