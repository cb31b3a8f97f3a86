/**
 * Settings of one Raft group's core, with validated, documented defaults.
 * All durations are monotonic milliseconds, all sizes bytes of entry payload.
 *
 * The timing rule of Raft (thesis §3.4): broadcastTime ≪ electionTimeout ≪
 * MTBF. Heartbeats must reach followers several times per election timeout
 * or followers start elections under a healthy leader; the election timeout
 * is drawn anew, uniformly from [min, max), each time a node resets it, so
 * that split votes are rare (thesis §9.3 measured that a spread of about the
 * minimum makes them so).
 */
import { firstNotIntegerAtLeast } from '../config-rules.js';

export interface RaftConfig {
  /**
   * Lower bound of the randomized election timeout. A follower that hears
   * nothing from a leader for its timeout campaigns; a leader with
   * checkQuorum steps down if a majority has not answered within this long.
   * Shorter detects a dead leader sooner and risks elections during event-loop
   * stalls or GC pauses. Must be at least 2 × heartbeatIntervalMs.
   * @default 1000
   */
  electionTimeoutMinMs: number;
  /**
   * Upper bound (exclusive) of the randomized election timeout. The spread
   * max − min separates candidates; about one minimum is enough (thesis §9.3).
   * @default 2000
   */
  electionTimeoutMaxMs: number;
  /**
   * Period of the leader's heartbeats (empty appends carrying the commit
   * index and the latest ReadIndex context). Also the retry period of a
   * probe or snapshot chunk that got no answer. Shorter confirms reads and
   * repairs loss sooner at the cost of one message per follower per period
   * (per node pair once the shell coalesces groups).
   * @default 100
   */
  heartbeatIntervalMs: number;
  /**
   * Pre-vote (thesis §9.6): before raising its term a node asks whether a
   * majority would vote for it, so a node rejoining after a partition cannot
   * depose a healthy leader by its higher term. @default true
   */
  preVote: boolean;
  /**
   * Check-quorum (thesis §6.2): a leader steps down if a majority of voters
   * has not answered it within electionTimeoutMinMs, and a follower that
   * heard from its leader within that time ignores vote requests (thesis
   * §4.2.3) unless they carry a transfer's permission. @default true
   */
  checkQuorum: boolean;
  /**
   * Appends in flight per follower in the replicate state (pipelining).
   * More hides more round-trip latency and buffers more in the transport; on
   * a LAN a few suffice (hashicorp/raft#541 measured that 128 cut batch sizes
   * and hurt latency). @default 8
   */
  maxInflightAppends: number;
  /**
   * Bytes of entry payload in flight per follower. Bounds bandwidth × delay
   * per group: 8 MiB at 10 ms RTT allows ~800 MB/s. 0 disables the bound.
   * @default 8388608 (8 MiB)
   */
  maxInflightBytes: number;
  /**
   * Payload bytes per append message (at least one entry is always sent).
   * Small makes probing cheap and keeps heartbeats timely behind appends;
   * large batches more (LogCabin caps appends at 1 MiB). @default 1048576
   */
  maxBytesPerAppend: number;
  /**
   * Payload bytes a leader accepts beyond its commit index; proposals past it
   * are refused (uncommitted-limit) until entries commit. Bounds the log of a
   * leader that has lost its quorum while clients retry (etcd#10167). A
   * single proposal is always accepted when nothing is uncommitted.
   * @default 16777216 (16 MiB)
   */
  maxUncommittedBytes: number;
  /**
   * Applied entries since the last snapshot after which the core asks the
   * shell for a snapshot (event `snapshot-due`). Larger logs cost memory
   * (the core keeps the uncompacted log) and replay time at restart; small
   * values snapshot the state machine often. @default 8192
   */
  snapshotThresholdEntries: number;
  /**
   * Entries kept before a new snapshot's index, so that a follower a little
   * behind catches up from the log rather than a whole snapshot. It must
   * exceed what the leader appends while a slow follower receives a snapshot,
   * or that follower needs a new snapshot forever (consul#9609). @default 2048
   */
  snapshotTrailingEntries: number;
  /**
   * Bytes per snapshot chunk. One chunk is in flight per follower and each
   * counts as a heartbeat (thesis §5.3). @default 1048576
   */
  snapshotChunkBytes: number;
}

export const DEFAULT_ELECTION_TIMEOUT_MIN_MS = 1000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 100;

export function defaultRaftConfig(): RaftConfig {
  return {
    electionTimeoutMinMs: DEFAULT_ELECTION_TIMEOUT_MIN_MS, // ten heartbeats: a lost heartbeat or two never starts an election
    electionTimeoutMaxMs: 2 * DEFAULT_ELECTION_TIMEOUT_MIN_MS, // a spread of one minimum makes split votes rare (thesis §9.3)
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS, // ReadIndex latency is about one of these
    preVote: true,
    checkQuorum: true,
    maxInflightAppends: 8, // a few round trips of pipelining; more only fills buffers on a LAN
    maxInflightBytes: 8 * 1024 * 1024,
    maxBytesPerAppend: 1024 * 1024, // a heartbeat never waits behind more than ~1 MiB
    maxUncommittedBytes: 16 * 1024 * 1024,
    snapshotThresholdEntries: 8192,
    snapshotTrailingEntries: 2048,
    snapshotChunkBytes: 1024 * 1024,
  };
}

/** Fast timers for tests and the simulator (same ratios as the defaults). */
export function localTestRaftConfig(): RaftConfig {
  return { ...defaultRaftConfig(), electionTimeoutMinMs: 100, electionTimeoutMaxMs: 200, heartbeatIntervalMs: 10 };
}

/**
 * The first rule `config` breaks, as `{ field, rule }`, or null when valid:
 * durations and sizes are positive integers (maxInflightBytes may be 0);
 * electionTimeoutMinMs ≥ 2 × heartbeatIntervalMs; electionTimeoutMaxMs >
 * electionTimeoutMinMs; preVote and checkQuorum are booleans.
 */
export function validateRaftConfig(config: RaftConfig): { field: keyof RaftConfig; rule: string } | null {
  const positive: (keyof RaftConfig)[] = [
    'electionTimeoutMinMs', 'electionTimeoutMaxMs', 'heartbeatIntervalMs', 'maxInflightAppends', 'maxBytesPerAppend',
    'maxUncommittedBytes', 'snapshotThresholdEntries', 'snapshotChunkBytes',
  ];
  const notPositive = firstNotIntegerAtLeast(config, positive, 1);
  if (notPositive !== undefined) return { field: notPositive, rule: 'must be a positive integer' };
  const negative = firstNotIntegerAtLeast(config, ['maxInflightBytes', 'snapshotTrailingEntries'], 0);
  if (negative !== undefined) return { field: negative, rule: 'must be a non-negative integer' };
  for (const field of ['preVote', 'checkQuorum'] as const) {
    if (typeof config[field] !== 'boolean') return { field, rule: 'must be true or false' };
  }
  if (config.electionTimeoutMinMs < 2 * config.heartbeatIntervalMs) {
    return { field: 'electionTimeoutMinMs', rule: 'must be at least 2 × heartbeatIntervalMs (followers must hear several heartbeats per timeout)' };
  }
  if (config.electionTimeoutMaxMs <= config.electionTimeoutMinMs) {
    return { field: 'electionTimeoutMaxMs', rule: 'must be greater than electionTimeoutMinMs (the spread is what separates candidates)' };
  }
  return null;
}
