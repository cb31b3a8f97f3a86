/**
 * Timing and fan-out settings of the SWIM membership core, and the pure
 * formulas that derive them from the two operator settings,
 * HEARTBEAT_INTERVAL (the protocol period) and HEARTBEAT_TIMEOUT (how long an
 * unresponsive node stays suspect before it is declared down).
 *
 * Every derived value comes from a small named function so the rule is
 * tested from a table and stated once. All durations are monotonic
 * milliseconds.
 */
import { firstNotIntegerAtLeast } from '../config-rules.js';

export interface SwimConfig {
  /**
   * Length of one protocol period: every period the node probes one member
   * (round-robin over a shuffled list). Shorter finds failures sooner and
   * costs one ping/ack pair per node per period. Env HEARTBEAT_INTERVAL.
   * @default 5000
   */
  probeIntervalMs: number;
  /**
   * How long a member stays suspect before this node declares it down, unless
   * it refutes. Counted from the moment this node learns of the suspicion.
   * Longer tolerates slower refutations (event-loop stalls, lossy links) at
   * the cost of later detection; a dead node is down after about this plus one
   * or two probe periods. Must exceed probeIntervalMs. Env HEARTBEAT_TIMEOUT.
   * @default 10000
   */
  suspicionTimeoutMs: number;
  /**
   * How long to wait for the direct ack before asking `indirectProbes` other
   * members to probe the target for us (SWIM §3.1). Must exceed the network
   * round trip plus the target's usual event-loop lag; too long leaves less of
   * the period for the indirect probe. Formula: {@link probeTimeout}.
   * @default 1000 (for a 5000 ms period)
   */
  probeTimeoutMs: number;
  /**
   * k: how many members relay an indirect probe. More relays make a false
   * suspicion from one lossy path less likely (each relay is an independent
   * path) at the cost of k ping-req + k ping + k ack messages per failed probe.
   * @default 3
   */
  indirectProbes: number;
  /**
   * Period of the extra gossip round that sends queued membership changes to
   * `gossipFanout` random members, besides piggybacking on probes. Shorter
   * spreads news faster and sends more messages while news is pending;
   * nothing is sent when the queue is empty. Formula: {@link gossipInterval}.
   * @default 200
   */
  gossipIntervalMs: number;
  /**
   * Members per gossip round. Dissemination takes about log_fanout(N) rounds.
   * @default 3
   */
  gossipFanout: number;
  /**
   * Each queued change is sent at most retransmitMult * ceil(log10(N + 1))
   * times ({@link retransmitLimit}). Higher makes a change reach every node
   * with higher probability under loss; lower saves bandwidth.
   * @default 4
   */
  retransmitMult: number;
  /**
   * Maximum membership records piggybacked on one message (fewest-transmitted
   * first). Bounds the message size (a record is about 60 bytes of msgpack);
   * a smaller value slows dissemination after large changes (a wave of joins).
   * @default 20
   */
  maxPiggyback: number;
  /**
   * Period of the full-state exchange (push-pull) with one random up member
   * and one random down member. It repairs whatever gossip missed, and merges
   * views after a partition heals or a down node comes back. Shorter repairs
   * sooner; each exchange carries the whole member list both ways.
   * @default 30000
   */
  pushPullIntervalMs: number;
  /**
   * How long a joining node waits for a sync reply from its seeds before it
   * declares itself up alone (a one-node cluster that merges later when a
   * seed answers). Formula: {@link joinTimeout}.
   * @default 5000 (one probe period)
   */
  joinTimeoutMs: number;
  /**
   * A step whose time is later than the wake-up the core asked for by more
   * than this is taken as an event-loop stall of this node: pending probe
   * deadlines move forward by the stall so that acks queued behind the stall
   * still count. Smaller reacts to shorter stalls; it should exceed the usual
   * timer jitter. Formula: {@link lagTolerance}.
   * @default 100
   */
  lagToleranceMs: number;
  /**
   * How long a member that went down keeps receiving gossip rounds (as
   * memberlist's GossipToTheDeadTime), so a node wrongly declared down learns
   * of it and refutes quickly. @default 30000 (the push-pull period)
   */
  gossipToTheDeadMs: number;
}

/** Default k of indirect probes (SWIM §3.1 uses a small constant). */
export const DEFAULT_INDIRECT_PROBES = 3;
/** Default gossip period, ms. */
export const DEFAULT_GOSSIP_INTERVAL_MS = 200;
/** Default gossip fan-out per round. */
export const DEFAULT_GOSSIP_FANOUT = 3;
/** Default retransmit multiplier (memberlist uses 4 on LANs). */
export const DEFAULT_RETRANSMIT_MULT = 4;
/** Default records per message. */
export const DEFAULT_MAX_PIGGYBACK = 20;
/** Default push-pull period, ms (memberlist's LAN value). */
export const DEFAULT_PUSH_PULL_INTERVAL_MS = 30_000;

/**
 * Direct-ack timeout for a probe period: a fifth of the period, between 10
 * and 1000 ms. It leaves four fifths of the period for the indirect probe.
 */
export function probeTimeout(probeIntervalMs: number): number {
  return Math.min(1000, Math.max(10, Math.round(probeIntervalMs / 5)));
}

/**
 * Times each change is (re)transmitted in a cluster of `clusterSize` nodes:
 * mult * ceil(log10(n + 1)), at least 1. Epidemic spread needs O(log n)
 * rounds for every node to hear a change with high probability.
 */
export function retransmitLimit(retransmitMult: number, clusterSize: number): number {
  const scale = Math.ceil(Math.log10(Math.max(0, clusterSize) + 1));
  return Math.max(1, retransmitMult * Math.max(1, scale));
}

/** Gossip period: the default 200 ms, but at most a fifth of the probe period (and at least 5 ms). */
export function gossipInterval(probeIntervalMs: number): number {
  return Math.max(5, Math.min(DEFAULT_GOSSIP_INTERVAL_MS, Math.round(probeIntervalMs / 5)));
}

/** Join timeout: one probe period. */
export function joinTimeout(probeIntervalMs: number): number {
  return probeIntervalMs;
}

/** Stall tolerance: a tenth of the probe timeout, between 5 and 100 ms. */
export function lagTolerance(probeTimeoutMs: number): number {
  return Math.min(100, Math.max(5, Math.round(probeTimeoutMs / 10)));
}

/**
 * The configuration derived from HEARTBEAT_INTERVAL (`intervalMs`) and
 * HEARTBEAT_TIMEOUT (`timeoutMs`). Returns a fresh object.
 */
export function defaultSwimConfig(intervalMs = 5000, timeoutMs = 10_000): SwimConfig {
  const probeTimeoutMs = probeTimeout(intervalMs);
  return {
    probeIntervalMs: intervalMs,
    suspicionTimeoutMs: timeoutMs,
    probeTimeoutMs, // leaves most of the period for the indirect probe
    indirectProbes: DEFAULT_INDIRECT_PROBES, // 3 independent paths make a false suspicion from loss rare
    gossipIntervalMs: gossipInterval(intervalMs), // news travels several hops per probe period
    gossipFanout: DEFAULT_GOSSIP_FANOUT,
    retransmitMult: DEFAULT_RETRANSMIT_MULT,
    maxPiggyback: DEFAULT_MAX_PIGGYBACK, // ~1.2 KB of records per message at most
    pushPullIntervalMs: Math.max(DEFAULT_PUSH_PULL_INTERVAL_MS, 2 * timeoutMs), // anti-entropy is a backstop, not the main path
    joinTimeoutMs: joinTimeout(intervalMs),
    lagToleranceMs: lagTolerance(probeTimeoutMs), // above timer jitter, below any stall that matters
    gossipToTheDeadMs: Math.max(DEFAULT_PUSH_PULL_INTERVAL_MS, 2 * timeoutMs),
  };
}

/**
 * The first rule `config` breaks, as `{ field, rule }`, or null when it is
 * valid. The rules: every duration and count is a positive integer (k may be
 * 0); probeTimeoutMs < probeIntervalMs < suspicionTimeoutMs.
 */
export function validateSwimConfig(config: SwimConfig): { field: keyof SwimConfig; rule: string } | null {
  const positive: (keyof SwimConfig)[] = [
    'probeIntervalMs', 'suspicionTimeoutMs', 'probeTimeoutMs', 'gossipIntervalMs', 'gossipFanout',
    'retransmitMult', 'maxPiggyback', 'pushPullIntervalMs', 'joinTimeoutMs', 'lagToleranceMs',
  ];
  const notPositive = firstNotIntegerAtLeast(config, positive, 1);
  if (notPositive !== undefined) return { field: notPositive, rule: 'must be a positive integer' };
  const negative = firstNotIntegerAtLeast(config, ['indirectProbes', 'gossipToTheDeadMs'], 0);
  if (negative !== undefined) return { field: negative, rule: 'must be a non-negative integer' };
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    return { field: 'probeTimeoutMs', rule: 'must be less than probeIntervalMs (the indirect probe needs the rest of the period)' };
  }
  if (config.suspicionTimeoutMs <= config.probeIntervalMs) {
    return { field: 'suspicionTimeoutMs', rule: 'must be greater than probeIntervalMs (HEARTBEAT_TIMEOUT must be > HEARTBEAT_INTERVAL)' };
  }
  return null;
}
