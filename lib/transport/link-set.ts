/**
 * The links of one transport, independent of what carries their bytes: the
 * address index with its aliases, each link's bounded queues (one per
 * priority class: link-queues.ts), batching of writes, redial with backoff,
 * events and counters.
 *
 * Writing: a link's queues are written in batches, highest class first,
 * while the connection accepts (`write` returns true, which for a socket
 * means its userspace buffer is below its high-water mark); then the link
 * waits for 'drain'. So the socket holds at most one batch or one large frame
 * beyond its high-water mark, and everything else waits in the class queues,
 * where a frame of a higher class sent later still goes first. Bulk classes
 * are also held to a window of bytes in flight per connection, credited by
 * the peer (flow-control.ts), which keeps the kernel's buffers from filling
 * with them. The TCP and the memory
 * transports plug their connections in; see tcp-transport.ts for the rules
 * on duplicates and aliases that this applies.
 *
 * Invariants: a link has at most one active connection and at most one
 * dialing connection; a link with queued frames and no active connection is
 * dialing, waiting on a redial timer, or (transport not started) waiting for
 * start; a link with nothing of that is forgotten.
 */

import type { Logger } from 'pino';
import type { Random } from '../protocol/random.js';
import { DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS, nextBackoffMs, type BackoffPolicy } from './backoff.js';
import type { FrameFailure } from './frame-codec.js';
import { channelPriority, DEFAULT_MAX_QUEUED_BYTES, type ChannelPriority } from './channel-priority.js';
import { applyCredit, CREDIT_CHANNEL, DEFAULT_MAX_BYTES_IN_FLIGHT, receivedBytes, writableThrough, type ConnectionFlow } from './flow-control.js';
import { encodeFrame } from './frame-codec.js';
import { DEFAULT_MAX_BATCH_BYTES } from './frame-queue.js';
import { LinkQueues, type QueueBudget } from './link-queues.js';
import type { HandshakeOutcome } from './handshake.js';
import { LogLimiter } from './log-limiter.js';
import type { ChannelStats, LinkInfo, PeerIdentity, TransportEvent, TransportOptions, TransportStats } from './transport.js';
import {
  copyStats,
  emptyChannelStats,
  DEFAULT_GIVE_UP_AFTER_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_QUEUED_FRAMES,
  emptyStats,
  parseAddress,
  PEER_LOG_INTERVAL_MS,
  PEER_LOG_MAX_KEYS,
} from './transport.js';

export type HandshakeFailure = Extract<HandshakeOutcome, { ok: false }>;

/** What a link needs of a connection. */
export interface LinkConnection<C> {
  readonly direction: 'in' | 'out';
  readonly dialedAddress: string | null;
  peer: PeerIdentity | null;
  link: PeerLink<C> | null;
  retired: boolean;
  writeBlocked: boolean;
  connectedAt: number;
  /** Bytes in flight and credits (flow-control.ts); starts at zero with the connection. */
  readonly flow: ConnectionFlow;
  readonly isClosing: boolean;
  write(chunks: Uint8Array[]): boolean;
  cork(): void;
  uncork(): void;
  close(reason: string, mode: 'graceful' | 'now'): void;
}

export interface PeerLink<C> {
  /** The peer's advertised address (or, before its handshake, the address sends named). */
  address: string;
  readonly queue: LinkQueues;
  active: C | null;
  dialing: C | null;
  /** Redial attempts since the last link; the backoff exponent. */
  attempt: number;
  redialTimer: NodeJS.Timeout | null;
  /** Monotonic ms since when the link has been wanted but not up; null while up or idle. */
  unreachableSince: number | null;
}

export interface LinkSetHooks<C> {
  /** Opens a connection for the link and sets `link.dialing`. */
  dial(link: PeerLink<C>): void;
  canDial(): boolean;
}

export class LinkSet<C extends LinkConnection<C>> {
  readonly stats: TransportStats = emptyStats();
  readonly eventHandlers: Array<(event: TransportEvent) => void> = [];
  readonly messageHandlers = new Map<string, (from: PeerIdentity, payload: unknown) => void>();
  readonly maxFrameBytes: number;
  /** This node's advertised address: frames for it are discarded rather than dialed. */
  selfAddress: string;
  private readonly peers = new Map<string, PeerLink<C>>();
  /** Dialed address → advertised address. */
  private readonly aliases = new Map<string, string>();
  /** Addresses that had a link once: a new link to one is a reconnect. */
  private readonly linkedBefore = new Set<string>();
  private readonly dirty = new Set<PeerLink<C>>();
  private flushScheduled = false;
  private readonly budgets: Record<ChannelPriority, QueueBudget>;
  private readonly maxBytesInFlight: number;
  private readonly channelPriorities: Readonly<Record<string, ChannelPriority>>;
  /** Per sent channel: its class and counters (also in `stats.channels`), looked up once per channel. */
  private readonly outbound = new Map<string, { priority: ChannelPriority; counters: ChannelStats }>();
  private readonly backoff: BackoffPolicy;
  private readonly giveUpAfterMs: number;
  private readonly random: Random;
  private readonly log: Logger;
  /** Misbehaving peers are logged through this: once per direction, reason and host per interval. */
  private readonly peerLog = new LogLimiter({ intervalMs: PEER_LOG_INTERVAL_MS, maxKeys: PEER_LOG_MAX_KEYS });

  constructor(opts: TransportOptions, private readonly hooks: LinkSetHooks<C>) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const frames = opts.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES;
    const bytes = { ...DEFAULT_MAX_QUEUED_BYTES, ...opts.maxQueuedBytes };
    this.budgets = { high: { frames, bytes: bytes.high }, normal: { frames, bytes: bytes.normal }, low: { frames, bytes: bytes.low } };
    this.channelPriorities = { ...opts.channelPriorities };
    this.maxBytesInFlight = opts.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT;
    this.backoff = opts.backoff ?? { baseMs: DEFAULT_BACKOFF_BASE_MS, maxMs: DEFAULT_BACKOFF_MAX_MS };
    this.giveUpAfterMs = opts.giveUpAfterMs ?? DEFAULT_GIVE_UP_AFTER_MS;
    this.random = opts.random;
    this.log = opts.log;
    this.selfAddress = opts.advertisedAddress;
  }

  /** The address that `address` is known as (itself unless it was aliased). */
  resolve(address: string): string {
    return this.aliases.get(address) ?? address;
  }

  /** Queues a frame body of `channel` for `to`; false when dropped (class queue full, own or malformed address). */
  enqueue(to: string, channel: string, body: Uint8Array): boolean {
    const address = this.resolve(to);
    let link = this.peers.get(address);
    if (link === undefined) {
      if (address === this.selfAddress || parseAddress(address) === null) {
        this.stats.framesDiscarded++;
        this.log.debug({ peer: address }, 'frame for this node or a malformed address discarded');
        return false;
      }
      link = this.newLink(address);
    }
    const route = this.route(channel);
    if (!link.queue.push(route.priority, body, route.counters)) {
      this.stats.framesDropped++;
      return false;
    }
    if (link.active !== null) this.scheduleFlush(link);
    else this.ensureDialing(link);
    return true;
  }

  emit(event: TransportEvent): void {
    for (const handler of this.eventHandlers) {
      try {
        handler(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'transport event handler threw');
      }
    }
  }

  /**
   * Hands a frame of an established connection to its channel's handler; a throwing handler is counted. A
   * credit frame updates the connection's window instead; every other frame counts towards the next credit.
   */
  deliver(conn: C, channel: string, payload: unknown, frameBytes: number): void {
    if (channel === CREDIT_CHANNEL) {
      const link = conn.link;
      if (applyCredit(conn.flow, payload) && link !== null && link.active === conn && link.queue.length > 0) this.scheduleFlush(link);
      return;
    }
    const credit = receivedBytes(conn.flow, frameBytes, this.maxBytesInFlight);
    if (credit !== null) conn.write([encodeFrame(CREDIT_CHANNEL, credit, this.maxFrameBytes)]);
    const stats = this.stats;
    stats.framesReceived++;
    stats.bytesReceived += frameBytes;
    const handler = this.messageHandlers.get(channel);
    if (handler === undefined) {
      stats.framesUnrouted++;
      return;
    }
    const counters = (stats.channels[channel] ??= emptyChannelStats());
    counters.framesReceived++;
    counters.bytesReceived += frameBytes;
    try {
      handler(conn.peer!, payload);
    } catch (err) {
      stats.handlerErrors++;
      this.log.error({ err, channel, peer: conn.peer?.address }, 'inter-node message handler threw');
    }
  }

  /**
   * Counts, logs (a warn, rate-limited per peer: see warnPeer) and emits a failed handshake or a connection
   * refused at accept. A duplicate closed by the tie-break is not a failure: counted apart, logged at debug.
   * So is a connection closed before sending a byte (a port probe).
   */
  handshakeFailed(remoteAddress: string, direction: 'in' | 'out', failure: HandshakeFailure, receivedAny: boolean): void {
    if (failure.reason === 'duplicate') {
      this.stats.duplicatesClosed++;
      this.log.debug({ peer: remoteAddress, direction }, `inter-node duplicate connection closed: ${failure.message}`);
      return;
    }
    this.stats.handshakeFailures[failure.reason]++;
    const fields = { peer: remoteAddress, direction, reason: failure.reason };
    if (failure.reason === 'closed' && !receivedAny) this.log.debug(fields, 'inter-node connection closed before the handshake');
    else this.warnPeer(fields, `inter-node handshake failed: ${failure.message}`);
    this.emit({ type: 'handshake-failed', remoteAddress, reason: failure.reason, message: failure.message });
  }

  /** Counts and logs (rate-limited per peer) an established link closed for an undecodable or oversized frame. */
  frameError(peerAddress: string, direction: 'in' | 'out', failure: FrameFailure): void {
    this.stats.frameErrors[failure.reason]++;
    this.warnPeer({ peer: peerAddress, direction, reason: failure.reason }, `inter-node link closed: ${failure.message}`);
  }

  /**
   * A warning about a misbehaving peer, at most once per direction, reason and peer host per
   * PEER_LOG_INTERVAL_MS: anyone who can reach the cluster port could otherwise write a line per connection.
   * The line after a quiet spell carries `suppressed`, the number left out since the previous one.
   */
  warnPeer(fields: { peer: string; direction: 'in' | 'out'; reason: string }, message: string): void {
    const host = parseAddress(fields.peer)?.host ?? fields.peer;
    const decision = this.peerLog.decide(`${fields.direction}|${fields.reason}|${host}`, performance.now());
    if (!decision.log) return;
    if (decision.suppressed === 0) this.log.warn(fields, message);
    else this.log.warn({ ...fields, suppressed: decision.suppressed }, `${message} (${decision.suppressed} more like it not logged since the last line)`);
  }

  /**
   * An outbound connection reached this very node through another spelling of
   * its address (`localhost:9100` for `myhost:9100`, say): remember the alias,
   * so nothing is queued or dialed there again, and drop what was queued.
   */
  aliasSelf(conn: C): void {
    const dialed = conn.dialedAddress;
    if (dialed === null || this.aliases.get(dialed) === this.selfAddress) return;
    this.aliases.set(dialed, this.selfAddress);
    const link = this.peers.get(dialed);
    if (link !== undefined && link.active === null) {
      this.stats.framesDiscarded += link.queue.clear();
      if (link.redialTimer !== null) clearTimeout(link.redialTimer);
      link.redialTimer = null;
      this.peers.delete(dialed);
    }
    this.log.info({ peer: dialed }, 'address is this node itself; it will not be dialed again');
  }

  /** An outbound connection learnt the peer's advertised address; merge the dialed address's link into it. */
  alias(conn: C, advertised: string): void {
    const dialed = conn.dialedAddress;
    if (dialed === null || dialed === advertised) return;
    this.aliases.set(dialed, advertised);
    for (const [from, to] of this.aliases) if (to === dialed) this.aliases.set(from, advertised);
    const target = this.peers.get(advertised) ?? this.newLink(advertised);
    const old = conn.link;
    if (old !== null && old !== target) {
      if (old.dialing === conn) old.dialing = null;
      if (old.active === null && this.peers.get(old.address) === old) {
        this.stats.framesDropped += target.queue.takeAllFrom(old.queue);
        if (old.redialTimer !== null) clearTimeout(old.redialTimer);
        old.redialTimer = null;
        if (target.unreachableSince === null) target.unreachableSince = old.unreachableSince;
        this.peers.delete(old.address);
      }
    }
    conn.link = target;
    if (target.dialing === null && target.active === null) target.dialing = conn;
  }

  /** A connection passed the handshake: it becomes its link's active connection. */
  established(conn: C, peer: PeerIdentity): void {
    const link = this.peers.get(peer.address) ?? this.newLink(peer.address);
    if (conn.link !== null && conn.link !== link && conn.link.dialing === conn) conn.link.dialing = null;
    if (link.dialing === conn) link.dialing = null;
    conn.link = link;
    const previous = link.active;
    const restarted = previous !== null && previous.peer!.generation !== peer.generation;
    if (previous !== null) {
      previous.retired = true;
      previous.close('replaced by a newer connection', 'graceful');
      this.stats.duplicatesClosed++;
    }
    link.active = conn;
    link.attempt = 0;
    link.unreachableSince = null;
    if (link.redialTimer !== null) clearTimeout(link.redialTimer);
    link.redialTimer = null;
    if (restarted) this.linkDown(previous.peer!, 'peer restarted');
    if (previous === null || restarted) {
      this.stats.linksUp++;
      if (this.linkedBefore.has(link.address)) this.stats.reconnects++;
      this.linkedBefore.add(link.address);
      this.log.info({ peer: peer.address, peerName: peer.name, generation: peer.generation, direction: conn.direction }, 'inter-node link up');
      this.emit({ type: 'link-up', peer });
    }
    if (link.queue.length > 0) this.scheduleFlush(link);
  }

  /** A connection closed (any phase); `reason` says why, for the link-down event. */
  connectionClosed(conn: C, reason: string): void {
    const link = conn.link;
    if (link === null) return;
    if (link.dialing === conn) link.dialing = null;
    if (link.active === conn) {
      link.active = null;
      link.unreachableSince = performance.now();
      this.linkDown(conn.peer!, reason);
    }
    this.settle(link);
  }

  /** The active connection's socket drained: write what accumulated. */
  drained(conn: C): void {
    const link = conn.link;
    if (link !== null && link.active === conn) this.flushLink(link, false);
  }

  /** Writes every queue to its active connection; `force` ignores backpressure (used by stop). */
  flushAll(force: boolean): void {
    for (const link of this.peers.values()) this.flushLink(link, force);
  }

  dialAllQueued(): void {
    for (const link of this.peers.values()) if (link.queue.length > 0) this.ensureDialing(link);
  }

  stopDialing(): void {
    for (const link of this.peers.values()) {
      if (link.redialTimer !== null) clearTimeout(link.redialTimer);
      link.redialTimer = null;
    }
  }

  /** Drops every queue (counted in framesDiscarded) and forgets every link. */
  discardAll(): void {
    this.stopDialing();
    for (const link of this.peers.values()) this.stats.framesDiscarded += link.queue.clear();
    this.peers.clear();
    this.aliases.clear();
  }

  linkInfos(): LinkInfo[] {
    const infos: LinkInfo[] = [];
    for (const link of this.peers.values()) {
      const conn = link.active;
      if (conn === null) continue;
      const queue = link.queue;
      infos.push({
        peer: conn.peer!,
        direction: conn.direction,
        queuedFrames: queue.length,
        queuedBytes: queue.bytes,
        queued: { high: queue.queued('high'), normal: queue.queued('normal'), low: queue.queued('low') },
        connectedAt: conn.connectedAt,
      });
    }
    return infos;
  }

  snapshotStats(): TransportStats {
    return copyStats(this.stats);
  }

  private newLink(address: string): PeerLink<C> {
    const link: PeerLink<C> = {
      address,
      queue: new LinkQueues(this.budgets),
      active: null,
      dialing: null,
      attempt: 0,
      redialTimer: null,
      unreachableSince: null,
    };
    this.peers.set(address, link);
    return link;
  }

  /** The class and counters of an outbound channel; the counters also appear in `stats.channels`. */
  private route(channel: string): { priority: ChannelPriority; counters: ChannelStats } {
    let route = this.outbound.get(channel);
    if (route === undefined) {
      route = { priority: channelPriority(channel, this.channelPriorities), counters: (this.stats.channels[channel] ??= emptyChannelStats()) };
      this.outbound.set(channel, route);
    }
    return route;
  }

  private linkDown(peer: PeerIdentity, reason: string): void {
    this.stats.linksDown++;
    this.log.info({ peer: peer.address, peerName: peer.name, reason }, 'inter-node link down');
    this.emit({ type: 'link-down', peer, reason });
  }

  private ensureDialing(link: PeerLink<C>): void {
    if (link.active !== null || link.dialing !== null || link.redialTimer !== null || !this.hooks.canDial()) return;
    if (link.unreachableSince === null) link.unreachableSince = performance.now();
    this.hooks.dial(link);
  }

  /** After a connection of `link` closed: redial, give up, or forget it. */
  private settle(link: PeerLink<C>): void {
    if (link.active !== null || link.dialing !== null || link.redialTimer !== null) return;
    if (link.queue.length === 0 || !this.hooks.canDial()) {
      this.forget(link);
      return;
    }
    const since = link.unreachableSince ?? performance.now();
    if (performance.now() - since >= this.giveUpAfterMs) {
      const discarded = link.queue.clear();
      this.stats.framesDiscarded += discarded;
      this.log.warn({ peer: link.address, discarded, unreachableMs: Math.round(performance.now() - since) }, 'inter-node peer unreachable: queued frames discarded until the next send');
      this.forget(link);
      return;
    }
    const delayMs = nextBackoffMs(link.attempt++, this.backoff, this.random);
    link.redialTimer = setTimeout(() => {
      link.redialTimer = null;
      if (link.active === null && link.dialing === null && link.queue.length > 0 && this.hooks.canDial()) this.hooks.dial(link);
      else this.settle(link);
    }, delayMs);
    link.redialTimer.unref();
  }

  private forget(link: PeerLink<C>): void {
    if (link.active !== null || link.dialing !== null || link.redialTimer !== null || link.queue.length > 0) return;
    link.unreachableSince = null;
    link.attempt = 0;
    if (this.peers.get(link.address) !== link) return;
    this.peers.delete(link.address);
    for (const [from, to] of this.aliases) if (to === link.address) this.aliases.delete(from);
  }

  private scheduleFlush(link: PeerLink<C>): void {
    this.dirty.add(link);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushDirty);
  }

  private readonly flushDirty = (): void => {
    this.flushScheduled = false;
    for (const link of this.dirty) {
      this.dirty.delete(link);
      this.flushLink(link, false);
    }
  };

  private flushLink(link: PeerLink<C>, force: boolean): void {
    const conn = link.active;
    if (conn === null || conn.isClosing || (conn.writeBlocked && !force)) return;
    const flow = conn.flow;
    conn.cork();
    try {
      for (;;) {
        const batch = link.queue.takeBatch(DEFAULT_MAX_BATCH_BYTES, force ? 'low' : writableThrough(flow, this.maxBytesInFlight));
        if (batch === null) break;
        this.stats.framesSent += batch.frames;
        this.stats.bytesSent += batch.bytes;
        flow.sent += batch.bytes;
        if (!conn.write(batch.chunks) && !force) break;
      }
    } finally {
      conn.uncork();
    }
  }
}
