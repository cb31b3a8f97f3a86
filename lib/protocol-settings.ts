/**
 * The protocol cores' settings, derived from the operator's configuration in
 * one place: SWIM from HEARTBEAT_INTERVAL and HEARTBEAT_TIMEOUT, seed retry
 * from HEARTBEAT_INTERVAL, Raft from RAFT_ELECTION_TIMEOUT and
 * RAFT_HEARTBEAT_INTERVAL. The cores validate; a bad combination names the
 * settings the operator set.
 */
import type { TroupeConfig } from './config.js';
import { ConfigError } from './errors.js';
import type { SeedRetryConfig } from './protocol/seed-retry.js';
import { defaultRaftConfig, validateRaftConfig, type RaftConfig } from './protocol/raft/config.js';
import { defaultSwimConfig, validateSwimConfig, type SwimConfig } from './protocol/swim/config.js';

/** First seed retry delay, ms, unless HEARTBEAT_INTERVAL is shorter: a seed that appears is found within a second. */
export const SEED_RETRY_BASE_MS = 1_000;
/** Longest seed retry delay, ms: bounds how long a returning seed waits to be found, and the dials to a dead one. */
export const SEED_RETRY_MAX_MS = 30_000;

/** The SWIM settings derived from HEARTBEAT_INTERVAL and HEARTBEAT_TIMEOUT, validated with the rule named. */
export function swimConfigFor(config: TroupeConfig): SwimConfig {
  const swim = defaultSwimConfig(config.heartbeatIntervalMs, config.heartbeatTimeoutMs);
  const problem = validateSwimConfig(swim);
  if (problem) throw new ConfigError('HEARTBEAT_INTERVAL/HEARTBEAT_TIMEOUT', `${config.heartbeatIntervalMs}/${config.heartbeatTimeoutMs}`, `derived ${problem.field} ${problem.rule}`);
  return swim;
}

/** Raft timers from RAFT_ELECTION_TIMEOUT (the upper bound twice it) and RAFT_HEARTBEAT_INTERVAL, validated. */
export function raftConfigFor(config: TroupeConfig): RaftConfig {
  const raft = { ...defaultRaftConfig(), electionTimeoutMinMs: config.raftElectionTimeoutMs, electionTimeoutMaxMs: 2 * config.raftElectionTimeoutMs, heartbeatIntervalMs: config.raftHeartbeatIntervalMs };
  const problem = validateRaftConfig(raft);
  if (problem) throw new ConfigError('RAFT_ELECTION_TIMEOUT/RAFT_HEARTBEAT_INTERVAL', `${config.raftElectionTimeoutMs}/${config.raftHeartbeatIntervalMs}`, `derived ${problem.field} ${problem.rule}`);
  return raft;
}

export function seedRetryConfigFor(config: TroupeConfig): SeedRetryConfig {
  return { baseDelayMs: Math.min(SEED_RETRY_BASE_MS, config.heartbeatIntervalMs), maxDelayMs: SEED_RETRY_MAX_MS };
}
