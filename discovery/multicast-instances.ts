/**
 * The service instances a node has heard of, and what they propose. Pure:
 * the caller passes the monotonic time.
 *
 * - `announce` stores the latest verdict of an instance (an instance is one
 *   node: its name is unique per node and stable across restarts).
 * - `heard` notes that an instance answered again (any record of it in a
 *   response); `expire` marks instances unheard for `staleAfterMs` as stale.
 *   A stale instance proposes nothing until it is heard again: a node killed
 *   without a goodbye leaves the candidate set, and is back when it answers.
 * - `goodbye` forgets an instance at once.
 * - Candidates are the fresh instances whose verdict is a candidate,
 *   deduplicated by address, sorted by address (so equal sets compare equal).
 * - Memory is bounded: at most `maxInstances` instances (a new one past the
 *   bound is refused), and one diagnosis record per instance, at most
 *   `maxRecords`, oldest dropped first.
 */
import type { Candidate, DiscoveryRecord } from './discovery.js';
import type { Verdict } from './multicast-announcement.js';

interface Entry {
  verdict: Verdict;
  lastHeardAt: number;
  stale: boolean;
}

export type AnnounceOutcome =
  /** Stored; `verdictChanged` is false when the instance said the same as before (a repeat, not a new event). */
  | { accepted: true; verdictChanged: boolean }
  | { accepted: false };

export class InstanceTable {
  private readonly entries = new Map<string, Entry>();
  private readonly recordsByName = new Map<string, DiscoveryRecord>();

  constructor(
    private readonly limits: { staleAfterMs: number; maxInstances: number; maxRecords: number },
  ) {}

  announce(fqdn: string, verdict: Verdict, now: number, record: DiscoveryRecord): AnnounceOutcome {
    const key = fqdn.toLowerCase();
    const previous = this.entries.get(key);
    if (!previous && this.entries.size >= this.limits.maxInstances) return { accepted: false };
    this.entries.set(key, { verdict, lastHeardAt: now, stale: false });
    this.record(key, record);
    return { accepted: true, verdictChanged: !sameVerdict(previous?.verdict, verdict) };
  }

  /** Notes an answer from `fqdn`. True when that revived a stale instance. */
  heard(fqdn: string, now: number): boolean {
    const entry = this.entries.get(fqdn.toLowerCase());
    if (!entry) return false;
    entry.lastHeardAt = now;
    const revived = entry.stale;
    entry.stale = false;
    return revived;
  }

  /** Marks instances unheard for too long as stale. True when any became stale. */
  expire(now: number): boolean {
    let changed = false;
    for (const entry of this.entries.values()) {
      if (!entry.stale && now - entry.lastHeardAt > this.limits.staleAfterMs) {
        entry.stale = true;
        changed = true;
      }
    }
    return changed;
  }

  /** Forgets `fqdn`. True when it was known. */
  goodbye(fqdn: string, record: DiscoveryRecord): boolean {
    const key = fqdn.toLowerCase();
    if (!this.entries.delete(key)) return false;
    this.record(key, record);
    return true;
  }

  candidates(): Candidate[] {
    const byAddress = new Map<string, Candidate>();
    for (const entry of this.entries.values()) {
      if (entry.verdict.kind === 'candidate' && !entry.stale) byAddress.set(entry.verdict.candidate.address, entry.verdict.candidate);
    }
    return [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /** One record per instance, newest last. */
  records(): DiscoveryRecord[] {
    return [...this.recordsByName.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  private record(key: string, record: DiscoveryRecord): void {
    this.recordsByName.delete(key);
    this.recordsByName.set(key, record);
    while (this.recordsByName.size > this.limits.maxRecords) this.recordsByName.delete(this.recordsByName.keys().next().value!);
  }
}

function sameVerdict(a: Verdict | undefined, b: Verdict): boolean {
  if (a === undefined || a.kind !== b.kind) return false;
  if (a.kind === 'ignored' && b.kind === 'ignored') return a.reason === b.reason && a.detail === b.detail;
  if (a.kind === 'candidate' && b.kind === 'candidate') return a.candidate.address === b.candidate.address && a.candidate.name === b.candidate.name && a.generation === b.generation;
  return true;
}
