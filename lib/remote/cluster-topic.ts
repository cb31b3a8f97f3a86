/**
 * The `$cluster` system topic: what this node sees happen to the cluster,
 * published on this node only. Every node publishes its own view to its own
 * subscribers, so nothing crosses the network for it, and two nodes may
 * report the same change at different times (or, during a partition,
 * different changes): each stream says what its node believes, named in
 * `seenBy`.
 *
 * Messages (`at` is the wall-clock time the node saw it, for display):
 *   { event: 'member-up' | 'member-down' | … , node, state, address, generation, seenBy, at }
 *   { event: 'leader-changed', group, table?, partition?, leader, term, seenBy, at }
 *     (a Raft group of a table partition, or the catalogue, has a new leader
 *      or none, as this node's replica learnt it; only nodes holding a
 *      replica of the group report it)
 */
import type { MemberEventMsg } from '../../actors/member-events.js';
import type { LeaderChange } from '../data-layer.js';
import { parsePartitionGroup } from '../tables/catalogue.js';
import type { Topics } from './topics.js';

export const CLUSTER_TOPIC = '$cluster';

/** Publishes member events on `$cluster` (on this node). Returns the unsubscribe. */
export function publishMemberEvents(topics: Pick<Topics, 'publishLocal'>, events: { subscribe(listener: (msg: MemberEventMsg) => void): () => void }, self: string): () => void {
  return events.subscribe(({ event, member }) => {
    topics.publishLocal(CLUSTER_TOPIC, { event, node: member.name, state: member.state, address: member.address, generation: member.generation, seenBy: self, at: new Date().toISOString() });
  });
}

/** The `$cluster` message of a leader change. */
export function leaderChangedMessage(change: LeaderChange, self: string): Record<string, unknown> {
  const partition = parsePartitionGroup(change.group);
  const where = partition === null ? {} : { table: partition.table, partition: partition.partition };
  return { event: 'leader-changed', group: change.group, ...where, leader: change.leader, term: change.term, seenBy: self, at: new Date().toISOString() };
}
