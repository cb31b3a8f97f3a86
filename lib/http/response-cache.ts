/**
 * A value recomputed at most once per `maxAgeMs`: what keeps the expensive
 * reads of the facade (`/metrics` rendering, the status document) off the
 * path of every request. Under load, every caller within the window shares
 * one computation; an asynchronous computation in progress is shared too, so
 * concurrent scrapes render once. A computation that throws or rejects is not
 * kept: the next call tries again.
 */

export interface Cached<T> {
  /** The value, computed now if the one held is older than `maxAgeMs` (or was cleared). */
  (): T;
  /** Forgets the value held: the next call computes afresh (after a change the caller must see). */
  clear(): void;
}

/** `now` is monotonic ms. */
export function cacheFor<T>(maxAgeMs: number, compute: () => T, now: () => number = () => performance.now()): Cached<T> {
  let value: T | undefined;
  let computedAt = -Infinity;
  let generation = 0;
  const get = (() => {
    const at = now();
    if (at - computedAt < maxAgeMs) return value as T;
    value = compute();
    computedAt = at;
    if (value instanceof Promise) {
      const mine = ++generation;
      value.catch(() => {
        if (generation === mine) computedAt = -Infinity;
      });
    }
    return value;
  }) as Cached<T>;
  get.clear = () => {
    computedAt = -Infinity;
    generation++;
  };
  return get;
}
