/**
 * "Log once per key per interval, with a count of what was suppressed": the
 * transport logs a misbehaving peer this way, so that whoever can reach the
 * cluster port cannot make a node write a line per connection. Counters in
 * the metrics still see every event; the log shows that it happens, and how
 * often.
 *
 * A key (reason and peer host, say) logs its first event, then stays quiet
 * until `intervalMs` has passed since; the next event logs and carries the
 * number suppressed in between. A key whose interval passed without an event
 * is forgotten (oldest first, as they are kept in order of their last logged
 * event). Memory is bounded: once `maxKeys` keys are live, new keys share
 * one OVERFLOW_KEY, so a flood from many addresses still logs at most
 * maxKeys + 1 lines per interval.
 *
 * Pure: the caller passes monotonic milliseconds.
 */

/** The key that stands for every key the limiter had no room for. */
export const OVERFLOW_KEY = '(other peers)';

export interface LogLimiterOptions {
  /** Shortest gap between two lines of one key, ms. */
  intervalMs: number;
  /** Keys tracked at once, the overflow key aside. */
  maxKeys: number;
}

export type LogDecision = { log: true; suppressed: number } | { log: false };

interface Window {
  openedAtMs: number;
  suppressed: number;
}

export class LogLimiter {
  /** In order of `openedAtMs`: a reopened window moves to the end. */
  private readonly windows = new Map<string, Window>();

  constructor(private readonly options: LogLimiterOptions) {}

  /** Keys tracked, the overflow key included. */
  get size(): number {
    return this.windows.size;
  }

  /** The key an event of `key` is counted under: itself, or OVERFLOW_KEY when there was no room. */
  keyFor(key: string): string {
    return this.windows.has(key) ? key : OVERFLOW_KEY;
  }

  /** Whether to log an event of `key` at `nowMs`; when yes, how many events of its key were suppressed before. */
  decide(key: string, nowMs: number): LogDecision {
    const tracked = this.track(key, nowMs);
    const window = this.windows.get(tracked);
    if (window === undefined) {
      this.windows.set(tracked, { openedAtMs: nowMs, suppressed: 0 });
      return { log: true, suppressed: 0 };
    }
    if (nowMs - window.openedAtMs < this.options.intervalMs) {
      window.suppressed++;
      return { log: false };
    }
    const suppressed = window.suppressed;
    this.windows.delete(tracked);
    this.windows.set(tracked, { openedAtMs: nowMs, suppressed: 0 });
    return { log: true, suppressed };
  }

  /** `key` if it is tracked or there is room for it (after forgetting expired keys), else OVERFLOW_KEY. */
  private track(key: string, nowMs: number): string {
    if (this.windows.has(key)) return key;
    this.forgetExpired(nowMs);
    const live = this.windows.size - (this.windows.has(OVERFLOW_KEY) ? 1 : 0);
    return live < this.options.maxKeys ? key : OVERFLOW_KEY;
  }

  private forgetExpired(nowMs: number): void {
    for (const [key, window] of this.windows) {
      if (nowMs - window.openedAtMs < this.options.intervalMs) {
        if (key !== OVERFLOW_KEY) return; // the rest opened later: none expired
        continue;
      }
      this.windows.delete(key);
    }
  }
}
