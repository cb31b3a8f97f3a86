/**
 * The inter-node transport: one authenticated, ordered link per pair of
 * nodes, carrying small messages on named channels ('swim', 'actor', 'raft').
 *
 * Contract, common to every implementation (tcp, memory):
 *
 * - Links are keyed by the peer's advertised address (`host:port`). Sending to
 *   an address with no link queues the message and dials; an address that
 *   turns out to advertise another one is aliased to it.
 * - Delivery is in order per link and channel, and at most once. Each
 *   channel has a priority class (channel-priority.ts: 'swim' and 'rpc'
 *   high, 'raft' normal, 'raft-snapshot' low, others normal); a frame of a
 *   higher class may overtake frames of lower classes queued before it, so
 *   order between channels holds only within one class. A link that goes
 *   down loses what was in flight; frames still queued survive and go out on
 *   the next link to the same address. Reliable layers (Raft, remote actors
 *   with acknowledgements) retry on their own; membership tolerates loss.
 * - Backpressure is explicit: each link has a bounded queue of outbound
 *   frames per priority class, with a frame and a byte budget. When the
 *   class's queue is full, `send` drops the new frame, counts it in
 *   `framesDropped` (and in its channel's `channels[...].framesDropped`) and
 *   returns false. It never blocks and never throws for network reasons.
 * - A link is up only after both sides proved knowledge of the cluster cookie
 *   (see handshake.ts). Failures are events and counters, never exceptions:
 *   one bad peer cannot affect the links to other peers.
 */

import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Random } from '../protocol/random.js';
import { backoffPolicyProblem } from './backoff.js';
import { CHANNEL_PRIORITIES, isChannelPriority, type ChannelPriority } from './channel-priority.js';
import { parseAddress, type PortRange } from '../node-address.js';
import type { HostScan } from './port-scan.js';

/** Defined with node names (lib/node-address.ts); re-exported so transport users import them from here. */
export { formatAddress, parseAddress } from '../node-address.js';
export { CHANNEL_PRIORITIES, DEFAULT_CHANNEL_PRIORITIES, DEFAULT_CHANNEL_PRIORITY, DEFAULT_MAX_QUEUED_BYTES, channelPriority, type ChannelPriority } from './channel-priority.js';

/** Who is at the other end of a link, as the peer itself declared it in the handshake. */
export interface PeerIdentity {
  /** The node name, `name@host`; unique in the cluster. */
  name: string;
  /** The advertised address `host:port` that other nodes dial. */
  address: string;
  /** Increases every time the node restarts; tells a restarted peer from a reconnected one. */
  generation: number;
}

export type HandshakeFailureReason =
  | 'bad-cookie'
  | 'cluster-name'
  | 'protocol-version'
  | 'bad-frame'
  | 'frame-too-large'
  | 'timeout'
  | 'tls'
  | 'duplicate'
  | 'closed'
  /** Refused at accept: the source address opened connections faster than `acceptRateLimit` allows. */
  | 'rate-limited'
  /** Refused at accept: `maxPendingHandshakes` connections were already in their handshake. */
  | 'overloaded';

export const HANDSHAKE_FAILURE_REASONS: readonly HandshakeFailureReason[] = [
  'bad-cookie',
  'cluster-name',
  'protocol-version',
  'bad-frame',
  'frame-too-large',
  'timeout',
  'tls',
  'duplicate',
  'closed',
  'rate-limited',
  'overloaded',
];

export type TransportEvent =
  | { type: 'link-up'; peer: PeerIdentity }
  | { type: 'link-down'; peer: PeerIdentity; reason: string }
  | { type: 'handshake-failed'; remoteAddress: string; reason: HandshakeFailureReason; message: string }
  /** A dial to `address` failed before any handshake (refused, unreachable, timeout); retried with backoff while frames wait. */
  | { type: 'dial-failed'; address: string; message: string };

/** Why an established link was closed because of what the peer sent. */
export type FrameErrorReason = 'bad-frame' | 'frame-too-large';

/** Counters of one channel, all links together. */
export interface ChannelStats {
  /** Frames written to a connection, and their bytes including the 4-byte prefix. */
  framesSent: number;
  bytesSent: number;
  /** Frames refused because the link's queue for the channel's priority class was full. */
  framesDropped: number;
  /** Frames received and handed to the channel's handler, and their bytes including the prefix. */
  framesReceived: number;
  bytesReceived: number;
}

/** Plain monotonic counters since the transport was created. `stats()` returns a fresh copy. */
export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  /** Frame bytes including the 4-byte length prefix; TLS overhead not included. */
  bytesSent: number;
  bytesReceived: number;
  /** Frames refused by `send` because the link's queue for their priority class was full (send returned false). */
  framesDropped: number;
  /** Queued frames given up: the peer stayed unreachable past `giveUpAfterMs`, or the transport stopped. */
  framesDiscarded: number;
  /** Frames received on a channel that has no handler. */
  framesUnrouted: number;
  /** Message handlers that threw; the link stays up. */
  handlerErrors: number;
  /** Handshakes that did not produce a link, by reason. Duplicate links closed by the tie-break are not failures. */
  handshakeFailures: Record<HandshakeFailureReason, number>;
  /** Established links closed because the peer sent an undecodable or oversized frame. */
  frameErrors: Record<FrameErrorReason, number>;
  /** Connections closed by the simultaneous-dial tie-break (not failures). */
  duplicatesClosed: number;
  linksUp: number;
  linksDown: number;
  /** Links established to an address that had a link before (a reconnect after a loss or a peer restart). */
  reconnects: number;
  /** Dials that never reached the handshake (refused, unreachable, connect timeout). */
  dialFailures: number;
  /**
   * Per channel: every channel this node sent on, and every channel with a handler that received (a frame on
   * a channel without a handler is only counted in `framesUnrouted`, so peers cannot grow this map).
   */
  channels: Record<string, ChannelStats>;
}

export interface LinkInfo {
  peer: PeerIdentity;
  /** 'out' when this node dialed the connection. */
  direction: 'in' | 'out';
  /** Frames waiting in this link's outbound queues, all classes. */
  queuedFrames: number;
  /** Bytes waiting in this link's outbound queues, all classes, prefixes included. */
  queuedBytes: number;
  /** What each priority class's queue holds. */
  queued: Record<ChannelPriority, { frames: number; bytes: number }>;
  /** Wall-clock time (ms since the epoch) when the link came up; for display only. */
  connectedAt: number;
}

export interface Transport {
  /** Listens. Idempotent: later calls return the first call's result. The address is the advertised one. */
  start(opts?: { signal?: AbortSignal }): Promise<{ address: string; port: number }>;
  /**
   * Queues `payload` (anything msgpack encodes) for the node at `to` (`host:port`), dialing when there is
   * no link. Returns false when the frame was dropped because the link's queue is full (counted in
   * `framesDropped`), or not queued at all because the transport is stopped or `to` is this node's own or
   * a malformed address (counted in `framesDiscarded`). Throws `FrameError` only for a caller bug: a payload
   * larger than `maxFrameBytes`, or an empty or reserved channel.
   */
  send(to: string, channel: string, payload: unknown): boolean;
  /**
   * Writes the frames queued so far now instead of at the end of this event-loop turn. For replies
   * whose latency matters (SWIM acks) when the rest of the turn may be long (a busy HTTP facade).
   * Backpressure still applies: a link whose socket is full keeps its queue.
   */
  flush?(): void;
  /** One handler per channel; a later registration replaces the earlier one. Channels starting with '$' are reserved. */
  onMessage(channel: string, handler: (from: PeerIdentity, payload: unknown) => void): void;
  onEvent(handler: (event: TransportEvent) => void): void;
  links(): LinkInfo[];
  /**
   * The address `address` is known as: the advertised address of the node a
   * dial to it reached (`10.0.0.5:9100` → `n1.svc:9100`), this node's own
   * address for another spelling of it, else `address` itself. Learnt from
   * handshakes, so it is exact only once the address has been dialed.
   */
  resolve(address: string): string;
  stats(): TransportStats;
  /**
   * The troupe nodes listening on `host` in `range`, by the hello each sends first (port-scan.ts): how
   * `name@host` without a port is resolved. Needs no start(); never rejects (a host that does not
   * resolve is `error`). Under mutual TLS it presents this node's certificate.
   */
  scan(host: string, range: PortRange, options?: { signal?: AbortSignal }): Promise<HostScan>;
  /** Idempotent. Flushes queued frames on established links (bounded wait), then closes links and the listener. */
  stop(): Promise<void>;
}

export interface TransportOptions {
  self: { name: string; generation: number };
  /** `host:port` that other nodes dial; a port of 0 is replaced with the bound port. */
  advertisedAddress: string;
  bindHost: string;
  /** Listening port (0 picks any free one), or a range whose first free port is taken (CLUSTER_PORT_RANGE). */
  port: number | PortRange;
  /** Nodes of different clusters on one network refuse each other. */
  clusterName: string;
  /** Shared secret of the cluster; never sent on the wire. */
  cookie: string;
  /**
   * Mutual TLS. Both sides present a certificate signed by the CA in `caFile` and verify the other's.
   * Host names are not checked: a node's identity is established by the CA (it is one of ours) plus the
   * cookie handshake (it is in this cluster), not by DNS.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /**
   * Largest frame, prefix excluded, in bytes. A peer that announces a larger frame is disconnected before
   * its body is buffered, so this bounds the memory one link can pin. Outbound payloads above it throw.
   * @default 8 MiB (DEFAULT_MAX_FRAME_BYTES)
   */
  maxFrameBytes?: number;
  /**
   * Frame bound of each priority class's outbound queue on each link. When full, `send` drops the new frame and
   * returns false. Higher absorbs longer bursts and outages; memory is bounded by `maxQueuedBytes` as well.
   * @default 10000 (DEFAULT_MAX_QUEUED_FRAMES)
   */
  maxQueuedFrames?: number;
  /**
   * Byte bound (prefixes included) of each priority class's outbound queue on each link; classes not given
   * keep their default. A frame that would take its class past the bound is dropped like one beyond
   * `maxQueuedFrames`; one larger than the bound is always dropped, so keep each at least `maxFrameBytes` for
   * the channels that send frames that large.
   * @default { high: 8 MiB, normal: 64 MiB, low: 32 MiB } (DEFAULT_MAX_QUEUED_BYTES)
   */
  maxQueuedBytes?: Partial<Record<ChannelPriority, number>>;
  /**
   * Frame bytes of the 'normal' and 'low' classes that may be written to a connection and not yet credited by
   * the peer (flow-control.ts). A 'high' frame waits behind at most this much bulk data; a bulk stream reaches
   * at most this much per round trip. Raise it on long, fast links.
   * @default 1 MiB (DEFAULT_MAX_BYTES_IN_FLIGHT)
   */
  maxBytesInFlight?: number;
  /**
   * Priority class of channels, over DEFAULT_CHANNEL_PRIORITIES (swim and rpc high, raft normal,
   * raft-snapshot low); a channel named nowhere is 'normal'. See channel-priority.ts.
   */
  channelPriorities?: Record<string, ChannelPriority>;
  /**
   * Time for the TLS and cookie handshakes of a connection, and for an outbound TCP connect, in ms.
   * @default 5000 (DEFAULT_HANDSHAKE_TIMEOUT_MS)
   */
  handshakeTimeoutMs?: number;
  /**
   * Redial delays while frames are queued for an unreachable peer (see backoff.ts).
   * @default { baseMs: 100, maxMs: 5000 }
   */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * How long an address may stay unreachable, with frames queued for it, before they are discarded
   * (counted in `framesDiscarded`) and redialling stops until the next `send`. Bounds the work spent on a
   * node that left for good; membership decides liveness, not the transport.
   * @default 30000 (DEFAULT_GIVE_UP_AFTER_MS)
   */
  giveUpAfterMs?: number;
  /**
   * Inbound connections each source address (host, any port) may open: `burst` at once, then
   * `refillPerSecond` per second. Connections beyond are closed at accept and counted as `rate-limited`.
   * A peer opens one connection per link, so only floods and reconnect loops meet the limit.
   * @default { burst: 20, refillPerSecond: 5 } (DEFAULT_ACCEPT_BURST, DEFAULT_ACCEPT_REFILL_PER_SECOND)
   */
  acceptRateLimit?: { burst: number; refillPerSecond: number };
  /**
   * Inbound connections allowed in their handshake at once; more are closed at accept and counted as
   * `overloaded`, so a flood cannot pin memory. @default 256 (DEFAULT_MAX_PENDING_HANDSHAKES)
   */
  maxPendingHandshakes?: number;
  /** Draws the backoff jitter. Nonces come from node:crypto, never from this. */
  random: Random;
  log: Logger;
}

/** @default 8 MiB: fits a large Raft append or snapshot chunk; larger payloads should be chunked by the caller. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** @default 10000 frames: several seconds of membership and actor traffic to one peer. */
export const DEFAULT_MAX_QUEUED_FRAMES = 10_000;
/** @default 5000 ms: a handshake is two round trips; 5 s tolerates a loaded peer, yet frees a stalled socket. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/** @default 30000 ms: longer than the default failure-detection timeout, so a peer declared down is not dialled forever. */
export const DEFAULT_GIVE_UP_AFTER_MS = 30_000;
/** @default 256 handshakes: a cluster's worth of simultaneous (re)connects, a few MB of buffers at most. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 256;
/**
 * @default 60000 ms: a misbehaving peer (wrong cookie, bad frames, refused connections) is logged once per
 * reason and direction per minute, with the count of what was left out; the metrics count every event.
 */
export const PEER_LOG_INTERVAL_MS = 60_000;
/** @default 1000 peers logged apart per interval; beyond, one line stands for all the others. */
export const PEER_LOG_MAX_KEYS = 1000;

/** Counters all at zero. */
export function emptyStats(): TransportStats {
  const handshakeFailures = {} as Record<HandshakeFailureReason, number>;
  for (const reason of HANDSHAKE_FAILURE_REASONS) handshakeFailures[reason] = 0;
  return {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesDropped: 0,
    framesDiscarded: 0,
    framesUnrouted: 0,
    handlerErrors: 0,
    handshakeFailures,
    frameErrors: { 'bad-frame': 0, 'frame-too-large': 0 },
    duplicatesClosed: 0,
    linksUp: 0,
    linksDown: 0,
    reconnects: 0,
    dialFailures: 0,
    channels: {},
  };
}

export function emptyChannelStats(): ChannelStats {
  return { framesSent: 0, bytesSent: 0, framesDropped: 0, framesReceived: 0, bytesReceived: 0 };
}

export function copyStats(stats: TransportStats): TransportStats {
  const channels: Record<string, ChannelStats> = {};
  for (const [channel, counters] of Object.entries(stats.channels)) channels[channel] = { ...counters };
  return { ...stats, handshakeFailures: { ...stats.handshakeFailures }, frameErrors: { ...stats.frameErrors }, channels };
}

/** Channels starting with '$' carry the transport's own messages (the handshake). */
export function isReservedChannel(channel: string): boolean {
  return channel.startsWith('$');
}

function validRange(range: PortRange): boolean {
  return Number.isInteger(range.first) && Number.isInteger(range.last) && range.first >= 1 && range.first <= range.last && range.last <= 65535;
}

/** Throws ConfigError naming the first invalid option. The factories call it. */
export function validateTransportOptions(opts: TransportOptions): void {
  const positiveInteger = (value: number | undefined, max: number): boolean => value === undefined || (Number.isSafeInteger(value) && value >= 1 && value <= max);
  if (typeof opts.self.name !== 'string' || opts.self.name.length === 0) throw new ConfigError('self.name', opts.self.name, 'a non-empty node name');
  if (!Number.isSafeInteger(opts.self.generation) || opts.self.generation < 0) throw new ConfigError('self.generation', opts.self.generation, 'an integer >= 0');
  if (parseAddress(opts.advertisedAddress) === null) throw new ConfigError('advertisedAddress', opts.advertisedAddress, 'host:port, the address other nodes dial');
  if (typeof opts.port === 'number' ? !Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535 : !validRange(opts.port)) {
    throw new ConfigError('port', JSON.stringify(opts.port), 'an integer in [0, 65535], or a range { first, last } of ports from 1 to 65535');
  }
  if (opts.cookie.length === 0) throw new ConfigError('cookie', '(empty)', 'the cluster\'s shared secret: set COOKIE');
  if (!positiveInteger(opts.maxFrameBytes, 0xffff_ffff)) throw new ConfigError('maxFrameBytes', opts.maxFrameBytes, 'an integer in [1, 4294967295]');
  if (!positiveInteger(opts.maxQueuedFrames, Number.MAX_SAFE_INTEGER)) throw new ConfigError('maxQueuedFrames', opts.maxQueuedFrames, 'an integer >= 1');
  if (!positiveInteger(opts.maxBytesInFlight, Number.MAX_SAFE_INTEGER)) throw new ConfigError('maxBytesInFlight', opts.maxBytesInFlight, 'an integer number of bytes >= 1');
  for (const [priority, bytes] of Object.entries(opts.maxQueuedBytes ?? {})) {
    if (!(CHANNEL_PRIORITIES as readonly string[]).includes(priority)) throw new ConfigError('maxQueuedBytes', priority, `a priority class: one of ${CHANNEL_PRIORITIES.join(', ')}`);
    if (!positiveInteger(bytes, Number.MAX_SAFE_INTEGER)) throw new ConfigError(`maxQueuedBytes.${priority}`, bytes, 'an integer number of bytes >= 1');
  }
  for (const [channel, priority] of Object.entries(opts.channelPriorities ?? {})) {
    if (!isChannelPriority(priority)) throw new ConfigError(`channelPriorities.${channel}`, String(priority), `a priority class: one of ${CHANNEL_PRIORITIES.join(', ')}`);
  }
  if (!positiveInteger(opts.handshakeTimeoutMs, 2 ** 31 - 1)) throw new ConfigError('handshakeTimeoutMs', opts.handshakeTimeoutMs, 'an integer number of ms >= 1');
  if (!positiveInteger(opts.maxPendingHandshakes, Number.MAX_SAFE_INTEGER)) throw new ConfigError('maxPendingHandshakes', opts.maxPendingHandshakes, 'an integer >= 1');
  const rate = opts.acceptRateLimit;
  if (rate !== undefined && !(Number.isSafeInteger(rate.burst) && rate.burst >= 1 && Number.isFinite(rate.refillPerSecond) && rate.refillPerSecond > 0)) {
    throw new ConfigError('acceptRateLimit', JSON.stringify(rate), 'burst an integer >= 1 and refillPerSecond a number > 0');
  }
  if (opts.giveUpAfterMs !== undefined && !(Number.isFinite(opts.giveUpAfterMs) && opts.giveUpAfterMs >= 0)) {
    throw new ConfigError('giveUpAfterMs', opts.giveUpAfterMs, 'a number of ms >= 0');
  }
  const backoffProblem = opts.backoff === undefined ? null : backoffPolicyProblem(opts.backoff);
  if (backoffProblem !== null) throw new ConfigError('backoff', JSON.stringify(opts.backoff), backoffProblem);
}
