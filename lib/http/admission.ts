/**
 * Load shedding for the HTTP facade: at most `maxConcurrent` requests are
 * served at once; beyond that a request gets a fast 503 with `Retry-After`
 * before any routing, parsing of the URL or rendering happens.
 *
 * "At once" on one event loop: a request is concurrent with every request
 * still in flight and with every request finished earlier in the same
 * event-loop turn. Node reads all the requests that arrived together in one
 * turn and runs their (synchronous) handlers back to back, so the requests of
 * one turn queue behind each other exactly as if they ran in parallel on a
 * busy CPU; counting only unfinished requests would almost never count more
 * than one. Bounding the work of a turn also bounds how long SWIM messages
 * and timers wait behind HTTP (docs/ARCHITECTURE.md, "Load is not death").
 *
 * Never shed: `/health*` (a Kubernetes liveness probe must not fail because
 * the node is busy: busy is not dead) and mutating calls (POST, DELETE: rare,
 * and an operator must be able to act on a loaded node). Table watches and
 * topic event streams are long-lived: they are bounded by their own limits instead.
 */

import { ConfigError } from '../errors.js';

/** Requests served at once before the facade answers 503. @default 64 */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 64;
/** `Retry-After` of a shed request, seconds: long enough for a burst to pass, short for a scraper. @default 1 */
export const RETRY_AFTER_SECONDS = 1;

/** A table watch: a long-lived stream, bounded by its own limit (routes/table-watch.ts), not by this one. */
const WATCH_PATH = /^\/api\/tables\/[^/?]+\/watch(\?|$)/;
/** A topic's event stream: long-lived, bounded by the feeds' limits (lib/remote/topic-feeds.ts). */
const TOPIC_EVENTS_PATH = /^\/api\/topics\/[^/?]+\/events(\?|$)/;

/** True for requests that are never shed (health probes, mutations) or not counted here (watches, event streams). */
export function isExempt(method: string | undefined, url: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return true;
  return url === '/health' || (url ?? '').startsWith('/health/') || (url ?? '').startsWith('/health?') || WATCH_PATH.test(url ?? '') || TOPIC_EVENTS_PATH.test(url ?? '');
}

export class Admission {
  private inFlight = 0;
  private finishedThisTurn = 0;
  private turnEndScheduled = false;

  /**
   * `nextTurn` runs a callback at the end of this event-loop turn (setImmediate; injected in tests).
   * @throws ConfigError unless maxConcurrent is a positive integer
   */
  constructor(
    readonly maxConcurrent: number = DEFAULT_MAX_CONCURRENT_REQUESTS,
    private readonly nextTurn: (callback: () => void) => void = setImmediate,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new ConfigError('maxConcurrentRequests', maxConcurrent, 'must be a positive integer');
  }

  /** Admits a request, or returns false when it must be shed. An admitted request must be `release`d once. */
  tryAcquire(): boolean {
    if (this.inFlight + this.finishedThisTurn >= this.maxConcurrent) return false;
    this.inFlight++;
    this.scheduleTurnEnd();
    return true;
  }

  /** The response of an admitted request finished (or its connection closed). */
  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.finishedThisTurn++;
    this.scheduleTurnEnd();
  }

  /** Requests counted against the limit now. */
  load(): number {
    return this.inFlight + this.finishedThisTurn;
  }

  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    this.nextTurn(() => {
      this.turnEndScheduled = false;
      this.finishedThisTurn = 0;
    });
  }
}
