/**
 * This node's table of the other members: one entry per name (tombstones
 * included), the local facts kept beside each record (when we last heard
 * from it, its reported lag, when it went down), and the suspicion deadlines.
 *
 * `merge` applies the semilattice rule (record.ts): a record replaces the
 * entry only if it outranks it. A new generation resets the local facts (it
 * is another process). Entering `suspect` starts a local deadline (a new
 * incarnation of a suspicion starts a new one); leaving it clears the
 * deadline. The lists of live and down names are cached until a state
 * changes, since probing and gossip draw from them every period.
 */

import { compareRecords, copyRecord, isLive, type MemberRecord, type MemberState } from './record.js';
import { suspicionDeadline } from './suspicion.js';
import type { MemberView } from './types.js';

export interface Member {
  record: MemberRecord;
  lastHeardAt: number | null;
  lagMs: number;
  /** When this node learnt the member is down (gossip-to-the-dead window); null otherwise. */
  downAt: number | null;
  /** Last time we told the member that we believe it suspect or down. */
  accusedAt: number | null;
}

/** What a merge changed: the entry after it, and the record before it (undefined for a new name). */
export interface Change {
  member: Member;
  old: MemberRecord | undefined;
}

export class MemberTable {
  private readonly members = new Map<string, Member>();
  /** Suspicion deadlines by name: exactly the members whose record is suspect. */
  readonly suspicions = new Map<string, number>();
  private liveCache: string[] | null = null;
  private downCache: string[] | null = null;

  constructor(private readonly suspicionTimeoutMs: number) {}

  get(name: string): Member | undefined {
    return this.members.get(name);
  }

  values(): IterableIterator<Member> {
    return this.members.values();
  }

  /** Applies `incoming` if it outranks what we hold; returns the change, or null when it was stale or known. */
  merge(incoming: MemberRecord, now: number): Change | null {
    const m = this.members.get(incoming.name);
    if (m !== undefined && compareRecords(incoming, m.record) <= 0) return null;
    const record = copyRecord(incoming);
    const old = m?.record;
    let member: Member;
    if (m === undefined) {
      member = { record, lastHeardAt: null, lagMs: 0, downAt: null, accusedAt: null };
      this.members.set(record.name, member);
    } else {
      member = m;
      member.record = record;
      if (old!.generation !== record.generation) {
        member.lastHeardAt = null;
        member.lagMs = 0;
        member.accusedAt = null;
      }
    }
    if (record.state === 'suspect') {
      const sameSuspicion = old !== undefined && old.state === 'suspect' && old.generation === record.generation && old.incarnation === record.incarnation;
      if (!sameSuspicion) this.suspicions.set(record.name, suspicionDeadline(now, this.suspicionTimeoutMs, member.lagMs));
    } else {
      this.suspicions.delete(record.name);
    }
    member.downAt = record.state === 'down' ? (old?.state === 'down' ? member.downAt : now) : null;
    if (old === undefined || old.state !== record.state) {
      this.liveCache = null;
      this.downCache = null;
    }
    return { member, old };
  }

  /** Names of live members (joining, up, suspect, leaving), cached until a state changes. */
  live(): string[] {
    if (this.liveCache === null) this.liveCache = this.namesWhere((m) => isLive(m.record.state));
    return this.liveCache;
  }

  /** Names of down members. */
  down(): string[] {
    if (this.downCache === null) this.downCache = this.namesWhere((m) => m.record.state === 'down');
    return this.downCache;
  }

  /** The record of `name` when its state is live. */
  liveRecord(name: string): MemberRecord | undefined {
    const m = this.members.get(name);
    return m !== undefined && isLive(m.record.state) ? m.record : undefined;
  }

  private namesWhere(keep: (m: Member) => boolean): string[] {
    const out: string[] = [];
    for (const m of this.members.values()) if (keep(m)) out.push(m.record.name);
    return out;
  }
}

/** The view of a member at `now` (with `record` overriding its current record, e.g. the last one before removal). */
export function memberView(m: Member, now: number, record: MemberRecord = m.record): MemberView {
  const { name, address, generation, incarnation, state } = record;
  return { name, address, generation, incarnation, state: state as MemberState, lastHeardAgoMs: m.lastHeardAt === null ? null : Math.max(0, now - m.lastHeardAt), lagMs: m.lagMs };
}
