/**
 * Coalescing of a partition's requests on the node that issues them: the
 * writes (or reads) of one partition issued in the same event-loop turn
 * travel as one request — one forwarded rpc, one Raft entry (or one
 * ReadIndex round) — and each caller gets its own answer back.
 *
 * This is where the per-request cost goes from "per request" to "per
 * turn": with 64 concurrent clients, a partition's leader sees a few
 * entries per turn instead of dozens, each carrying many commands.
 *
 * Rules:
 * - A batch holds at most `maxItems` requests and `maxBytes` of payload;
 *   a request larger than that goes alone.
 * - Two requests touching the same key never share a batch (`keys`): a
 *   key's version then names one value, and a watcher sees at most one
 *   change per key and version. The later one goes in the next batch.
 * - A batch is sent at the end of the turn it was opened in (setImmediate),
 *   unless `maxInFlight` batches are already on their way: then what comes
 *   in waits for one of them to finish (Nagle's rule), so the requests that
 *   arrive during a round trip travel together. One client alone never
 *   waits. A batch held for `maxHoldMs` goes anyway, so a batch stuck on a
 *   dead leader delays the next ones by that much, not by its deadline.
 * - Deadlines and signals stay per caller: the batch runs until the latest
 *   deadline of its callers; a caller whose own deadline is earlier, or who
 *   aborts, is answered at that moment (a write's outcome is then unknown,
 *   as for any timed-out write) while the rest of the batch goes on.
 * - A batch that fails as a whole (no leader, outcome unknown, timeout)
 *   fails each of its callers with that error.
 */

import { AbortError, TimeoutError } from '../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, type RequestOptions } from '../raft/requests.js';

/** Requests per batch. @default 128: the batch limit of a table command, so one entry stays a bounded amount of apply work. */
export const DEFAULT_COALESCE_MAX_ITEMS = 128;
/** Batches of one partition on their way from this node before the next waits. @default 1 */
export const DEFAULT_COALESCE_MAX_IN_FLIGHT = 1;
/** Longest wait of a batch for one in flight to finish, ms. @default 10: a few durable round trips here; longer only while something is stuck. */
export const DEFAULT_COALESCE_MAX_HOLD_MS = 10;
/** Payload bytes per batch. @default 256 KiB: large values go (nearly) alone and never approach MAX_COMMAND_BYTES together. */
export const DEFAULT_COALESCE_MAX_BYTES = 256 * 1024;

export interface CoalescedRequest<I> {
  item: I;
  /** Payload size, for `maxBytes`. */
  bytes: number;
  /** Identities of the keys it touches (no two requests of a batch share one). */
  keys: readonly string[];
}

export interface CoalescerOptions<I, R> {
  /** Sends one batch; resolves with one result per item, in order. */
  send(items: I[], options: RequestOptions): Promise<R[]>;
  /** What a caller's timeout or abort names. */
  what: string;
  /** Writes: a caller answered at its own deadline or abort is told the outcome is unknown. */
  isWrite: boolean;
  maxItems?: number;
  maxBytes?: number;
  maxInFlight?: number;
  maxHoldMs?: number;
}

interface Waiter<I, R> {
  request: CoalescedRequest<I>;
  deadline: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  resolve(value: R): void;
  reject(err: Error): void;
}

interface Batch<I, R> {
  waiters: Waiter<I, R>[];
  bytes: number;
  keys: Set<string>;
}

export interface CoalescerStats {
  /** Requests submitted and batches sent: requests / batches is the coalescing factor. */
  requests: number;
  batches: number;
}

export class Coalescer<I, R> {
  readonly stats: CoalescerStats = { requests: 0, batches: 0 };
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private open: Batch<I, R> | null = null;
  private readonly full: Batch<I, R>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CoalescerOptions<I, R>) {
    this.maxItems = opts.maxItems ?? DEFAULT_COALESCE_MAX_ITEMS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_COALESCE_MAX_BYTES;
  }

  private get maxInFlight(): number {
    return this.opts.maxInFlight ?? DEFAULT_COALESCE_MAX_IN_FLIGHT;
  }

  submit(request: CoalescedRequest<I>, options: RequestOptions = {}): Promise<R> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new AbortError(this.opts.what, { cause: signal.reason }));
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (timeoutMs <= 0) return Promise.reject(new TimeoutError(this.opts.what, timeoutMs));
    this.stats.requests++;
    return new Promise<R>((resolve, reject) => {
      this.batchFor(request).waiters.push({ request, deadline: performance.now() + timeoutMs, timeoutMs, signal, resolve, reject });
      this.schedule();
    });
  }

  private batchFor(request: CoalescedRequest<I>): Batch<I, R> {
    const open = this.open;
    if (open !== null && this.fits(open, request)) {
      this.add(open, request);
      return open;
    }
    if (open !== null) this.full.push(open);
    const batch: Batch<I, R> = { waiters: [], bytes: 0, keys: new Set() };
    this.add(batch, request);
    this.open = batch;
    return batch;
  }

  private fits(batch: Batch<I, R>, request: CoalescedRequest<I>): boolean {
    if (batch.waiters.length >= this.maxItems || batch.bytes + request.bytes > this.maxBytes) return false;
    for (const key of request.keys) if (batch.keys.has(key)) return false;
    return true;
  }

  private add(batch: Batch<I, R>, request: CoalescedRequest<I>): void {
    batch.bytes += request.bytes;
    for (const key of request.keys) batch.keys.add(key);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** At the end of a turn: sends what it may, holds the rest until a batch finishes or the hold ends. */
  private flush(force = false): void {
    this.scheduled = false;
    while (this.full.length > 0 || this.open !== null) {
      if (!force && this.inFlight >= this.maxInFlight) {
        this.holdTimer ??= setTimeout(() => {
          this.holdTimer = undefined;
          this.flush(true);
        }, this.opts.maxHoldMs ?? DEFAULT_COALESCE_MAX_HOLD_MS);
        return;
      }
      const batch = this.full.shift() ?? this.open!;
      if (batch === this.open) this.open = null;
      this.sendBatch(batch.waiters);
    }
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  private finished(): void {
    this.inFlight--;
    if (!this.scheduled && (this.full.length > 0 || this.open !== null)) this.flush();
  }

  private sendBatch(all: Waiter<I, R>[]): void {
    const now = performance.now();
    // A caller who gave up while its batch waited is answered now and not sent: nothing of it was proposed.
    const waiters = all.filter((w) => {
      if (w.signal?.aborted) w.reject(new AbortError(this.opts.what, { cause: w.signal.reason }));
      else if (w.deadline <= now) w.reject(new TimeoutError(this.opts.what, w.timeoutMs));
      else return true;
      return false;
    });
    if (waiters.length === 0) return;
    this.stats.batches++;
    this.inFlight++;
    let deadline = 0;
    for (const w of waiters) deadline = Math.max(deadline, w.deadline);
    const callers = waiters.map((w) => this.guard(w, deadline, now));
    // A send that throws (instead of rejecting) fails the batch too: else the throw escapes the flush's
    // setImmediate, its callers are never answered and the batch stays counted in flight.
    new Promise<R[]>((resolve) => resolve(this.opts.send(waiters.map((w) => w.request.item), { timeoutMs: Math.max(1, deadline - now) }))).then(
      (results) => {
        this.finished();
        callers.forEach((c, i) => c.resolve(results[i] as R));
      },
      (err: unknown) => {
        this.finished();
        const error = err instanceof Error ? err : new Error(String(err));
        for (const c of callers) c.reject(error);
      },
    );
  }

  /** The caller's settle functions, answering it alone at its own deadline or abort if those come first. */
  private guard(w: Waiter<I, R>, batchDeadline: number, now: number): { resolve(v: R): void; reject(e: Error): void } {
    if (w.signal === undefined && w.deadline >= batchDeadline) return w;
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      w.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const remaining = Math.max(0, w.deadline - now);
    const what = this.opts.isWrite ? `${this.opts.what} (outcome unknown)` : this.opts.what;
    const timer = w.deadline < batchDeadline ? setTimeout(() => finish() && w.reject(new TimeoutError(what, w.timeoutMs)), remaining) : undefined;
    const onAbort = (): void => {
      if (finish()) w.reject(new AbortError(what, { cause: w.signal?.reason }));
    };
    if (w.signal?.aborted) onAbort();
    else w.signal?.addEventListener('abort', onAbort, { once: true });
    return { resolve: (v) => finish() && w.resolve(v), reject: (e) => finish() && w.reject(e) };
  }
}
