/**
 * Settings of the subscription spread (spread.ts), with the memory they bound.
 *
 * Every node keeps its own subscriptions and a view of every live peer's, so
 * the worst-case memory of views on one node is
 * `(peers) · maxSubscriptionsPerNode · (topic + subscriber id bytes)`; a
 * peer that advertises more than the limits allow is cut at them (the excess
 * is counted, never stored). Every node runs the same limits, so a healthy
 * peer never meets the cut.
 */
import { ConfigError } from '../../errors.js';
import { firstNotIntegerAtLeast } from '../config-rules.js';

export interface SpreadConfig {
  /**
   * Period of the digest each node sends every peer: its epoch and version,
   * a few bytes. A peer whose view is behind asks for a full sync, so the
   * digest repairs what a dropped delta or sync left wrong, at the cost of
   * one small frame per peer per period. Shorter repairs sooner.
   * @default 2000 (DEFAULT_DIGEST_INTERVAL_MS)
   */
  digestIntervalMs: number;
  /**
   * Topics with at least one subscriber on one node; a subscribe that would
   * open one more is refused (TopicLimitError) and a peer's view is cut here.
   * @default 10000 (DEFAULT_MAX_TOPICS_PER_NODE)
   */
  maxTopicsPerNode: number;
  /**
   * (topic, subscriber) pairs on one node, all topics together; a subscribe
   * beyond is refused and a peer's view is cut here. With topic names of at
   * most 128 characters and actor paths of about 64, a full view of one peer
   * takes about 20 MB at the limit.
   * @default 100000 (DEFAULT_MAX_SUBSCRIPTIONS_PER_NODE)
   */
  maxSubscriptionsPerNode: number;
  /**
   * Subscriptions per sync message: a full set larger than this travels as
   * several parts, so one sync frame stays well below the transport's frame
   * limit (about 0.3 MB at 1000 pairs of the longest names).
   * @default 1000 (DEFAULT_SYNC_ENTRIES_PER_MESSAGE)
   */
  syncEntriesPerMessage: number;
}

/** @default 2000 ms: a lost delta is repaired within about two seconds; one tiny frame per peer per period. */
export const DEFAULT_DIGEST_INTERVAL_MS = 2_000;
/** @default 10000 topics per node. */
export const DEFAULT_MAX_TOPICS_PER_NODE = 10_000;
/** @default 100000 (topic, subscriber) pairs per node. */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_NODE = 100_000;
/** @default 1000 pairs per sync message. */
export const DEFAULT_SYNC_ENTRIES_PER_MESSAGE = 1_000;

export function defaultSpreadConfig(): SpreadConfig {
  return {
    digestIntervalMs: DEFAULT_DIGEST_INTERVAL_MS,
    maxTopicsPerNode: DEFAULT_MAX_TOPICS_PER_NODE,
    maxSubscriptionsPerNode: DEFAULT_MAX_SUBSCRIPTIONS_PER_NODE,
    syncEntriesPerMessage: DEFAULT_SYNC_ENTRIES_PER_MESSAGE,
  };
}

/** Throws ConfigError naming the first setting that is not a positive integer. */
export function validateSpreadConfig(config: SpreadConfig): SpreadConfig {
  const bad = firstNotIntegerAtLeast(config, ['digestIntervalMs', 'maxTopicsPerNode', 'maxSubscriptionsPerNode', 'syncEntriesPerMessage'], 1);
  if (bad !== undefined) throw new ConfigError(`pubsub.${bad}`, config[bad], 'a positive integer');
  return config;
}
