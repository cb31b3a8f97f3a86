/**
 * Flow control of an established connection: how many frame bytes of the
 * 'normal' and 'low' classes may be on their way to the peer at once.
 *
 * Why: the socket's userspace buffer is kept short by backpressure
 * (link-set.ts), but the kernel's send and receive buffers are not ours to
 * size from Node and grow to several MB on a fast link. A bulk stream fills
 * them, and a SWIM ack written after it waits until they drain: 4 MB ahead
 * is about 7 ms at 600 MB/s, and far more on a slower link. So the sender
 * counts the frame bytes it has written on the connection (`sent`), the
 * receiver counts those it has handed to handlers (`received`) and, every
 * quarter window, tells the sender with a credit frame on the reserved
 * '$credit' channel carrying its total. The sender writes bulk classes only
 * while `sent - acked` is below the window; 'high' frames are always written
 * (and counted). A high frame thus has at most one window of bulk bytes
 * ahead of it anywhere between the two event loops, plus one batch.
 *
 * Cost: bulk throughput per link is at most window / round trip (1 MiB per
 * 1 ms ≈ 1 GB/s; on a 50 ms WAN link, 20 MB/s); raise `maxBytesInFlight`
 * for long fat links, at the price of that much head-of-line delay.
 *
 * No deadlock: credit frames are written directly, ignoring the window and
 * the queues, and a connection is reliable, so every byte received is
 * eventually credited. Credit frames themselves are not counted on either
 * side. State is per connection; a new connection starts from zero.
 *
 * Pure: no I/O.
 */

import type { ChannelPriority } from './channel-priority.js';

/** Reserved channel of credit frames; the payload is the receiver's total of frame bytes received. */
export const CREDIT_CHANNEL = '$credit';

/**
 * @default 1 MiB: a SWIM ack waits behind at most this much bulk data (under 2 ms at 600 MB/s on loopback,
 * about 1 ms at 10 Gbit/s), while a bulk stream still reaches about window / RTT (1 GB/s at 1 ms).
 */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 1024 * 1024;

export interface ConnectionFlow {
  /** Frame bytes (prefixes included) written on the connection since it came up, credit frames excluded. */
  sent: number;
  /** The peer's latest credit: frame bytes it has received from us. */
  acked: number;
  /** Frame bytes received from the peer since the connection came up, credit frames excluded. */
  received: number;
  /** The `received` total last credited to the peer. */
  credited: number;
}

export function newConnectionFlow(): ConnectionFlow {
  return { sent: 0, acked: 0, received: 0, credited: 0 };
}

/** The lowest class the writer may take from now: bulk classes only while the window has room. */
export function writableThrough(flow: ConnectionFlow, maxBytesInFlight: number): ChannelPriority {
  return flow.sent - flow.acked < maxBytesInFlight ? 'low' : 'high';
}

/** Records `frameBytes` received; returns the total to credit when a quarter window has accumulated, else null. */
export function receivedBytes(flow: ConnectionFlow, frameBytes: number, maxBytesInFlight: number): number | null {
  flow.received += frameBytes;
  if (flow.received - flow.credited < maxBytesInFlight / 4) return null;
  flow.credited = flow.received;
  return flow.received;
}

/** Applies a credit frame's payload; false when it is not a credit (not a number, or not above the last). */
export function applyCredit(flow: ConnectionFlow, payload: unknown): boolean {
  if (typeof payload !== 'number' || !Number.isFinite(payload) || payload <= flow.acked) return false;
  flow.acked = payload;
  return true;
}
