/**
 * Seed retry: which discovery candidates to contact, and when.
 *
 * Discovery proposes candidates; a candidate that is not yet a live member is
 * contacted (a membership push-pull) now, and again after an exponential
 * backoff with full jitter while it stays absent, so an unreachable seed is
 * retried forever at a bounded rate and never blocks the others. A candidate
 * whose address belongs to a live member is left alone; if that member later
 * disappears, the candidate is contacted again from the base delay. This is
 * how a node with no reachable seed merges once one appears, and how a down
 * node that comes back is readmitted.
 *
 * Pure: time comes in as `now`, randomness from the injected `Random`.
 */
import type { Random } from './random.js';
import type { Ready } from './ready.js';

export interface SeedRetryConfig {
  /** First retry delay, ms. */
  baseDelayMs: number;
  /** Cap on the retry delay, ms. Bounds how long a returning seed waits to be found. */
  maxDelayMs: number;
}

export type SeedRetryInput =
  | { type: 'tick' }
  /** The current candidate set (addresses), replacing the previous one. */
  | { type: 'candidates'; addresses: string[] }
  /** Addresses of members that are alive now (joining, up, suspect, leaving). */
  | { type: 'live-members'; addresses: string[] };

/** `messages` carry no payload: `to` is a candidate to contact now. */
export type SeedRetryReady = Ready<null, never>;

interface Entry {
  attempt: number;
  dueAt: number;
}

export class SeedRetry {
  private readonly entries = new Map<string, Entry>();
  private live = new Set<string>();
  private due: string[] = [];

  constructor(
    private readonly config: SeedRetryConfig,
    private readonly selfAddress: string,
    private readonly random: Random,
  ) {}

  step(input: SeedRetryInput, now: number): void {
    switch (input.type) {
      case 'candidates':
        this.setCandidates(input.addresses, now);
        break;
      case 'live-members':
        this.live = new Set(input.addresses);
        for (const [address, entry] of this.entries) {
          if (this.live.has(address)) entry.attempt = 0;
        }
        break;
      case 'tick':
        break;
    }
    this.collectDue(now);
  }

  ready(): SeedRetryReady {
    return { messages: this.due.map((to) => ({ to, msg: null })), events: [], nextWakeAt: this.nextWakeAt() };
  }

  advance(ready: SeedRetryReady): void {
    const sent = new Set(ready.messages.map((m) => m.to));
    this.due = this.due.filter((address) => !sent.has(address));
  }

  /** Delay before attempt `attempt` (0-based): full jitter over an exponential cap. */
  static backoffMs(attempt: number, config: SeedRetryConfig, random: Random): number {
    const cap = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** Math.min(attempt, 30));
    return config.baseDelayMs / 2 + random.next() * (cap - config.baseDelayMs / 2);
  }

  private setCandidates(addresses: string[], now: number): void {
    const wanted = new Set(addresses.filter((a) => a !== this.selfAddress));
    for (const address of this.entries.keys()) if (!wanted.has(address)) this.entries.delete(address);
    for (const address of wanted) if (!this.entries.has(address)) this.entries.set(address, { attempt: 0, dueAt: now });
  }

  private collectDue(now: number): void {
    for (const [address, entry] of this.entries) {
      if (this.live.has(address) || entry.dueAt > now) continue;
      if (!this.due.includes(address)) this.due.push(address);
      entry.dueAt = now + SeedRetry.backoffMs(entry.attempt, this.config, this.random);
      entry.attempt++;
    }
  }

  private nextWakeAt(): number | null {
    let next: number | null = null;
    for (const [address, entry] of this.entries) {
      if (this.live.has(address)) continue;
      if (next === null || entry.dueAt < next) next = entry.dueAt;
    }
    return next;
  }
}
