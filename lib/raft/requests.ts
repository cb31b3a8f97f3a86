/**
 * Client requests of the multi-Raft host as settle-once replies with a
 * deadline and an AbortSignal. The reply object crosses the actor's mailbox;
 * whoever settles it first wins (the host with a result or a typed error,
 * the deadline with TimeoutError, the signal with AbortError), and the host
 * drops replies it finds settled.
 *
 * A proposal that times out or whose host crashed has an unknown outcome: it
 * may still commit (thesis §6.3). The errors say so; callers must not retry
 * a non-idempotent command blindly.
 */

import { AbortError, TimeoutError, TroupeError } from '../errors.js';

/** Deadline of a request that names none, ms. @default 5000: many election timeouts, so a leader change fits in it. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Reply<T = unknown> {
  readonly settled: boolean;
  resolve(value: T): void;
  reject(err: Error): void;
}

/** A reply settled by whichever comes first: the host, the deadline or the signal. */
export function replyWithDeadline<T>(what: string, options: RequestOptions, resolve: (v: T) => void, reject: (e: Error) => void): Reply<T> | null {
  const signal = options.signal;
  if (signal?.aborted) {
    reject(new AbortError(what, { cause: signal.reason }));
    return null;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (timeoutMs <= 0) {
    // A deadline already past: refused before it reaches the host (else a fast host could still answer before the timer ran).
    reject(new TimeoutError(what, timeoutMs));
    return null;
  }
  let settled = false;
  const finish = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    return true;
  };
  const timer = setTimeout(() => finish() && reject(new TimeoutError(`${what} (outcome unknown)`, timeoutMs)), timeoutMs);
  const onAbort = (): void => {
    if (finish()) reject(new AbortError(`${what} (outcome unknown)`, { cause: signal?.reason }));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    get settled() {
      return settled;
    },
    resolve: (v) => finish() && resolve(v),
    reject: (e) => finish() && reject(e),
  };
}

/** The host that held a request crashed or stopped before it settled; a proposal may still have committed. */
export class OutcomeUnknownError extends TroupeError {
  constructor(what: string, reason: string, options: { cause?: unknown } = {}) {
    super('ERR_OUTCOME_UNKNOWN', `${what}: ${reason}; the outcome is unknown (it may have committed)`, { retryable: false, ...options });
  }
}

export class UnknownGroupError extends TroupeError {
  constructor(readonly group: string) {
    super('ERR_NOT_FOUND', `no raft group ${JSON.stringify(group)} on this node`, { retryable: true });
  }
}
