/**
 * The data a Raft group stores and exchanges: log entries, the hard state
 * that must survive a restart, the membership configuration and snapshot
 * metadata. Plain data only (numbers, strings, arrays, Uint8Array), so it
 * passes through msgpack and LMDB unchanged.
 *
 * Indexes and terms are non-negative safe integers. Index 0 with term 0 is
 * the empty log's sentinel: every log "contains" it, so the first append's
 * consistency check is against (0, 0) (Raft thesis §3.5).
 */

/** A node (a peer of the group), named as the membership layer names it. */
export type NodeId = string;

/**
 * What an entry carries:
 *   data    an opaque command for the state machine (`data`);
 *   noop    the empty entry a new leader appends to commit its term (thesis §3.6.2, §6.4);
 *   config  one single-server membership change (`change`, thesis §4.1).
 */
export type EntryKind = 'data' | 'noop' | 'config';

export interface Entry {
  index: number;
  term: number;
  kind: EntryKind;
  /** The command; empty for noop and config entries. */
  data: Uint8Array;
  /** Present exactly when kind is 'config'. */
  change?: MembershipChange;
}

/**
 * One single-server membership step (thesis §4.1, with learners as in etcd):
 *   add-learner  a new node receives the log but neither votes nor counts;
 *   promote      a caught-up learner becomes a voter;
 *   remove       a voter or learner leaves the group.
 */
export interface MembershipChange {
  type: 'add-learner' | 'promote' | 'remove';
  node: NodeId;
}

/** Who is in the group. Both lists sorted, disjoint, without duplicates. */
export interface Membership {
  voters: NodeId[];
  learners: NodeId[];
}

/**
 * State that must be durable before any message that depends on it is sent
 * (thesis §3.8): the current term and the vote cast in it. `commit` is
 * stored too so a restart re-applies no further than it knows is committed,
 * but a change to commit alone needs no fsync.
 */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

export interface SnapshotMeta {
  /** Last index the snapshot covers. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** Membership as of `index` (thesis §5.1: the snapshot carries the configuration). */
  membership: Membership;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine's serialized state at meta.index, opaque to Raft. */
  data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({ term: 0, vote: null, commit: 0 });

/** Payload bytes of an entry, the unit of the flow-control limits. */
export function entrySize(entry: Entry): number {
  return entry.data.byteLength;
}

export function copyMembership(m: Membership): Membership {
  return { voters: [...m.voters], learners: [...m.learners] };
}
