/**
 * The status document of a node (`GET /api/cluster/status`, `troupe status`)
 * from the parts that know it: pure, so the shape is tested without a node.
 */
import type { DiscoveryState } from '../discovery/index.js';
import type { MemberState, MemberStatus, NodeStatus } from './node-api.js';
import type { MemberView } from './protocol/swim/membership.js';

/** One member as the facades show it. */
export function memberStatus(view: MemberView, selfName: string): MemberStatus {
  return {
    name: view.name,
    address: view.address,
    state: view.state,
    incarnation: view.incarnation,
    generation: view.generation,
    lastHeartbeatAgoMs: view.lastHeardAgoMs === null ? null : Math.round(view.lastHeardAgoMs),
    lagMs: view.lagMs,
    self: view.name === selfName,
  };
}

export interface NodeStatusInput {
  node: Omit<NodeStatus['node'], 'state' | 'uptimeMs' | 'startedAt'> & { startedAt: Date };
  selfState: MemberState;
  members: MemberStatus[];
  /** The running discovery modes' state; undefined with clustering off. */
  discovery: { mode: string; state: DiscoveryState } | undefined;
  nowMs: number;
}

export function buildNodeStatus(input: NodeStatusInput): NodeStatus {
  const { node, selfState, members, discovery } = input;
  return {
    node: { ...node, state: selfState, startedAt: node.startedAt.toISOString(), uptimeMs: input.nowMs - node.startedAt.getTime() },
    healthy: selfState === 'up' && members.every((m) => m.state !== 'suspect' && m.state !== 'down'),
    members,
    discovery: {
      modes: discovery ? discovery.mode.split(',') : [],
      candidates: discovery?.state.candidates.map((c) => c.address) ?? [],
      lastPollAt: discovery?.state.lastPollAt ? new Date(discovery.state.lastPollAt).toISOString() : null,
      lastError: discovery?.state.lastError ?? null,
      unavailable: discovery?.state.unavailable ?? null,
    },
  };
}
