/**
 * Placement: which nodes hold the replicas of a table's partitions, by
 * rendezvous (highest random weight) hashing (Thaler & Ravishankar, 1998).
 *
 * Every (partition, node) pair has a fixed score (`rendezvousScore`,
 * placement-hash.ts). A partition's replicas are the `replicationFactor` up
 * members with the highest scores, highest first; equal scores (about one
 * chance in 2^53 per pair) go to the smaller node name. Every node computes
 * the same answer from the same member list without coordination, whatever
 * the order of the list.
 *
 * Minimal disruption: a node that joins enters the replica set of exactly
 * the partitions where it scores in the top k (about k/n of them), each time
 * displacing the replica that scored k-th; a node that leaves is replaced in
 * exactly the partitions that held it, by the node that scored (k+1)-th. No
 * other partition moves. Replicas spread evenly in expectation: each node
 * holds about k/n of the partitions.
 *
 * Under-replication: when the factor exceeds the number of up members, every
 * member holds a replica of every partition and the placement reports
 * `underReplicated` with how many replicas are `missing` (the HexHub guide's
 * "REPLICATION_FACTOR is not greater than the number of nodes", made
 * visible). Reporting it in status, metrics and a log line once is the
 * shell's job; this module says when.
 *
 * Leaders: `preferredLeaders` names one replica per partition so that leaders
 * spread evenly over nodes; the shell moves leadership there with Raft's
 * leader transfer.
 *
 * Changes: `planPlacement` compares each partition's Raft membership with its
 * placement and lists the steps, each a single-server change (thesis §4.1;
 * raft/configuration.ts): a partition short of its factor grows by add-learner
 * then promote, one node at a time, when nodes join. Replicas on nodes that
 * are not up, moves for balance and surplus replicas are reported as typed
 * steps, not executed yet; `changesOf` spells out the single-server changes
 * that would carry each of them out (add the new replica first, then remove
 * the old one, so the group never has fewer replicas than it had).
 */

import { finishScore, fnv1a64, partitionPrefix, utf8Bytes } from './placement-hash.js';
import type { Membership, MembershipChange, NodeId } from './raft/types.js';

export { rendezvousScore } from './placement-hash.js';

/** A partition of a table, named as the table layer names its Raft group. */
export type PartitionId = string;

/** Code-unit order, the same on every node (localeCompare depends on the locale). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why `replicationFactor` is not acceptable, or null when it is: a positive integer. */
export function replicationFactorProblem(replicationFactor: number): string | null {
  return Number.isInteger(replicationFactor) && replicationFactor >= 1
    ? null
    : `replication factor must be a positive integer, got ${replicationFactor}`;
}

function assertFactor(replicationFactor: number): void {
  const problem = replicationFactorProblem(replicationFactor);
  // The shell validates REPLICATION_FACTOR with the config; a bad value here is a broken invariant.
  if (problem !== null) throw new RangeError(problem);
}

/** Scores nodes for one partition, encoding the partition once. */
function scorer(partition: PartitionId): (node: NodeId) => number {
  const prefix = partitionPrefix(partition);
  return (node) => finishScore(fnv1a64(utf8Bytes(node), prefix));
}

/** The distinct `nodes` ordered by their score for `partition`, highest first. */
export function rankNodes(partition: PartitionId, nodes: Iterable<NodeId>): NodeId[] {
  const score = scorer(partition);
  const scored = [...new Set(nodes)].map((node) => ({ node, score: score(node) }));
  scored.sort((a, b) => b.score - a.score || compareNames(a.node, b.node));
  return scored.map((s) => s.node);
}

export interface ReplicaSet {
  /** The replicas, highest score first: min(replicationFactor, up members) distinct nodes. */
  replicas: NodeId[];
  /** True when the factor exceeds the number of up members: every up member holds a replica. */
  underReplicated: boolean;
  /** Replicas short of the factor: factor - replicas.length (0 unless under-replicated). */
  missing: number;
}

/**
 * The replicas of `partition` among `upMembers`: the `replicationFactor`
 * highest-scoring ones, highest first. Throws RangeError on a factor that is
 * not a positive integer.
 */
export function replicasFor(partition: PartitionId, upMembers: Iterable<NodeId>, replicationFactor: number): ReplicaSet {
  assertFactor(replicationFactor);
  const replicas = rankNodes(partition, upMembers).slice(0, replicationFactor);
  const missing = replicationFactor - replicas.length;
  return { replicas, underReplicated: missing > 0, missing };
}

/**
 * A preferred leader for each partition, among its replicas, so that leaders
 * spread evenly over nodes. Pass each partition's voters in score order (as
 * `replicasFor` gives them; learners cannot lead).
 *
 * Greedy: partitions in name order each take the replica that leads the
 * fewest partitions so far, the higher-scoring on a tie. Every node gets the
 * same answer for the same input, in any order of the map. With equal-sized
 * replica sets a node leads about partitions/nodes, within a few partitions.
 * The assignment balances rather than stays put: changing one partition's
 * replicas can change the preference of partitions after it in name order,
 * so whoever transfers leadership should move only where a node leads
 * clearly more than its share. Partitions with no replicas get no entry.
 */
export function preferredLeaders(replicaSets: ReadonlyMap<PartitionId, readonly NodeId[]>): Map<PartitionId, NodeId> {
  const led = new Map<NodeId, number>();
  const leaders = new Map<PartitionId, NodeId>();
  for (const partition of [...replicaSets.keys()].sort(compareNames)) {
    let best: NodeId | undefined;
    let bestLoad = Infinity;
    for (const node of replicaSets.get(partition)!) {
      const load = led.get(node) ?? 0;
      if (load < bestLoad) {
        best = node;
        bestLoad = load;
      }
    }
    if (best === undefined) continue;
    leaders.set(partition, best);
    led.set(best, bestLoad + 1);
  }
  return leaders;
}

/**
 * One step of a partition's plan. Each names the partition and changes at
 * most one member of its Raft group (or is a report that changes none yet).
 *
 * Executed now (growth of an under-replicated partition, when nodes join):
 *   add-learner     `node` joins the group as a learner: it receives the log
 *                   but neither votes nor counts, so a slow catch-up does not
 *                   raise the quorum the group must wait for;
 *   promote         the learner `node` becomes a voter; the Raft core refuses
 *                   (learner-behind) until it holds the commit index, so the
 *                   shell retries it.
 *
 * Reported, for the next milestone to execute (`changesOf` gives the changes):
 *   replica-not-up  a member on a node that is not up (down, left or removed),
 *                   with the up node that would replace it, or null when no
 *                   up node is free;
 *   rebalance       placement would hold the partition on `to` instead of the
 *                   up member `from` (after a join, or for a table placed
 *                   when other nodes were up); `to` may already be a learner
 *                   (a move cut short);
 *   surplus         an up member beyond the factor (the factor was lowered,
 *                   or a move was interrupted).
 */
export type PlacementStep =
  | { kind: 'add-learner'; partition: PartitionId; node: NodeId }
  | { kind: 'promote'; partition: PartitionId; node: NodeId }
  | { kind: 'replica-not-up'; partition: PartitionId; node: NodeId; role: Role; replacement: NodeId | null }
  | { kind: 'rebalance'; partition: PartitionId; from: NodeId; to: NodeId; role: Role }
  | { kind: 'surplus'; partition: PartitionId; node: NodeId; role: Role };

/** A member's role in its Raft group. */
export type Role = 'voter' | 'learner';

export type GrowthStep = Extract<PlacementStep, { kind: 'add-learner' | 'promote' }>;

/** Whether this milestone executes `step` (growth); the other kinds are reports. */
export function isExecutable(step: PlacementStep): step is GrowthStep {
  return step.kind === 'add-learner' || step.kind === 'promote';
}

/**
 * The single-server Raft changes that carry out `step` from `membership` (the
 * group's membership when the step starts), in order. A replacement is added
 * as a learner (unless it is one already), promoted, and only then is the
 * replica it replaces removed, so the group never has fewer replicas than it
 * had. A replica on a node that is not up with no replacement gives none:
 * whether to shrink the group (the node left) or wait (it may come back) is
 * the next milestone's policy. Removing a member that leads needs a leader
 * transfer first, which is not a membership change and is not listed.
 */
export function changesOf(step: PlacementStep, membership: Membership): MembershipChange[] {
  const replace = (from: NodeId, to: NodeId): MembershipChange[] => [
    ...(membership.learners.includes(to) ? [] : [{ type: 'add-learner', node: to } as const]),
    { type: 'promote', node: to },
    { type: 'remove', node: from },
  ];
  switch (step.kind) {
    case 'add-learner':
    case 'promote':
      return [{ type: step.kind, node: step.node }];
    case 'replica-not-up':
      return step.replacement === null ? [] : replace(step.node, step.replacement);
    case 'rebalance':
      return replace(step.from, step.to);
    case 'surplus':
      return [{ type: 'remove', node: step.node }];
  }
}

export interface PartitionPlan {
  partition: PartitionId;
  /** Where placement wants the voters: `replicasFor(partition, upMembers, factor).replicas`. */
  target: NodeId[];
  /** The factor exceeds the number of up members (see `replicasFor`). */
  underReplicated: boolean;
  /**
   * Growth steps first, in the order to execute them, then reports. The Raft
   * core accepts one membership change at a time: execute the first
   * executable step, wait until the group has adopted it, then plan again
   * (the new plan continues where this one left off).
   */
  steps: PlacementStep[];
}

/**
 * The plan of every partition in `current` (its Raft group's membership) for
 * the given up members and factor, in the order of `current`.
 *
 * Growth: while a partition has fewer voters than the factor (voters on nodes
 * that are not up still count: replacing them is not growth), it promotes its
 * up learners, then adds and promotes the highest-scoring up non-members, one
 * at a time.
 *
 * Reports, over the members the partition would have after growth: each
 * member outside the target (voters before learners, members on nodes that
 * are not up before up ones, lowest score first) is paired with the next
 * target node that is not yet a voter (highest score first). A member not
 * up is `replica-not-up` (with its replacement or null), an up member paired
 * is `rebalance`, an up member left unpaired is `surplus`. Once every change
 * is carried out with every node up, the members are exactly the target.
 *
 * A partition with no voters has no Raft group yet: create it with `target`
 * as its voters. Its plan has no steps.
 */
export function planPlacement(
  current: ReadonlyMap<PartitionId, Membership>,
  upMembers: Iterable<NodeId>,
  replicationFactor: number,
): PartitionPlan[] {
  assertFactor(replicationFactor);
  const up = new Set(upMembers);
  const plans: PartitionPlan[] = [];
  for (const [partition, membership] of current) {
    const ranked = rankNodes(partition, up);
    const target = ranked.slice(0, replicationFactor);
    const underReplicated = target.length < replicationFactor;
    if (membership.voters.length === 0) {
      plans.push({ partition, target, underReplicated, steps: [] });
      continue;
    }
    plans.push({ partition, target, underReplicated, steps: planPartition(partition, membership, up, ranked, target, replicationFactor) });
  }
  return plans;
}

function planPartition(
  partition: PartitionId,
  membership: Membership,
  up: ReadonlySet<NodeId>,
  ranked: readonly NodeId[],
  target: readonly NodeId[],
  replicationFactor: number,
): PlacementStep[] {
  const voters = new Set(membership.voters);
  const learners = new Set(membership.learners);
  const steps: PlacementStep[] = [];

  // Growth: up learners first (already catching up), then new nodes by score.
  for (const node of ranked) {
    if (voters.size >= replicationFactor) break;
    if (!learners.has(node)) continue;
    steps.push({ kind: 'promote', partition, node });
    learners.delete(node);
    voters.add(node);
  }
  for (const node of ranked) {
    if (voters.size >= replicationFactor) break;
    if (voters.has(node) || learners.has(node)) continue;
    steps.push({ kind: 'add-learner', partition, node }, { kind: 'promote', partition, node });
    voters.add(node);
  }

  // Reports: members outside the target, worst first, against missing target nodes, best first.
  const inTarget = new Set(target);
  const score = scorer(partition);
  const outside = [
    ...[...voters].map((node) => ({ node, role: 'voter' as const })),
    ...[...learners].map((node) => ({ node, role: 'learner' as const })),
  ]
    .filter((m) => !inTarget.has(m.node))
    .map((m) => ({ ...m, isUp: up.has(m.node), score: score(m.node) }));
  const roleRank = (role: Role) => (role === 'voter' ? 0 : 1);
  outside.sort((a, b) =>
    roleRank(a.role) - roleRank(b.role) || Number(a.isUp) - Number(b.isUp) || a.score - b.score || compareNames(a.node, b.node),
  );
  // A target node that is already a learner (a move cut short) is wanted too: it needs its promotion.
  const wanted = target.filter((node) => !voters.has(node));
  let next = 0;
  for (const m of outside) {
    const to = next < wanted.length ? wanted[next++]! : null;
    if (!m.isUp) steps.push({ kind: 'replica-not-up', partition, node: m.node, role: m.role, replacement: to });
    else if (to !== null) steps.push({ kind: 'rebalance', partition, from: m.node, to, role: m.role });
    else steps.push({ kind: 'surplus', partition, node: m.node, role: m.role });
  }
  return steps;
}
