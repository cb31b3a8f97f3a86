/**
 * A token bucket per source address, for connections accepted on the cluster
 * port: each source may open `burst` connections at once and
 * `refillPerSecond` more per second after that. A node that reconnects as
 * fast as it is closed, or a fuzzer, is refused at accept, before any
 * handshake work, while peers that dial once per link never notice.
 *
 * Memory is bounded: at most `maxSources` buckets are tracked, oldest use
 * first; a bucket that has refilled completely is the same as no bucket and
 * is forgotten when room is needed. When every tracked bucket is still in
 * use, new sources share one overflow bucket, so a flood from many
 * addresses is limited as a whole.
 *
 * Pure: the caller passes monotonic milliseconds.
 */

export interface SourceRateLimit {
  /** Connections a source may open at once. */
  burst: number;
  /** Connections a source regains per second, up to `burst`. */
  refillPerSecond: number;
  /** Sources tracked at once, the overflow bucket aside. */
  maxSources: number;
}

/** @default 20 connections: a peer opens one per link; a restart burst of a few is far below. */
export const DEFAULT_ACCEPT_BURST = 20;
/** @default 5 per second: redials back off to seconds apart; 5/s per source is generous for peers, tight for floods. */
export const DEFAULT_ACCEPT_REFILL_PER_SECOND = 5;
/** @default 4096 sources: about 200 KB of buckets at most. */
export const DEFAULT_ACCEPT_MAX_SOURCES = 4096;

const OVERFLOW_SOURCE = '(other sources)';

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export class SourceRateLimiter {
  /** In order of last use: a used bucket moves to the end. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: SourceRateLimit) {}

  /** Buckets tracked, the overflow bucket included. */
  get size(): number {
    return this.buckets.size;
  }

  /** Whether `source` has a bucket of its own. */
  tracks(source: string): boolean {
    return source !== OVERFLOW_SOURCE && this.buckets.has(source);
  }

  /** Takes a token for a connection from `source` at `nowMs`; false when the source is over its rate. */
  take(source: string, nowMs: number): boolean {
    const key = this.keyFor(source, nowMs);
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, updatedAtMs: nowMs };
    const tokens = Math.min(this.limit.burst, bucket.tokens + ((nowMs - bucket.updatedAtMs) * this.limit.refillPerSecond) / 1000);
    const admitted = tokens >= 1;
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: admitted ? tokens - 1 : tokens, updatedAtMs: nowMs });
    return admitted;
  }

  private keyFor(source: string, nowMs: number): string {
    if (this.buckets.has(source)) return source;
    this.forgetRefilled(nowMs);
    const tracked = this.buckets.size - (this.buckets.has(OVERFLOW_SOURCE) ? 1 : 0);
    return tracked < this.limit.maxSources ? source : OVERFLOW_SOURCE;
  }

  /** Drops buckets that would be full by now, oldest use first, up to the first that would not. */
  private forgetRefilled(nowMs: number): void {
    const refillMs = (this.limit.burst * 1000) / this.limit.refillPerSecond;
    for (const [key, bucket] of this.buckets) {
      if (nowMs - bucket.updatedAtMs < refillMs) {
        if (key !== OVERFLOW_SOURCE) return;
        continue;
      }
      this.buckets.delete(key);
    }
  }
}
