/**
 * Membership changes one server at a time (thesis §4.1), with learners.
 *
 * A change is a log entry; a node adopts it when the entry is committed and
 * durable locally (as etcd adopts it when applied), and the leader accepts
 * the next change only after the previous one is adopted and an entry of its
 * own term is committed (the fix to single-server changes from Ongaro's
 * 2015 raft-dev post). Any two consecutive configurations then share a
 * majority, so no two leaders can be elected by disjoint quorums.
 *
 * A new node joins as a learner (it receives the log but neither votes nor
 * counts, so adding an empty node does not raise the quorum of a group that
 * must wait for it), is promoted once it holds the leader's commit index,
 * and leaves by removal. A learner never campaigns and no candidate asks it
 * or counts it; it still answers a vote request, because a candidate that
 * sends one has seen a promotion the learner has not yet adopted (etcd#7625).
 *
 * A leader of two voters may not remove itself: the other voter adopts the
 * change only once it learns the commit, and if that news is lost it needs
 * the departed leader's vote forever (the two-voter wedge etcd documents).
 * It transfers leadership first; with three or more voters the rest form a
 * majority of the old configuration and elect a leader that finishes it.
 */

import { copyMembership, type Membership, type MembershipChange, type NodeId } from './types.js';

const sorted = (ids: NodeId[]) => [...new Set(ids)].sort();

export function isMember(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.learners.includes(id);
}

/** Why `change` cannot be applied to `m`, or null when it can. */
export function checkChange(m: Membership, change: MembershipChange): string | null {
  switch (change.type) {
    case 'add-learner':
      return isMember(m, change.node) ? `${change.node} is already a member (add a node as a learner once, then promote it)` : null;
    case 'promote':
      return m.learners.includes(change.node) ? null : `${change.node} is not a learner (only a caught-up learner can become a voter)`;
    case 'remove':
      if (!isMember(m, change.node)) return `${change.node} is not a member`;
      if (m.voters.length === 1 && m.voters[0] === change.node) return `${change.node} is the last voter (a group needs one)`;
      return null;
  }
}

/** `m` with `change` applied; a change that does not apply leaves it as it is (already checked by the leader). */
export function applyChange(m: Membership, change: MembershipChange): Membership {
  if (checkChange(m, change) !== null) return copyMembership(m);
  const without = (ids: NodeId[]) => ids.filter((id) => id !== change.node);
  switch (change.type) {
    case 'add-learner':
      return { voters: [...m.voters], learners: sorted([...m.learners, change.node]) };
    case 'promote':
      return { voters: sorted([...m.voters, change.node]), learners: without(m.learners) };
    case 'remove':
      return { voters: without(m.voters), learners: without(m.learners) };
  }
}

/**
 * The configurations adopted since the oldest snapshot the core may still
 * create, by index, so a snapshot at index i records the membership as of i.
 */
export class ConfigHistory {
  private readonly entries: { index: number; membership: Membership }[];

  constructor(index: number, membership: Membership) {
    this.entries = [{ index, membership: copyMembership(membership) }];
  }

  add(index: number, membership: Membership): void {
    this.entries.push({ index, membership: copyMembership(membership) });
  }

  /** The membership in force at `index`. */
  at(index: number): Membership {
    let found = this.entries[0]!;
    for (const e of this.entries) if (e.index <= index) found = e;
    return copyMembership(found.membership);
  }

  /** Forgets configurations superseded before `index`. */
  compact(index: number): void {
    while (this.entries.length > 1 && this.entries[1]!.index <= index) this.entries.shift();
  }

  reset(index: number, membership: Membership): void {
    this.entries.length = 0;
    this.entries.push({ index, membership: copyMembership(membership) });
  }
}
