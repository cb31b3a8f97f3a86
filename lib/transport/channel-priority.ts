/**
 * Priority classes of channels: which frames of a link leave first.
 *
 * Each link keeps one bounded queue per class (link-queues.ts). The writer
 * always takes from the highest class that has frames, one batch at a time,
 * and writes only while the socket accepts (see link-set.ts), so frames of a
 * lower class wait in our queue, where a later frame of a higher class can
 * still overtake them, and not in the socket's buffer, where it cannot. A
 * frame of a higher class therefore waits at most for one batch (or one large
 * frame) already handed to the socket, plus what the kernel holds.
 *
 * Classes, highest first:
 * - 'high': failure detection and control (SWIM probes and acks, rpc). Late
 *   acks make healthy nodes suspect, so they must not queue behind bulk data.
 * - 'normal': Raft appends and votes, actor messages, pub/sub (publish frames
 *   and subscription gossip, whose order on one link the spread relies on),
 *   any channel not listed.
 * - 'low': bulk transfers (snapshot chunks): large, and nobody waits on one
 *   chunk in particular.
 *
 * Order is kept per link and channel, and between channels of one class;
 * frames of different classes may be reordered. A class can starve the ones
 * below it, by design: a link that cannot carry its SWIM traffic has bigger
 * problems than a late snapshot.
 *
 * Pure: no imports.
 */

export type ChannelPriority = 'high' | 'normal' | 'low';

/** The classes in the order the writer drains them. */
export const CHANNEL_PRIORITIES: readonly ChannelPriority[] = ['high', 'normal', 'low'];

/**
 * @default swim and rpc high; raft, actor and pubsub normal; raft-snapshot and bulk low. Channels not named here are
 * 'normal'. `TransportOptions.channelPriorities` adds to or overrides these.
 */
export const DEFAULT_CHANNEL_PRIORITIES: Readonly<Record<string, ChannelPriority>> = Object.freeze({
  swim: 'high',
  rpc: 'high',
  raft: 'normal',
  actor: 'normal',
  pubsub: 'normal',
  'raft-snapshot': 'low',
  bulk: 'low',
});

/** The class of a channel no table names. */
export const DEFAULT_CHANNEL_PRIORITY: ChannelPriority = 'normal';

const MIB = 1024 * 1024;

/**
 * Byte budget of each class's queue on one link, prefixes included. Each must hold at least one frame of
 * the largest size that class carries; a frame larger than its class's budget is always dropped.
 * - high, 8 MiB: one maximal frame, or about 40,000 SWIM messages: far more than a healthy link ever queues.
 * - normal, 64 MiB: Raft's in-flight window to one peer (maxInflight × maxSizePerMsg) with room to spare.
 * - low, 32 MiB: a few snapshot chunks of DEFAULT_CHUNK_BYTES, or four maximal frames; a bulk sender paces itself.
 * Worst case per peer: the sum, 104 MiB, and only while that peer is slower than this node's senders.
 */
export const DEFAULT_MAX_QUEUED_BYTES: Readonly<Record<ChannelPriority, number>> = Object.freeze({
  high: 8 * MIB,
  normal: 64 * MIB,
  low: 32 * MIB,
});

export function isChannelPriority(value: unknown): value is ChannelPriority {
  return value === 'high' || value === 'normal' || value === 'low';
}

/** The class of `channel`: `overrides`, then DEFAULT_CHANNEL_PRIORITIES, then DEFAULT_CHANNEL_PRIORITY. */
export function channelPriority(channel: string, overrides: Readonly<Record<string, ChannelPriority>> = {}): ChannelPriority {
  if (Object.hasOwn(overrides, channel)) return overrides[channel]!;
  if (Object.hasOwn(DEFAULT_CHANNEL_PRIORITIES, channel)) return DEFAULT_CHANNEL_PRIORITIES[channel]!;
  return DEFAULT_CHANNEL_PRIORITY;
}
