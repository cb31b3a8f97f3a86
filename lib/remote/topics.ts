/**
 * Pub/sub across the cluster (`node.topics`; docs/ACTORS.md, "Pub/sub"):
 * the shell of the subscription spread (lib/protocol/pubsub/spread.ts) on
 * the transport's 'pubsub' channel, and the publish path.
 *
 * - Subscribers are actors of this node. Which nodes have subscribers of
 *   which topic is spread like OTP's `pg`: each node owns its own and
 *   gossips changes (full sets when a member comes up or its link comes
 *   back, deltas after, digests to repair losses); a node that goes down,
 *   leaves or is removed loses its subscriptions everywhere at once.
 * - `publish` sends ONE frame per node that has subscribers of the topic
 *   (`['p', topic, message bytes]`, the message in the actor wire codec, so
 *   references inside it work); that node delivers it to its own
 *   subscribers. So each subscriber receives each message once, and the
 *   messages of one publishing node in the order it published them (one
 *   ordered link per pair of nodes; one mailbox per actor).
 * - At most once, like actor messages: a frame lost with a broken link or
 *   refused by a full link queue is not resent (counted in
 *   `stats.dropped['link-full']`). A subscription takes effect on another
 *   node when its change reaches it: messages published there before are
 *   not delivered to it.
 * - A local subscriber whose actor no longer exists is dropped from every
 *   topic when a message finds it gone, and by a sweep every
 *   LOCAL_SWEEP_INTERVAL_MS. Messages from other nodes respect the same
 *   mailbox bound as remote actor messages (dropped and counted beyond it).
 * - Topics starting with `$` are system topics: the runtime publishes on
 *   them on each node locally (`publishLocal`), their subscriptions are not
 *   spread, and `publish` refuses them.
 *
 * Subscribers receive `{ type: 'topic-message', topic, message }`.
 */
import { dispatch as nactDispatch, type Ref } from 'nact';
import { BadRequestError, NoSuchActorError, TopicLimitError } from '../errors.js';
import type { Logger } from '../log.js';
import { TopicSpread, type SpreadConfig, type SpreadInput, type SpreadStats } from '../protocol/pubsub/spread.js';
import { isSystemTopic, MAX_SUBSCRIBER_ID_CHARS, topicNameProblem } from '../protocol/pubsub/topic-name.js';
import type { PeerIdentity, Transport } from '../transport/transport.js';
import { isRemoteRef, nactPath, nactRefAt, RemoteRef, type ActorRef } from './actor-ref.js';
import { DEFAULT_MAX_MAILBOX, type MemberView } from './cluster-actors.js';
import { findLocalActor, systemNameOf } from './local-actors.js';
import { TopicFeeds, type FeedLimits, type FeedStream } from './topic-feeds.js';
import { decode, encode } from './wire.js';

export const PUBSUB_CHANNEL = 'pubsub';
/** How often local subscribers are checked for actors that stopped, ms. @default 5000 */
export const LOCAL_SWEEP_INTERVAL_MS = 5_000;

/** What a subscriber receives. */
export interface TopicMessage<T = unknown> {
  type: 'topic-message';
  topic: string;
  message: T;
}

export interface PublishReceipt {
  /** Other nodes the message was handed to the transport for (one frame each). */
  remoteNodes: number;
  /** Subscribers on this node it was delivered to. */
  localSubscribers: number;
}

export type TopicDropReason = 'link-full' | 'mailbox-full' | 'subscriber-gone' | 'malformed';

export interface TopicsStats {
  /** publish and publishLocal calls. */
  published: number;
  /** Publish frames handed to the transport, and received from other nodes. */
  framesSent: number;
  framesReceived: number;
  /** Messages delivered to subscribers of this node. */
  delivered: number;
  dropped: Record<TopicDropReason, number>;
  /** Spread frames the transport refused (its queue was full); digests repair what they carried. */
  spreadFramesDropped: number;
  spread: SpreadStats;
  /** Topics and (topic, subscriber) pairs of this node, and its open event streams. */
  localTopics: number;
  localSubscriptions: number;
  streams: number;
}

export interface TopicsOptions {
  self: string;
  /** This start's generation: the epoch of this node's subscriptions, larger than any earlier run's. */
  generation: number;
  /** The node's nact actor system. */
  system: Ref<never>;
  transport: Transport;
  members: MemberView;
  /** Members up when the layer starts (later ones come from member events). */
  initialPeers?: ReadonlyArray<{ name: string; address: string }>;
  log: Logger;
  spread?: Partial<SpreadConfig>;
  feeds?: Partial<FeedLimits>;
  /** Messages from other nodes a subscriber's mailbox may hold before more are dropped. @default DEFAULT_MAX_MAILBOX */
  maxMailbox?: number;
  now?: () => number;
}

/** What the HTTP facade uses of pub/sub. */
export type TopicsApi = Pick<Topics, 'publish' | 'follow'>;

/** Membership states in which a node's subscriptions count. */
const LIVE_STATES = new Set(['up', 'suspect', 'leaving']);

export class Topics {
  private readonly spread: TopicSpread;
  private readonly counters = { published: 0, framesSent: 0, framesReceived: 0, delivered: 0, spreadFramesDropped: 0 };
  private readonly dropped: Record<TopicDropReason, number> = { 'link-full': 0, 'mailbox-full': 0, 'subscriber-gone': 0, malformed: 0 };
  private readonly systemName: string;
  private readonly maxMailbox: number;
  private readonly now: () => number;
  private readonly feeds: TopicFeeds;
  private readonly unsubscribeMembers: () => void;
  private readonly sweep: NodeJS.Timeout;
  private wake: { at: number; timer: NodeJS.Timeout } | null = null;
  private closed = false;

  constructor(private readonly opts: TopicsOptions) {
    this.spread = new TopicSpread(opts.generation, opts.spread);
    this.systemName = systemNameOf(opts.system);
    this.maxMailbox = opts.maxMailbox ?? DEFAULT_MAX_MAILBOX;
    this.now = opts.now ?? (() => performance.now());
    this.feeds = new TopicFeeds({ system: opts.system, subscribe: (t, ref) => this.subscribe(t, ref), unsubscribe: (t, ref) => this.unsubscribe(t, ref), limits: opts.feeds ?? {} });
    opts.transport.onMessage(PUBSUB_CHANNEL, (from, payload) => this.receive(from, payload));
    opts.transport.onEvent((event) => {
      if (event.type === 'link-up' && LIVE_STATES.has(opts.members.stateOf(event.peer.name) ?? '')) this.peerUp(event.peer.name, event.peer.address);
    });
    this.unsubscribeMembers = opts.members.subscribe((event, node) => this.memberChanged(event, node));
    for (const peer of opts.initialPeers ?? []) this.peerUp(peer.name, peer.address);
    this.sweep = setInterval(() => this.dropGoneSubscribers(), LOCAL_SWEEP_INTERVAL_MS);
    this.sweep.unref();
  }

  /**
   * Subscribes the actor at `ref` (an actor of this node) to `topic`; idempotent. Throws BadRequestError for
   * a malformed topic or a reference to another node's actor, NoSuchActorError when the actor does not
   * exist, TopicLimitError beyond this node's limits.
   */
  subscribe(topic: string, ref: ActorRef): void {
    checkTopic(topic);
    const subscriber = this.localId(ref);
    if (findLocalActor(this.systemName, nactRefAt(this.systemName, subscriber.split('/'))) === undefined) throw new NoSuchActorError(`${this.opts.self}/${subscriber}`);
    const problem = this.spread.localLimitProblem(topic, subscriber);
    if (problem !== null) throw new TopicLimitError(problem, problem === 'topics' ? this.limit('maxTopicsPerNode') : this.limit('maxSubscriptionsPerNode'));
    this.step({ type: 'subscribe', topic, subscriber });
  }

  /** Unsubscribes; false when it was not subscribed. */
  unsubscribe(topic: string, ref: ActorRef): boolean {
    checkTopic(topic);
    const subscriber = this.localId(ref);
    if (!this.spread.localSubscribersOf(topic).has(subscriber)) return false;
    this.step({ type: 'unsubscribe', topic, subscriber });
    return true;
  }

  /**
   * Sends `message` (anything the actor wire codec encodes) to every subscriber of `topic` in the cluster:
   * one frame per other node with subscribers, and to this node's subscribers directly. Throws
   * BadRequestError for a malformed or system topic.
   */
  publish(topic: string, message: unknown): PublishReceipt {
    checkTopic(topic);
    if (isSystemTopic(topic)) throw new BadRequestError(`${topic} is a system topic: only the runtime publishes on it; publish on a topic without a leading $`);
    const destinations = this.spread.destinationsOf(topic);
    // Encoded before anything is delivered: a message that cannot be encoded reaches nobody.
    const frame = destinations.length > 0 ? ['p', topic, encode(this.opts.self, message)] : null;
    let remoteNodes = 0;
    for (const address of destinations) {
      if (this.opts.transport.send(address, PUBSUB_CHANNEL, frame)) remoteNodes++;
      else this.dropped['link-full']++;
    }
    this.counters.published++;
    this.counters.framesSent += remoteNodes;
    return { remoteNodes, localSubscribers: this.deliverLocally(topic, message, false) };
  }

  /** Delivers `message` to the subscribers of `topic` on this node only (how the runtime publishes system topics); returns how many. */
  publishLocal(topic: string, message: unknown): number {
    checkTopic(topic);
    this.counters.published++;
    return this.deliverLocally(topic, message, false);
  }

  /** Every subscriber of `topic` in the cluster as this node knows them: its own, and those the spread reported. */
  subscribers(topic: string): RemoteRef[] {
    const local = [...this.spread.localSubscribersOf(topic)].map((id) => new RemoteRef(this.opts.self, id.split('/')));
    return [...local, ...this.spread.remoteSubscribersOf(topic).map(([node, id]) => new RemoteRef(node, id.split('/')))];
  }

  /**
   * A stream of `topic`'s messages on this node as JSON, for the HTTP event stream (topic-feeds.ts),
   * resuming after `lastEventId` where this node still holds the messages.
   */
  follow(topic: string, options: { lastEventId?: string | undefined } = {}): FeedStream {
    checkTopic(topic);
    return this.feeds.open(topic, options);
  }

  get stats(): TopicsStats {
    const { topics, subscriptions } = this.spread.localCounts();
    return {
      ...this.counters, dropped: { ...this.dropped }, spread: { ...this.spread.stats },
      localTopics: topics, localSubscriptions: subscriptions, streams: this.feeds.streams,
    };
  }

  /** Idempotent. Ends the event streams; subscriptions end with the node (peers drop them when it leaves or goes down). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.feeds.close();
    this.unsubscribeMembers();
    clearInterval(this.sweep);
    if (this.wake !== null) clearTimeout(this.wake.timer);
  }

  // ---- Delivery ----

  private deliverLocally(topic: string, message: unknown, fromOtherNode: boolean): number {
    const subscribers = this.spread.localSubscribersOf(topic);
    if (subscribers.size === 0) return 0;
    const envelope: TopicMessage = { type: 'topic-message', topic, message };
    const gone: string[] = [];
    let delivered = 0;
    for (const id of subscribers) {
      const ref = nactRefAt(this.systemName, id.split('/'));
      const actor = findLocalActor(this.systemName, ref);
      if (actor === undefined) gone.push(id);
      else if (fromOtherNode && (actor.mailbox?.length ?? 0) >= this.maxMailbox) this.dropped['mailbox-full']++;
      else {
        nactDispatch(ref, envelope);
        delivered++;
      }
    }
    for (const id of gone) this.dropSubscriber(id);
    this.counters.delivered += delivered;
    return delivered;
  }

  private receive(from: PeerIdentity, payload: unknown): void {
    if (this.closed) return;
    if (!Array.isArray(payload)) return this.step({ type: 'message', from: from.name, msg: payload });
    const [tag, topic, body] = payload as unknown[];
    if (payload.length !== 3 || tag !== 'p' || topicNameProblem(topic) !== null || !(body instanceof Uint8Array)) {
      this.dropped.malformed++;
      return;
    }
    this.counters.framesReceived++;
    let message: unknown;
    try {
      message = decode(body, this.opts.self);
    } catch {
      this.dropped.malformed++;
      return;
    }
    this.deliverLocally(topic as string, message, true);
  }

  private dropGoneSubscribers(): void {
    const gone = new Set<string>();
    for (const [, subscribers] of this.spread.localSubscriptions()) {
      for (const id of subscribers) if (!gone.has(id) && findLocalActor(this.systemName, nactRefAt(this.systemName, id.split('/'))) === undefined) gone.add(id);
    }
    for (const id of gone) this.dropSubscriber(id);
  }

  private dropSubscriber(id: string): void {
    this.dropped['subscriber-gone']++;
    this.step({ type: 'drop-subscriber', subscriber: id });
  }

  // ---- Membership ----

  private memberChanged(event: string, node: string): void {
    if (node === this.opts.self) return;
    if (event === 'member-up') {
      const address = this.opts.members.addressOf(node);
      if (address !== undefined) this.peerUp(node, address);
    } else if (event === 'member-down' || event === 'member-left' || event === 'member-removed') {
      this.step({ type: 'peer-down', node });
    }
  }

  private peerUp(node: string, address: string): void {
    if (node !== this.opts.self) this.step({ type: 'peer-up', node, address });
  }

  // ---- The core ----

  /** Steps the core and performs its Ready: messages on the pubsub channel, events logged, one timer. */
  private step(input: SpreadInput): void {
    if (this.closed) return;
    this.spread.step(input, this.now());
    const ready = this.spread.ready();
    for (const { to, msg } of ready.messages) if (!this.opts.transport.send(to, PUBSUB_CHANNEL, msg)) this.counters.spreadFramesDropped++;
    for (const event of ready.events) this.opts.log.debug({ node: event.node, subscriptions: event.subscriptions }, `pubsub ${event.type}`);
    this.armWake(ready.nextWakeAt);
    this.spread.advance(ready);
  }

  private armWake(at: number | null): void {
    if (this.wake?.at === at) return;
    if (this.wake !== null) clearTimeout(this.wake.timer);
    this.wake = null;
    if (at === null) return;
    const timer = setTimeout(() => {
      this.wake = null;
      this.step({ type: 'tick' });
    }, Math.max(0, at - this.now()));
    timer.unref();
    this.wake = { at, timer };
  }

  /** The subscriber id of an actor of this node: its path, `a/b`. */
  private localId(ref: ActorRef): string {
    if (isRemoteRef(ref) && ref.node !== this.opts.self) throw new BadRequestError(`${ref.toString()} is an actor of ${ref.node}: subscribe it on its own node (node.topics there)`);
    const path = isRemoteRef(ref) ? ref.path : nactPath(ref);
    if (path === null || path.length === 0 || path.some((part) => part === '' || part.includes('/'))) {
      throw new BadRequestError('only actors can subscribe (not the actor system, a query\'s temporary reference or nobody)');
    }
    const id = path.join('/');
    if (id.length > MAX_SUBSCRIBER_ID_CHARS) throw new BadRequestError(`an actor path of ${id.length} characters is too long to subscribe (at most ${MAX_SUBSCRIBER_ID_CHARS})`);
    return id;
  }

  private limit(key: 'maxTopicsPerNode' | 'maxSubscriptionsPerNode'): number {
    return this.spread.config[key];
  }
}

/** Throws BadRequestError unless `topic` is a topic name (lib/protocol/pubsub/topic-name.ts). */
export function checkTopic(topic: unknown): asserts topic is string {
  const problem = topicNameProblem(topic);
  if (problem !== null) throw new BadRequestError(`${problem}; got ${JSON.stringify(String(topic).slice(0, 140))}`);
}
