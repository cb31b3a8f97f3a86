/**
 * What the node reports of its Raft group replicas (status and metrics):
 * role, leader, term, commit and applied index, members, and at a leader how
 * far the slowest member is behind — in entries, and in seconds since it last
 * held every committed entry. The seconds are sampled whenever the report is
 * read (the tables' control loop reads it every run, every 500 ms, and each
 * status or scrape), so their resolution is that interval.
 */

import type { NodeId, Role } from '../protocol/raft/types.js';
import { parsePartitionGroup } from '../tables/catalogue.js';
import type { RaftHost } from './raft-host.js';

export interface RaftGroupStatus {
  group: string;
  /** The table and partition of a partition group; null for the catalogue. */
  table: string | null;
  partition: number | null;
  role: Role;
  leader: NodeId | null;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: NodeId[];
  learners: NodeId[];
  quiesced: boolean;
  /** Leader only (0 elsewhere): entries the slowest member lacks of the commit index. */
  lagEntries: number;
  /** Leader only (0 elsewhere): seconds since the slowest member last held every committed entry. */
  lagSeconds: number;
}

export class RaftGroupReport {
  /** Per group and member: when the member was last seen holding the commit index (ms, the report's clock). */
  private readonly caughtUpAt = new Map<string, Map<NodeId, number>>();

  constructor(private readonly host: () => RaftHost, private readonly now: () => number = () => performance.now()) {}

  groups(): RaftGroupStatus[] {
    const host = this.host();
    const now = this.now();
    const seen = new Set<string>();
    const out: RaftGroupStatus[] = [];
    for (const id of host.groupIds().sort()) {
      const s = host.status(id);
      if (s === null) continue;
      seen.add(id);
      const where = parsePartitionGroup(id);
      const lag = s.role === 'leader' ? this.lag(id, host.replication(id), s.commit, now) : { entries: 0, seconds: 0 };
      if (s.role !== 'leader') this.caughtUpAt.delete(id);
      out.push({
        group: id, table: where?.table ?? null, partition: where?.partition ?? null, role: s.role, leader: s.leader, term: s.term,
        commit: s.commit, applied: s.applied, lastIndex: s.lastIndex, voters: s.membership.voters, learners: s.membership.learners,
        quiesced: s.quiesced, lagEntries: lag.entries, lagSeconds: lag.seconds,
      });
    }
    for (const id of this.caughtUpAt.keys()) if (!seen.has(id)) this.caughtUpAt.delete(id);
    return out;
  }

  private lag(group: string, match: Map<NodeId, number> | null, commit: number, now: number): { entries: number; seconds: number } {
    if (match === null) return { entries: 0, seconds: 0 };
    let times = this.caughtUpAt.get(group);
    if (times === undefined) this.caughtUpAt.set(group, (times = new Map()));
    let entries = 0;
    let seconds = 0;
    for (const [node, m] of match) {
      if (m >= commit) times.set(node, now);
      const since = times.get(node) ?? now;
      if (!times.has(node)) times.set(node, now);
      entries = Math.max(entries, Math.max(0, commit - m));
      seconds = Math.max(seconds, (now - since) / 1000);
    }
    return { entries, seconds };
  }
}
