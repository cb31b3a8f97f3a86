/**
 * Pure timeout maths of suspicion and of local stalls.
 *
 * Suspicion (SWIM §4.2): a member that failed a probe, or that gossip says is
 * suspect, becomes suspect here with a local deadline; if it has not refuted
 * (raised its incarnation) by then, this node declares it down. Every node
 * counts from the moment it learns of the suspicion, so the first node to
 * suspect declares first and the others follow by gossip.
 *
 * Lag (Lifeguard-flavoured): acks report the member's event-loop lag. A
 * member that reported lag L gets L more before it is declared down, capped
 * at one more suspicion timeout so detection stays bounded; a deadline is
 * never shorter than suspicionTimeoutMs.
 *
 * Stalls: when this node's own event loop was blocked, its timers fire late
 * and, with libuv, before the I/O that queued up meanwhile. The rule chosen:
 *
 * - Probe deadlines (direct-ack timeout, end of the probe period, relayed
 *   probes) move forward by the whole stall: the probe was not given its time.
 * - Every other deadline (suspicions of other members, whoever raised them,
 *   and the join timeout) keeps its time but is floored at now + grace, so it
 *   cannot expire before the messages queued behind the stall (a refutation,
 *   a sync reply) are processed. They are not shifted by the stall: the
 *   healthy nodes' clocks kept running, and pushing our deadline back would
 *   only make this node lag behind a decision the cluster already takes on
 *   time. A stall therefore never makes this node suspect or declare anyone
 *   down that a healthy node would not.
 * - grace = min(probeTimeoutMs, 50): one short wake, long enough for the
 *   shell to drain its queued input first.
 */

/** Upper bound on the post-stall grace period, ms. */
export const STALL_GRACE_MAX_MS = 50;

/** Deadline of a suspicion learnt at `now` of a member that last reported `lagMs` of event-loop lag. */
export function suspicionDeadline(now: number, suspicionTimeoutMs: number, lagMs: number): number {
  const extension = Math.min(Math.max(0, lagMs), suspicionTimeoutMs);
  return now + suspicionTimeoutMs + extension;
}

/**
 * The stall, in ms, of a step at `now` when the core had asked to be woken
 * at `armedWakeAt`: 0 unless now is later than that by more than `toleranceMs`.
 */
export function stallMs(now: number, armedWakeAt: number | null, toleranceMs: number): number {
  if (armedWakeAt === null) return 0;
  const late = now - armedWakeAt;
  return late > toleranceMs ? late : 0;
}

/** Grace after a stall: the wake that lets queued input be processed before deadlines fire. */
export function stallGrace(probeTimeoutMs: number): number {
  return Math.min(probeTimeoutMs, STALL_GRACE_MAX_MS);
}

/** A probe deadline after a stall of `stall` ms detected at `now`. */
export function shiftProbeDeadline(deadline: number, stall: number, now: number, grace: number): number {
  return Math.max(deadline + stall, now + grace);
}

/** Any other deadline after a stall detected at `now`: kept, but not before now + grace. */
export function floorDeadline(deadline: number, now: number, grace: number): number {
  return Math.max(deadline, now + grace);
}
