/**
 * The names table as the names service uses it: created on first use,
 * every call retried within its deadline, releases in the background, the
 * node's one watch of the table, and sweeps (scan, then cas each match).
 *
 * Creation. NAMES_TABLE is created with NAMES_TABLE_PARTITIONS partitions
 * and the cluster's replication factor, at least
 * NAMES_MIN_REPLICATION_FACTOR. Several nodes may create it at once: one
 * create commits, the others get TableExistsError, which here means "done";
 * until every partition has a leader, calls fail with TableNotReadyError
 * and are retried. A table dropped by hand (NoSuchTableError) is created
 * again on the next registration.
 *
 * Retries. Every write of the names service is a cas whose outcome is
 * checked against the writing process's owner token, so a call whose
 * outcome was unknown (a lost answer, a leader change) is tried again until
 * its deadline: a registration that finds its own entry succeeded, a
 * release that finds the key changed is done (retryableNamesError).
 */
import { NoSuchTableError, TableExistsError, TableNotReadyError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallOptions } from '../node-api.js';
import type { TablesApi, Versioned, WatchEvent, WriteOutcome } from '../tables/tables-api.js';
import { NAMES_MIN_REPLICATION_FACTOR, NAMES_TABLE, NAMES_TABLE_PARTITIONS, parseEntry, retryableNamesError, type NameEntry } from './name-entry.js';

/** Deadline of register, unregister, whereis and lookup when the caller names none, ms. @default 10000 */
export const DEFAULT_NAMES_TIMEOUT_MS = 10_000;
/** How long a release (a stopped actor's name, a sweep) keeps trying while the table is unavailable, ms. @default 60000 */
export const RELEASE_TIMEOUT_MS = 60_000;
/** First and longest wait before the watch starts again after it failed, ms. */
const WATCH_RETRY_MS = 100;
const WATCH_RETRY_MAX_MS = 2_000;
/** Entries a sweep reads per page. */
const SWEEP_PAGE = 1_000;

export interface NamesTableOptions {
  tables: TablesApi;
  /** The cluster's REPLICATION_FACTOR. */
  replicationFactor: number;
  log: Logger;
  now: () => number;
  /** Aborted when the node stops: background work ends. */
  signal: AbortSignal;
  /** The table exists (after a create, or a create that found it). */
  onReady: () => void;
}

export class NamesTable {
  private ready: Promise<void> | null = null;
  private watching = false;

  constructor(private readonly opts: NamesTableOptions) {}

  /** Creates the table unless it exists (memoized; a failure is tried again on the next call). */
  ensure(call: CallOptions): Promise<void> {
    const { tables, replicationFactor } = this.opts;
    const create = (this.ready ??= tables
      .create(NAMES_TABLE, { partitions: NAMES_TABLE_PARTITIONS, replicationFactor: Math.max(NAMES_MIN_REPLICATION_FACTOR, replicationFactor) }, call)
      .then(() => undefined, (err: unknown) => {
        if (!(err instanceof TableExistsError)) throw err; // another node created it
      }));
    return create.then(
      () => this.opts.onReady(),
      (err: unknown) => {
        if (this.ready === create) this.ready = null;
        throw err;
      },
    );
  }

  /** A linearizable read; undefined when the table does not exist (no names at all). */
  get(key: string, call: CallOptions): Promise<Versioned<unknown> | null | undefined> {
    return this.opts.tables.get(NAMES_TABLE, key, call).catch((err: unknown) => {
      if (err instanceof NoSuchTableError) return undefined;
      throw err;
    });
  }

  cas(key: string, expected: unknown, value: unknown, call: CallOptions): Promise<WriteOutcome<unknown>> {
    return this.opts.tables.cas(NAMES_TABLE, key, expected, value, call);
  }

  /** cas of `key` from `value` to absent (or `replacement`), retried in the background until RELEASE_TIMEOUT_MS; true when this call replaced it. */
  release(key: string, value: unknown, replacement: unknown = null): Promise<boolean> {
    const { signal, log } = this.opts;
    return this.attempt(`release ${key}`, { timeoutMs: RELEASE_TIMEOUT_MS, signal }, (left) => this.cas(key, value, replacement, left)).then(
      (outcome) => outcome.ok,
      (err: unknown) => {
        if (!signal.aborted) log.warn({ err, name: key }, `could not release the name ${key}; a sweep will when its node is gone`);
        return false;
      },
    );
  }

  /** Calls `fn` with what is left of the deadline until it succeeds or fails for good (retryableNamesError). */
  async attempt<T>(what: string, call: CallOptions, fn: (left: CallOptions) => Promise<T>): Promise<T> {
    const deadline = this.opts.now() + (call.timeoutMs ?? DEFAULT_NAMES_TIMEOUT_MS);
    for (let delayMs = 25; ; delayMs = Math.min(delayMs * 2, 500)) {
      call.signal?.throwIfAborted();
      try {
        return await fn({ timeoutMs: Math.max(1, deadline - this.opts.now()), ...(call.signal ? { signal: call.signal } : {}) });
      } catch (err) {
        if (err instanceof NoSuchTableError) this.ready = null; // dropped: created again on next use
        if (!retryableNamesError(err) || call.signal?.aborted || this.opts.now() + delayMs >= deadline) throw err;
        this.opts.log.debug({ err, what }, `${what}: retrying`);
        await sleep(delayMs, call.signal);
      }
    }
  }

  /**
   * Starts the node's one watch of the table (idempotent): every change goes
   * to `onChange`; when the watch fails it starts again, and `onRestart`
   * hears that changes may have been missed.
   */
  watch(onChange: (event: WatchEvent) => void, onRestart: () => void): void {
    if (this.watching || this.opts.signal.aborted) return;
    this.watching = true;
    void this.watchLoop(onChange, onRestart);
  }

  /**
   * Scans the table and replaces every entry that `match` picks by
   * `replacement(entry)` (a cas from its exact value); returns how many this
   * call replaced (another sweeper may have been first). Throws what the
   * scan threw (NoSuchTableError when there is no table).
   */
  async sweep(match: (entry: NameEntry) => boolean, replacement: (entry: NameEntry) => unknown): Promise<number> {
    let released = 0;
    let cursor: string | undefined;
    do {
      const page = await this.opts.tables.scan(NAMES_TABLE, { limit: SWEEP_PAGE, timeoutMs: DEFAULT_NAMES_TIMEOUT_MS, ...(cursor ? { cursor } : {}) });
      const picked = page.items.flatMap((item) => {
        const entry = parseEntry(item.value);
        return entry !== null && match(entry) ? [{ item, entry }] : [];
      });
      released += (await Promise.all(picked.map(({ item, entry }) => this.release(item.key, item.value, replacement(entry))))).filter(Boolean).length;
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined && !this.opts.signal.aborted);
    return released;
  }

  private async watchLoop(onChange: (event: WatchEvent) => void, onRestart: () => void): Promise<void> {
    const { signal } = this.opts;
    for (let delayMs = WATCH_RETRY_MS; !signal.aborted; delayMs = Math.min(delayMs * 2, WATCH_RETRY_MAX_MS)) {
      try {
        for await (const event of this.opts.tables.watch(NAMES_TABLE, { signal })) {
          delayMs = WATCH_RETRY_MS;
          onChange(event);
        }
      } catch (err) {
        if (err instanceof TableNotReadyError) delayMs = WATCH_RETRY_MS / 2; // being created (by another node): ready in a moment
        else if (!signal.aborted) this.opts.log.debug({ err }, 'watch of the names table ended; starting it again');
      }
      onRestart();
      await sleep(delayMs, signal).catch(() => undefined);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
