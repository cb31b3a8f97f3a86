/**
 * The Raft part of /metrics, rendered by hand in the Prometheus text format
 * from one snapshot per scrape: the series of a group exist while this node
 * holds a replica of it and vanish with it, with no label bookkeeping.
 * Group series carry `group`, `table` and `partition` (empty for the
 * catalogue). Counters are cumulative over the raft host's life (a host
 * restarted by its supervisor starts again from zero: a counter reset).
 */

import type { RouterStats } from './forwarding.js';
import type { RaftGroupStatus } from './group-report.js';
import type { LatencyHistogram } from './latency-histogram.js';
import type { RaftHostStats } from './raft-host.js';

export interface RaftMetricsSnapshot {
  groups: RaftGroupStatus[];
  host: RaftHostStats;
  proposalLatency: Pick<LatencyHistogram, 'cumulative' | 'sum' | 'count'>;
  batchLatency: Pick<LatencyHistogram, 'cumulative' | 'sum' | 'count'>;
  router: RouterStats;
  /** Tables with fewer voters than their factor in some partition, by name (the voters of the worst partition). */
  underReplicated: ReadonlyMap<string, { voters: number; replicationFactor: number }>;
}

const ROLES = ['follower', 'pre-candidate', 'candidate', 'leader'] as const;

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (pairs: Record<string, string | number>): string =>
  `{${Object.entries(pairs).map(([k, v]) => `${k}="${escape(String(v))}"`).join(',')}}`;

export function renderRaftMetrics(s: RaftMetricsSnapshot, prefix: string): string {
  const lines: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter' | 'histogram', help: string): string => {
    lines.push(`# HELP ${prefix}${name} ${help}`, `# TYPE ${prefix}${name} ${type}`);
    return prefix + name;
  };
  const perGroup = (name: string, help: string, value: (g: RaftGroupStatus) => number): void => {
    const full = family(name, 'gauge', help);
    for (const g of s.groups) lines.push(`${full}${groupLabels(g)} ${value(g)}`);
  };

  const state = family('raft_state', 'gauge', 'Role of this node\'s replica of each group: 1 for its current role, 0 for the others.');
  for (const g of s.groups) for (const role of ROLES) lines.push(`${state}${labels({ ...groupLabelPairs(g), state: role })} ${g.role === role ? 1 : 0}`);
  perGroup('raft_term', 'Current Raft term of the replica.', (g) => g.term);
  perGroup('raft_commit_index', 'Highest log index the replica knows committed.', (g) => g.commit);
  perGroup('raft_applied_index', 'Highest log index applied to the replica\'s state machine.', (g) => g.applied);
  perGroup('raft_peers', 'Members of the group (voters and learners) as the replica knows them.', (g) => g.voters.length + g.learners.length);
  perGroup('raft_replication_lag_entries', 'Leader only: committed entries the slowest member lacks.', (g) => g.lagEntries);
  perGroup('raft_replication_lag_seconds', 'Leader only: seconds since the slowest member last held every committed entry (sampled every 500 ms).', (g) => round(g.lagSeconds));

  const under = family('tables_under_replicated', 'gauge', 'Tables with a partition holding fewer voters than the table\'s replication factor (value: voters of the worst partition).');
  for (const [table, u] of s.underReplicated) lines.push(`${under}${labels({ table, replication_factor: u.replicationFactor })} ${u.voters}`);

  const counter = (name: string, help: string, value: number): void => {
    lines.push(`${family(name, 'counter', help)} ${value}`);
  };
  counter('raft_leader_changes_total', 'Leader changes seen by the replicas on this node.', s.host.leaderChanges);
  counter('raft_proposals_total', 'Proposals received by the replicas on this node (local or forwarded here).', s.host.proposals);
  counter('raft_forwarded_requests_total', 'Requests this node sent to another node\'s leader.', s.router.forwarded);
  counter('raft_served_requests_total', 'Requests other nodes forwarded to leaders on this node.', s.router.served);
  counter('raft_fsyncs_total', 'Durable write batches (one LMDB transaction and flush each, for all groups).', s.host.batches - s.host.unsyncedBatches);
  counter('raft_unsynced_batches_total', 'Write batches that only applied entries or moved commit indexes: committed without waiting for a flush.', s.host.unsyncedBatches);
  counter('raft_entries_persisted_total', 'Log entries written; divided by raft_fsyncs_total, the entries per fsync.', s.host.entriesPersisted);

  const histogram = (name: string, help: string, h: RaftMetricsSnapshot['proposalLatency']): void => {
    const hist = family(name, 'histogram', help);
    for (const b of h.cumulative()) lines.push(`${hist}_bucket{le="${b.le}"} ${b.count}`);
    lines.push(`${hist}_sum ${round(h.sum)}`, `${hist}_count ${h.count}`);
  };
  histogram('raft_proposal_duration_seconds', 'Time from a proposal\'s arrival at its leader to its apply there.', s.proposalLatency);
  histogram('raft_write_batch_duration_seconds', 'Time a write batch of the raft host takes from its start to its commit and, when it must be durable, its flush (one batch at a time per node).', s.batchLatency);
  return lines.join('\n') + '\n';
}

function groupLabelPairs(g: RaftGroupStatus): Record<string, string | number> {
  return { group: g.group, table: g.table ?? '', partition: g.partition ?? '' };
}

function groupLabels(g: RaftGroupStatus): string {
  return labels(groupLabelPairs(g));
}

const round = (v: number): number => Math.round(v * 1e6) / 1e6;
