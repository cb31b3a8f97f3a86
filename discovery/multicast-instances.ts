/**
 * The service instances a node has heard of, and what they propose. Pure:
 * the caller passes the monotonic time.
 *
 * - `announce` stores the latest verdict of an instance (an instance is one
 *   node: its name is unique per node and stable across restarts).
 * - `heard` notes that an instance answered again (any record of it in a
 *   response); `expire` marks instances unheard for `staleAfterMs` as stale,
 *   and forgets those unheard for `forgetAfterMs`. A stale instance proposes
 *   nothing until it is heard again: a node killed without a goodbye leaves
 *   the candidate set, and is back when it answers. A forgotten one is gone
 *   until it announces again.
 * - `goodbye` forgets an instance at once.
 * - Candidates are the fresh instances whose verdict is a candidate,
 *   deduplicated by address, sorted by address (so equal sets compare equal).
 * - Memory is bounded: at most `maxInstances` instances. A new one past the
 *   bound evicts the instance heard least recently among those that propose
 *   nothing (stale, or ignored, or this node); when every instance is a fresh
 *   candidate the new one is refused. One diagnosis record per instance, at
 *   most `maxRecords`, oldest dropped first.
 *
 * The caller learns which instances left the table (forgotten, evicted,
 * refused), so that the browser's own cache can forget them too and report
 * them as new when they announce again.
 */
import type { Candidate, DiscoveryRecord, RejectedCandidate } from './discovery.js';
import { rejectedCandidate, type Verdict } from './multicast-announcement.js';

interface Entry {
  verdict: Verdict;
  lastHeardAt: number;
  stale: boolean;
}

export interface InstanceLimits {
  staleAfterMs: number;
  /** Unheard for this long: forgotten (longer than `staleAfterMs`). */
  forgetAfterMs: number;
  maxInstances: number;
  maxRecords: number;
}

export type AnnounceOutcome =
  /** Stored; `verdictChanged` is false when the instance said the same as before (a repeat, not a new event); `evicted` names the instance it replaced at the bound. */
  | { accepted: true; verdictChanged: boolean; evicted?: string }
  | { accepted: false };

export class InstanceTable {
  private readonly entries = new Map<string, Entry>();
  private readonly recordsByName = new Map<string, DiscoveryRecord>();

  constructor(private readonly limits: InstanceLimits) {}

  announce(fqdn: string, verdict: Verdict, now: number, record: DiscoveryRecord): AnnounceOutcome {
    const key = fqdn.toLowerCase();
    const previous = this.entries.get(key);
    let evicted: string | undefined;
    if (!previous && this.entries.size >= this.limits.maxInstances) {
      evicted = this.evictable();
      if (evicted === undefined) return { accepted: false };
      this.entries.delete(evicted);
    }
    this.entries.set(key, { verdict, lastHeardAt: now, stale: false });
    this.record(key, record);
    return { accepted: true, verdictChanged: !sameVerdict(previous?.verdict, verdict), ...(evicted === undefined ? {} : { evicted }) };
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

  /** Marks instances unheard for too long as stale, and forgets those unheard for much longer. `changed`: some candidate went stale. */
  expire(now: number): { changed: boolean; forgotten: string[] } {
    let changed = false;
    const forgotten: string[] = [];
    for (const [key, entry] of this.entries) {
      const silentFor = now - entry.lastHeardAt;
      if (silentFor > this.limits.forgetAfterMs) {
        this.entries.delete(key);
        forgotten.push(key);
        if (!entry.stale && entry.verdict.kind === 'candidate') changed = true;
      } else if (!entry.stale && silentFor > this.limits.staleAfterMs) {
        entry.stale = true;
        if (entry.verdict.kind === 'candidate') changed = true;
      }
    }
    return { changed, forgotten };
  }

  /** Forgets `fqdn`. True when it was known. */
  goodbye(fqdn: string, record: DiscoveryRecord): boolean {
    const key = fqdn.toLowerCase();
    if (!this.entries.delete(key)) return false;
    this.record(key, record);
    return true;
  }

  has(fqdn: string): boolean {
    return this.entries.has(fqdn.toLowerCase());
  }

  candidates(): Candidate[] {
    const byAddress = new Map<string, Candidate>();
    for (const entry of this.entries.values()) {
      if (entry.verdict.kind !== 'candidate' || entry.stale) continue;
      for (const candidate of entry.verdict.candidates) if (!byAddress.has(candidate.address)) byAddress.set(candidate.address, candidate);
    }
    return [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /** The instances heard of and not proposed (this node, another cluster, another version), at most `limit`, most recently heard last. */
  rejected(source: string, limit: number): RejectedCandidate[] {
    const heard: Array<{ at: number; rejected: RejectedCandidate }> = [];
    for (const entry of this.entries.values()) {
      const rejected = rejectedCandidate(entry.verdict, source);
      if (rejected) heard.push({ at: entry.lastHeardAt, rejected });
    }
    return heard
      .sort((a, b) => a.at - b.at)
      .slice(-limit)
      .map((h) => h.rejected);
  }

  /** One record per instance, newest last. */
  records(): DiscoveryRecord[] {
    return [...this.recordsByName.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  /** The instance heard least recently among those that propose nothing now. */
  private evictable(): string | undefined {
    let oldest: { key: string; at: number } | undefined;
    for (const [key, entry] of this.entries) {
      if (!entry.stale && entry.verdict.kind === 'candidate') continue;
      if (!oldest || entry.lastHeardAt < oldest.at) oldest = { key, at: entry.lastHeardAt };
    }
    return oldest?.key;
  }

  private record(key: string, record: DiscoveryRecord): void {
    this.recordsByName.delete(key);
    this.recordsByName.set(key, record);
    while (this.recordsByName.size > this.limits.maxRecords) this.recordsByName.delete(this.recordsByName.keys().next().value!);
  }
}

function sameVerdict(a: Verdict | undefined, b: Verdict): boolean {
  if (a === undefined || a.kind !== b.kind) return false;
  if (a.kind === 'ignored' && b.kind === 'ignored') return a.reason === b.reason && a.detail === b.detail && a.address === b.address;
  if (a.kind === 'candidate' && b.kind === 'candidate') {
    return a.generation === b.generation && a.candidates.length === b.candidates.length && a.candidates.every((c, i) => c.address === b.candidates[i]!.address && c.name === b.candidates[i]!.name);
  }
  if (a.kind === 'self' && b.kind === 'self') return a.address === b.address;
  return true;
}
