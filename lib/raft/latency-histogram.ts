/**
 * A cumulative latency histogram kept as plain numbers on the hot path
 * (one array increment per observation) and exposed at scrape time in the
 * Prometheus histogram format (lib/raft-metrics.ts). Buckets are upper bounds
 * in seconds, as Prometheus `le` labels.
 */

/** Seconds: a durable commit takes a fsync (~1–10 ms); the tail covers elections and timeouts. */
export const PROPOSAL_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class LatencyHistogram {
  /** counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = PROPOSAL_BUCKETS_SECONDS) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** Cumulative counts per bound (`le`), +Inf last. */
  cumulative(): { le: string; count: number }[] {
    let running = 0;
    return this.counts.map((c, i) => {
      running += c;
      return { le: i < this.bounds.length ? String(this.bounds[i]) : '+Inf', count: running };
    });
  }
}
