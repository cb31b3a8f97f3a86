/** What bench/tables.ts and its child processes share: key names and the value written. */

/** The i-th key of the benchmark's key space: `k000042`. */
export const keyName = (i: number): string => `k${String(i).padStart(6, '0')}`;

/** The value written: a string of 98 characters, 100 bytes as msgpack (the stored form) and 100 bytes as the JSON body of a PUT. */
export const VALUE = 'v'.repeat(98);

/** The p-th percentile of ascending `sorted` (nearest rank); 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** p50, p99 and max of a run's latencies (ms). */
export function latencySummary(latencies: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(latencies).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : 0 };
}
