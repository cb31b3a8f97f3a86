/**
 * The queries from other nodes this node's actors have not answered yet:
 * each holds a reply reference until it is answered or its deadline passes.
 * One coarse sweep forgets the expired ones instead of a timer per query
 * (the asking node keeps the exact deadline and fails the query itself).
 */

/** How often expired served queries are forgotten, ms. @default 1000 */
export const SERVED_QUERY_SWEEP_MS = 1_000;

export class ServedQueries {
  private readonly waiting = new Map<number, { deadline: number; release(): void }>();
  private nextKey = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number, private readonly sweepMs = SERVED_QUERY_SWEEP_MS) {}

  /** Holds `release` until `done` is called or `timeoutMs` passes (then `release` is called). Returns `done`. */
  hold(timeoutMs: number, release: () => void): () => void {
    const key = this.nextKey++;
    this.waiting.set(key, { deadline: this.now() + timeoutMs, release });
    this.timer ??= setInterval(() => this.sweep(), this.sweepMs).unref();
    return () => void this.waiting.delete(key);
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Forgets every held query (the node stops). */
  close(): void {
    for (const entry of this.waiting.values()) entry.release();
    this.waiting.clear();
    this.stopTimer();
  }

  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.waiting) {
      if (entry.deadline > now) continue;
      this.waiting.delete(key);
      entry.release();
    }
    if (this.waiting.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
