/**
 * The per-node cache of `whereis`: names to what the names table held for
 * them (an entry, or absent), dropped on change.
 *
 * Invalidation. The node watches the names table (one watch per node) and
 * drops a name on every change to it; the watch restarting (it failed, or
 * the table was dropped) clears the whole cache, since changes may have
 * been missed meanwhile. A read races with a change it does not see: a
 * lookup that started before a change whose event arrives before the
 * lookup's answer must not fill the cache with the older answer. So a
 * lookup takes a ticket (`ticket()`) before it reads, and `fill` keeps the
 * answer only if no invalidation happened since (one counter for all
 * names: a change to any name voids the answers in flight, which costs a
 * few extra reads under churn and needs no bookkeeping per name).
 *
 * TTL. The watch starts "from now" and reports no position, so a change
 * committed while it starts can be missed, and a restarted watch can miss
 * changes too; entries expire after `ttlMs` so such a miss is bounded.
 *
 * Pure: time is passed in (monotonic ms).
 */

/** How long a cached answer of whereis is used when no change was seen, ms. @default 5000 */
export const NAME_CACHE_TTL_MS = 5_000;
/** Most names cached per node (oldest dropped first). @default 10000 */
export const NAME_CACHE_MAX_ENTRIES = 10_000;

export class NameCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private epoch = 0;

  constructor(private readonly ttlMs = NAME_CACHE_TTL_MS, private readonly maxEntries = NAME_CACHE_MAX_ENTRIES) {}

  /** The cached answer for `key`, or undefined on a miss (absent names are cached too, as whatever V stands for them). */
  get(key: string, now: number): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (now >= hit.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  /** Taken before a read; the read's answer is kept only if nothing was invalidated since. */
  ticket(): number {
    return this.epoch;
  }

  /** Keeps `value` for `key` unless a change was seen since `ticket`; returns whether it was kept. */
  fill(key: string, value: V, ticket: number, now: number): boolean {
    if (ticket !== this.epoch) return false;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    return true;
  }

  /** `key` changed. */
  invalidate(key: string): void {
    this.epoch++;
    this.entries.delete(key);
  }

  /** Anything may have changed (the watch restarted). */
  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
