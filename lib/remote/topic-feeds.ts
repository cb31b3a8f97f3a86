/**
 * Topic feeds: what the HTTP event streams (`GET /api/topics/:topic/events`)
 * read, one feed per streamed topic on this node.
 *
 * A feed is a local subscriber of its topic (a small actor spawned under
 * the node's actor system), shared by every stream of the topic on this
 * node: a message reaches the node once, is turned into JSON once, numbered,
 * kept in the topic's recent messages (recent-messages.ts) and handed to
 * each stream. The feed outlives its last stream by FEED_LINGER_MS, still
 * subscribed, so a client that reconnects with `Last-Event-ID` finds what was
 * published meanwhile; then it unsubscribes and its messages are forgotten.
 *
 * Event ids are `<epoch>-<seq>`: `epoch` is random per node start and `seq`
 * grows across all topics of the node. A resume is exact when the id is of
 * this node's current run and the feed still holds every message after it;
 * otherwise the stream starts with a `gap` event (after which it replays what
 * the feed holds, when the id is of this run).
 *
 * Bounded: MAX_TOPIC_STREAMS streams and MAX_STREAMED_TOPICS feeds per node
 * (a new feed retires the longest-idle lingering one when full), and each
 * stream's queue of undelivered events: a client that falls
 * MAX_QUEUED_EVENTS_PER_STREAM events behind gets `overflow` and the stream
 * ends (it may reconnect with its last id).
 */
import { randomBytes } from 'node:crypto';
import { spawn, stop, type Ref } from 'nact';
import { TroupeError } from '../errors.js';
import { RecentMessages, type RecentLimits, type RecentMessage } from './recent-messages.js';
import type { TopicMessage } from './topics.js';

/** Event streams open at once on one node. @default 256 */
export const MAX_TOPIC_STREAMS = 256;
/** Topics with a feed (streamed now, or lingering) on one node. @default 256 */
export const MAX_STREAMED_TOPICS = 256;
/** Recent messages a feed keeps for resumes. @default 1000 */
export const RECENT_MESSAGES_PER_TOPIC = 1000;
/** Bytes of JSON a feed keeps for resumes (the newest message is kept whatever its size). Worst case per node: MAX_STREAMED_TOPICS × this = 64 MiB. @default 256 KiB */
export const RECENT_BYTES_PER_TOPIC = 256 * 1024;
/** How long a feed stays subscribed after its last stream closed, ms: the window in which a reconnect resumes exactly. @default 60000 */
export const FEED_LINGER_MS = 60_000;
/** Events a stream may have undelivered (a slow client) before it gets `overflow` and ends. @default 1000 */
export const MAX_QUEUED_EVENTS_PER_STREAM = 1000;

export type FeedEvent =
  /** A message of the topic: `data` is its JSON. */
  | { type: 'message'; id: string; data: string }
  /** Messages may have been missed before what follows (the resume point is not held). */
  | { type: 'gap'; lastEventId: string; reason: string }
  /** The client fell too far behind: the stream ends here. */
  | { type: 'overflow'; queued: number };

/** One stream of a topic: iterate its events; `close` ends the iteration. */
export interface FeedStream extends AsyncIterable<FeedEvent> {
  close(): void;
}

export interface TopicFeedsDeps {
  system: Ref<never>;
  subscribe(topic: string, ref: Ref<any>): void;
  unsubscribe(topic: string, ref: Ref<any>): void;
  limits?: Partial<FeedLimits>;
}

export interface FeedLimits extends RecentLimits {
  maxStreams: number;
  maxFeeds: number;
  lingerMs: number;
  maxQueuedPerStream: number;
}

const DEFAULT_FEED_LIMITS: FeedLimits = {
  maxStreams: MAX_TOPIC_STREAMS, maxFeeds: MAX_STREAMED_TOPICS, maxMessages: RECENT_MESSAGES_PER_TOPIC,
  maxBytes: RECENT_BYTES_PER_TOPIC, lingerMs: FEED_LINGER_MS, maxQueuedPerStream: MAX_QUEUED_EVENTS_PER_STREAM,
};

interface Feed {
  topic: string;
  ref: Ref<any>;
  recent: RecentMessages;
  listeners: Set<(message: RecentMessage) => void>;
  /** Set while the feed has no stream: when it will be retired. */
  linger: NodeJS.Timeout | null;
  idleSince: number;
}

export class TopicFeeds {
  /** Messages that could not be written as JSON (counted, not streamed). */
  unserializable = 0;
  private readonly epoch = randomBytes(5).toString('hex');
  private readonly limits: FeedLimits;
  private readonly feeds = new Map<string, Feed>();
  private readonly openStreams = new Set<FeedStream>();
  private seq = 0;
  private nextFeedId = 1;

  constructor(private readonly deps: TopicFeedsDeps) {
    this.limits = { ...DEFAULT_FEED_LIMITS, ...deps.limits };
  }

  get streams(): number {
    return this.openStreams.size;
  }

  get feedCount(): number {
    return this.feeds.size;
  }

  /** Opens a stream of `topic` (a valid name), resuming after `lastEventId` when given. Throws ERR_QUEUE_FULL beyond the limits. */
  open(topic: string, options: { lastEventId?: string | undefined } = {}): FeedStream {
    if (this.openStreams.size >= this.limits.maxStreams) {
      throw new TroupeError('ERR_QUEUE_FULL', `this node serves ${this.limits.maxStreams} topic streams already: stream from another node or close one`, { retryable: true });
    }
    const feed = this.feedFor(topic);
    const stream = this.streamOf(feed, this.resume(feed, options.lastEventId));
    this.openStreams.add(stream);
    return stream;
  }

  /** Ends every stream and retires every feed. */
  close(): void {
    for (const stream of [...this.openStreams]) stream.close();
    for (const feed of [...this.feeds.values()]) this.retire(feed);
  }

  // ---- Feeds ----

  private feedFor(topic: string): Feed {
    const existing = this.feeds.get(topic);
    if (existing !== undefined) return existing;
    if (this.feeds.size >= this.limits.maxFeeds) this.retireIdlest(topic);
    const feed: Feed = {
      topic, ref: undefined as unknown as Ref<any>, recent: new RecentMessages(this.seq, this.limits), listeners: new Set(), linger: null, idleSince: 0,
    };
    const receive = (state: undefined, msg: TopicMessage): undefined => {
      if (msg?.type === 'topic-message') this.append(feed, msg.message);
      return state;
    };
    feed.ref = spawn(this.deps.system, receive, `$topic-feed-${this.nextFeedId++}`);
    try {
      this.deps.subscribe(topic, feed.ref);
    } catch (err) {
      stop(feed.ref);
      throw err;
    }
    this.feeds.set(topic, feed);
    return feed;
  }

  private retireIdlest(wanted: string): void {
    let idlest: Feed | undefined;
    for (const feed of this.feeds.values()) if (feed.listeners.size === 0 && (idlest === undefined || feed.idleSince < idlest.idleSince)) idlest = feed;
    if (idlest === undefined) {
      throw new TroupeError('ERR_QUEUE_FULL', `this node streams ${this.limits.maxFeeds} topics already, none idle: stream ${JSON.stringify(wanted)} from another node`, { retryable: true });
    }
    this.retire(idlest);
  }

  private retire(feed: Feed): void {
    if (feed.linger !== null) clearTimeout(feed.linger);
    this.feeds.delete(feed.topic);
    this.deps.unsubscribe(feed.topic, feed.ref);
    stop(feed.ref);
  }

  private append(feed: Feed, message: unknown): void {
    const data = toJson(message);
    if (data === undefined) {
      this.unserializable++;
      return;
    }
    const recent = { seq: ++this.seq, data };
    feed.recent.append(recent);
    for (const listener of feed.listeners) listener(recent);
  }

  // ---- Streams ----

  /** The events a stream starts with, from its client's last event id. */
  private resume(feed: Feed, lastEventId: string | undefined): FeedEvent[] {
    if (lastEventId === undefined || lastEventId === '') return [];
    const match = /^([0-9a-f]+)-([0-9]{1,15})$/.exec(lastEventId);
    if (match === null || match[1] !== this.epoch || Number(match[2]) > this.seq) {
      return [{ type: 'gap', lastEventId, reason: 'the id is not of this node\'s current run (another node, or before a restart): messages since may have been missed' }];
    }
    const after = feed.recent.after(Number(match[2]));
    if (after !== null) return after.map((m) => this.event(m));
    const gap: FeedEvent = { type: 'gap', lastEventId, reason: 'this node no longer holds every message after that id: some were missed; what it holds follows' };
    return [gap, ...feed.recent.all().map((m) => this.event(m))];
  }

  private event(message: RecentMessage): FeedEvent {
    return { type: 'message', id: `${this.epoch}-${message.seq}`, data: message.data };
  }

  private streamOf(feed: Feed, initial: FeedEvent[]): FeedStream {
    const queue = [...initial];
    let wake: (() => void) | null = null;
    let ended = false;
    const listener = (message: RecentMessage): void => {
      queue.push(queue.length < this.limits.maxQueuedPerStream ? this.event(message) : { type: 'overflow', queued: queue.length });
      if (queue.at(-1)!.type === 'overflow') feed.listeners.delete(listener);
      wake?.();
    };
    if (feed.linger !== null) clearTimeout(feed.linger);
    feed.linger = null;
    feed.listeners.add(listener);
    const close = (): void => {
      if (ended) return;
      ended = true;
      feed.listeners.delete(listener);
      this.openStreams.delete(stream);
      if (feed.listeners.size === 0 && this.feeds.get(feed.topic) === feed) this.lingerThenRetire(feed);
      wake?.();
    };
    const stream: FeedStream = {
      close,
      async *[Symbol.asyncIterator]() {
        while (!ended) {
          const next = queue.shift();
          if (next === undefined) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = null;
            continue;
          }
          yield next;
          if (next.type === 'overflow') close();
        }
      },
    };
    return stream;
  }

  private lingerThenRetire(feed: Feed): void {
    feed.idleSince = performance.now();
    feed.linger = setTimeout(() => this.retire(feed), this.limits.lingerMs);
    feed.linger.unref();
  }
}

/** `value` as JSON (bigints as strings), or undefined when it has no JSON form (a cycle). */
function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return undefined;
  }
}
