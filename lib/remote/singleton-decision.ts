/**
 * A singleton's contender on one node, the pure part: what to do next, from
 * what the names table showed and the time (singletons.ts performs it).
 *
 * Every node that runs `singleton(name, …)` holds one contender. The
 * contender whose cas wrote its claim to the key `$singleton/<name>` holds
 * the singleton and runs the instance; the others wait until the key is
 * free again and then try to claim it. The key is free when it is absent
 * (the holder released it after its instance stopped, or never held it) or
 * holds a swept mark: a sweep took the claim of a node declared down or
 * gone (name-entry.ts, `sweptMark`).
 *
 * Lease. The holder runs its instance only while its claim is confirmed: a
 * linearizable read that found the claim holds for `leaseMs`, counted from
 * when the read started. The holder reads every tick (leaseMs / 3); when
 * the lease runs out (a partition, a table that lost its majority, a read
 * that hangs) it stops the instance at the next tick (fenced), and starts it
 * again once a read finds its claim still there.
 *
 * Hand-over. A holder that releases its claim stopped its instance first,
 * so the next holder may start at once. A claim swept away was not given
 * up: its node may still run the instance, because it is cut off (it fences
 * when its lease runs out) or because the verdict was wrong (it is alive,
 * and stops when a read shows the claim gone). Either way its last
 * confirming read started before the sweep, so it has stopped by
 * sweep + leaseMs + one tick. The node that claims after a swept mark
 * therefore waits that long after its claim started (which is after the
 * sweep) before it spawns. With this wait the guarantee does not rest on
 * the failure detector being right: at most one instance runs at a time as
 * long as clocks run at the same rate and no holder's event loop is blocked
 * (timers late) by more than a tick. The failure detector decides only when
 * the hand-over starts: a holder cut off is swept after a down verdict
 * (about HEARTBEAT_TIMEOUT); with leaseMs below that, a holder that is cut
 * off has already fenced by then.
 *
 * Stale reads. A read answers with the key as it was at some point while
 * it ran. One that started before this node's claim cannot show it, and is
 * ignored; one that finds this node's claim while a release of it is in
 * flight, or that started before that release finished, may show a claim
 * already given up, and is ignored too (else a stopped instance would come
 * back under a claim that a moment later is gone).
 *
 * Inputs are the results of the shell's reads and writes; outputs are
 * actions, performed in order: `stop` the local instance, `release` this
 * node's claim (cas to absent), `clear-former` (cas to absent of a claim by
 * an earlier process of this node), `claim` (cas from what the read found:
 * absent or a swept mark), `spawn`.
 */

export type SingletonPhase = 'contending' | 'holding' | 'closed';

export interface SingletonState {
  phase: SingletonPhase;
  /** This node's instance runs. */
  running: boolean;
  /** When the last read (or claim) that found this node's claim started, monotonic ms; null when none since the claim. */
  confirmedAt: number | null;
  /** No claim before this time: set when this node's own instance stopped, so another node gets the first chance. */
  claimNotBefore: number;
  /** When this node's last successful claim started: a read that started before it cannot show that claim, and is ignored. */
  claimedAt: number | null;
  /** No spawn before this time: a claim taken from a swept mark waits out the swept holder's lease. */
  spawnNotBefore: number;
  /** A release of this node's claim is in flight. */
  releasing: boolean;
  /** When the last release of this node's claim finished: a read that started before may still show the released claim. */
  releasedAt: number;
}

/** Who holds the key, as a read found it: nobody (`none`), nobody since a sweep (`swept`), this process, an earlier process of this node, another node. */
export type Holder = 'none' | 'swept' | 'self' | 'former' | 'other';

export type SingletonInput =
  | { type: 'tick' }
  /** A read of the key finished; it started at `startedAt`. */
  | { type: 'observed'; holder: Holder; startedAt: number }
  /** This node's claim was written; the cas started at `startedAt`; `afterSweep`: it replaced a swept mark. */
  | { type: 'claimed'; startedAt: number; afterSweep: boolean }
  /** Another node's claim was there first. */
  | { type: 'claim-lost' }
  /** A `release` finished (whether or not it removed the claim: a claim it could not remove is still this node's). */
  | { type: 'released' }
  /** The instance stopped or crashed by itself (not by a `stop` action). */
  | { type: 'instance-stopped' }
  /** This node withdraws: it leaves the cluster, or the singleton is stopped here. */
  | { type: 'close' };

export type SingletonAction = 'stop' | 'release' | 'clear-former' | 'claim' | 'spawn';

export interface SingletonConfig {
  leaseMs: number;
  /** The shell's tick: a lease that ran out is noticed at most this late. */
  tickMs: number;
  /** How long a node whose instance stopped by itself waits before claiming again, ms. */
  restartDelayMs: number;
}

export function initialSingletonState(): SingletonState {
  return { phase: 'contending', running: false, confirmedAt: null, claimNotBefore: 0, claimedAt: null, spawnNotBefore: 0, releasing: false, releasedAt: -Infinity };
}

/** Whether a claim confirmed at `confirmedAt` still holds at `now`. */
export function leaseHolds(confirmedAt: number | null, now: number, leaseMs: number): boolean {
  return confirmedAt !== null && now - confirmedAt < leaseMs;
}

/** How long a claim taken from a swept mark waits before it spawns: until the swept holder has surely fenced. */
export function handoverWaitMs(config: Pick<SingletonConfig, 'leaseMs' | 'tickMs'>): number {
  return config.leaseMs + config.tickMs;
}

export function stepSingleton(state: SingletonState, input: SingletonInput, now: number, config: SingletonConfig): { state: SingletonState; actions: SingletonAction[] } {
  const s = { ...state };
  const actions: SingletonAction[] = [];
  const stopInstance = (): void => {
    if (s.running) actions.push('stop');
    s.running = false;
  };
  const release = (): void => {
    actions.push('release');
    s.releasing = true;
  };
  const spawnIfAllowed = (): void => {
    if (s.phase === 'holding' && !s.running && leaseHolds(s.confirmedAt, now, config.leaseMs) && now >= s.spawnNotBefore) {
      actions.push('spawn');
      s.running = true;
    }
  };
  const contend = (): void => {
    stopInstance();
    s.phase = 'contending';
    s.confirmedAt = null;
  };
  if (input.type === 'released') {
    s.releasing = false;
    s.releasedAt = now;
    return { state: s, actions };
  }
  if (input.type === 'observed' && input.holder === 'self' && (s.releasing || input.startedAt < s.releasedAt)) {
    return { state: s, actions }; // the claim this node gave back, read before the release landed
  }
  if (s.phase === 'closed') {
    // A claim that lands after the close (a cas in flight, a read that finds it) is given back.
    if ((input.type === 'observed' && input.holder === 'self') || input.type === 'claimed') release();
    return { state: s, actions };
  }
  switch (input.type) {
    case 'tick':
      if (s.running && !leaseHolds(s.confirmedAt, now, config.leaseMs)) stopInstance();
      else spawnIfAllowed(); // a claim waiting out a swept holder's lease
      break;
    case 'observed':
      if (s.claimedAt !== null && input.startedAt < s.claimedAt) break; // older than our claim
      switch (input.holder) {
        case 'self':
          s.phase = 'holding';
          s.confirmedAt = Math.max(s.confirmedAt ?? input.startedAt, input.startedAt);
          spawnIfAllowed();
          break;
        case 'none':
        case 'swept':
          contend(); // our claim, if we had one, was swept: we were declared down
          if (now >= s.claimNotBefore) actions.push('claim');
          break;
        case 'former':
          contend();
          actions.push('clear-former');
          break;
        case 'other':
          contend();
          break;
      }
      break;
    case 'claimed':
      s.phase = 'holding';
      s.confirmedAt = input.startedAt;
      s.claimedAt = input.startedAt;
      s.spawnNotBefore = input.afterSweep ? input.startedAt + handoverWaitMs(config) : 0;
      spawnIfAllowed();
      break;
    case 'claim-lost':
      s.phase = 'contending';
      break;
    case 'instance-stopped':
      s.running = false;
      if (s.phase === 'holding') release();
      s.phase = 'contending';
      s.confirmedAt = null;
      s.claimNotBefore = now + config.restartDelayMs;
      break;
    case 'close':
      stopInstance();
      if (s.phase === 'holding') release();
      s.phase = 'closed';
      s.confirmedAt = null;
      break;
  }
  return { state: s, actions };
}
