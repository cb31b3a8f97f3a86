/**
 * Reconnect delays: capped exponential backoff with full jitter.
 *
 * The ceiling for attempt n (0-based) is min(maxMs, baseMs * 2^n); the delay is
 * drawn uniformly from [0, ceiling). Full jitter spreads the redials of many
 * nodes that lost the same peer at the same moment (a restart, a partition
 * healing), so they do not arrive in lock-step; the expected delay is half
 * the ceiling, so the expected time spent waiting still doubles per attempt
 * until the cap. The shell counts attempts per peer and resets the count when
 * a link comes up.
 *
 * Pure: the randomness comes from the injected `Random`, so a seed replays.
 */

import type { Random } from '../protocol/random.js';

export interface BackoffPolicy {
  /** Ceiling of the first delay, in ms. Must be > 0. */
  baseMs: number;
  /** Largest ceiling, in ms; reached after log2(maxMs / baseMs) attempts. Must be >= baseMs. */
  maxMs: number;
}

/** @default 100 ms: the first redial of a lost link comes within 100 ms (50 ms on average). */
export const DEFAULT_BACKOFF_BASE_MS = 100;
/** @default 5000 ms: a peer that stays away is tried at least every 5 s (2.5 s on average). */
export const DEFAULT_BACKOFF_MAX_MS = 5_000;

/** Exponents above this no longer change the ceiling for any sane policy, and 2^n stays finite. */
const MAX_EXPONENT = 30;

/** The upper bound (exclusive) of the delay before attempt `attempt`: min(maxMs, baseMs * 2^attempt). */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), MAX_EXPONENT);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
}

/** The delay in whole ms before redial attempt `attempt` (0-based), uniform in [0, ceiling). */
export function nextBackoffMs(attempt: number, policy: BackoffPolicy, random: Random): number {
  return Math.floor(random.next() * backoffCeilingMs(attempt, policy));
}

/** Checks a policy; returns a description of the broken rule, or null when it is valid. */
export function backoffPolicyProblem(policy: BackoffPolicy): string | null {
  if (!Number.isFinite(policy.baseMs) || policy.baseMs <= 0) return 'backoff.baseMs must be a finite number > 0';
  if (!Number.isFinite(policy.maxMs) || policy.maxMs < policy.baseMs) return 'backoff.maxMs must be a finite number >= backoff.baseMs';
  return null;
}
