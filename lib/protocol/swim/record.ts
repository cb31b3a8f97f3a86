/**
 * Membership records and their precedence.
 *
 * A record is what one node believes about one member: its address, the
 * generation of its process (larger on every restart), its incarnation
 * (raised only by the member itself, to refute a suspicion; SWIM §4.2) and
 * its state. Records of one name are totally ordered by
 *
 *   (generation, removed, incarnation, rank(state), address)
 *
 * compared lexicographically, with rank joining 0 < up 1 < leaving 2 <
 * suspect 3 < down 4 < left 5. `removed` is the tombstone written when an
 * operator forgets a down or left member: it outranks every record of the
 * same generation, so stale gossip never brings that process back, while a
 * higher generation (a restart) still wins. The address is the last key only
 * to make the order total; a generation never changes its address.
 *
 * Merging keeps the maximum, so records form a join-semilattice: merge is
 * commutative, associative and idempotent, and nodes that have seen the
 * same records agree whatever the order of delivery. The one exception —
 * a member refuting what others say about it — lives in membership.ts.
 */

/** Lifecycle of a member as the cluster sees it. */
export type MemberState = 'joining' | 'up' | 'suspect' | 'down' | 'leaving' | 'left';

/** A member state, or the tombstone of a removed member (never shown as a member). */
export type RecordState = MemberState | 'removed';

/** What a node believes about one member. Plain data: it goes on the wire as is. */
export interface MemberRecord {
  name: string;
  address: string;
  generation: number;
  incarnation: number;
  state: RecordState;
}

/** Every record state, in rank order (the tombstone last). */
export const RECORD_STATES: readonly RecordState[] = ['joining', 'up', 'leaving', 'suspect', 'down', 'left', 'removed'];

const RANK: Readonly<Record<RecordState, number>> = {
  joining: 0,
  up: 1,
  leaving: 2,
  suspect: 3,
  down: 4,
  left: 5,
  removed: 6,
};

/** Rank of a state in the precedence order. */
export function rank(state: RecordState): number {
  return RANK[state];
}

/** Negative, zero or positive as `a` is below, equal to or above `b` in precedence. */
export function compareRecords(a: MemberRecord, b: MemberRecord): number {
  if (a.generation !== b.generation) return a.generation < b.generation ? -1 : 1;
  const removedA = a.state === 'removed' ? 1 : 0;
  const removedB = b.state === 'removed' ? 1 : 0;
  if (removedA !== removedB) return removedA - removedB;
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1;
  const byRank = RANK[a.state] - RANK[b.state];
  if (byRank !== 0) return byRank;
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  return 0;
}

/** The join of two records of the same member: the one with higher precedence. */
export function mergeRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  return compareRecords(a, b) >= 0 ? a : b;
}

/**
 * Merges records into a view keyed by name (a fresh map; inputs untouched).
 * The reference semantics of gossip: the order of `records` does not matter.
 */
export function mergeAll(view: ReadonlyMap<string, MemberRecord>, records: readonly MemberRecord[]): Map<string, MemberRecord> {
  const out = new Map(view);
  for (const record of records) {
    const known = out.get(record.name);
    out.set(record.name, known === undefined ? record : mergeRecord(known, record));
  }
  return out;
}

/** Members worth probing and gossiping to: any state in which the process is believed alive. */
export function isLive(state: RecordState): boolean {
  return state === 'joining' || state === 'up' || state === 'suspect' || state === 'leaving';
}

/** A copy holding only the record fields (views carry more). */
export function copyRecord(r: MemberRecord): MemberRecord {
  return { name: r.name, address: r.address, generation: r.generation, incarnation: r.incarnation, state: r.state };
}

/** Two records are the same record. */
export function sameRecord(a: MemberRecord, b: MemberRecord): boolean {
  return compareRecords(a, b) === 0;
}
