/**
 * The counters and gauges a node reports on /metrics, gathered from its
 * parts at scrape time. Pure: the parts' own stats are passed in.
 */
import type { DiscoveryState } from '../discovery/index.js';
import type { MemberState, NodeStatsSnapshot } from './node-api.js';
import type { MemberView, MembershipStats } from './protocol/swim/membership.js';
import type { TransportStats } from './transport/transport.js';
import type { RaftMetricsSnapshot } from './raft/raft-metrics.js';
import type { ClusterActorsStats } from './remote/cluster-actors.js';
import type { TopicsStats } from './remote/topics.js';

export interface NodeStatsInput {
  members: readonly MemberView[];
  swim: MembershipStats | undefined;
  /** SWIM messages the membership actor dropped before they reached the core (mailbox backlog full). */
  swimDroppedInShell: number;
  link: TransportStats | undefined;
  links: number;
  discovery: DiscoveryState | undefined;
  eventLoopLagMs: number;
  raft?: RaftMetricsSnapshot;
  actors?: ClusterActorsStats | undefined;
  pubsub?: TopicsStats | undefined;
}

export function nodeStatsSnapshot(input: NodeStatsInput): NodeStatsSnapshot {
  const { swim, link, discovery } = input;
  const membersByState: Record<MemberState, number> = { joining: 0, up: 0, suspect: 0, down: 0, leaving: 0, left: 0 };
  for (const m of input.members) membersByState[m.state]++;
  return {
    ...(input.raft ? { raft: input.raft } : {}),
    membersByState,
    probesSent: swim?.probesSent ?? 0,
    probesFailed: swim?.probesFailed ?? 0,
    indirectProbesSent: swim?.indirectProbesSent ?? 0,
    suspicionsRaised: swim?.suspicionsRaised ?? 0,
    suspicionsRefuted: swim?.suspicionsRefuted ?? 0,
    swimMessagesDropped: (swim?.messagesDropped ?? 0) + input.swimDroppedInShell,
    linkFramesSent: link?.framesSent ?? 0,
    linkFramesReceived: link?.framesReceived ?? 0,
    linkBytesSent: link?.bytesSent ?? 0,
    linkBytesReceived: link?.bytesReceived ?? 0,
    linkFramesDropped: link?.framesDropped ?? 0,
    linkReconnects: link?.reconnects ?? 0,
    links: input.links,
    handshakeFailures: { ...(link?.handshakeFailures ?? {}) },
    eventLoopLagMs: input.eventLoopLagMs,
    discoveryQueries: discovery?.queries ?? 0,
    discoveryFailures: discovery?.failures ?? {},
    discoveryCandidates: discovery?.candidates.length ?? 0,
    actorMessagesSent: input.actors?.sent ?? 0,
    actorMessagesReceived: input.actors?.received ?? 0,
    actorQueriesSent: input.actors?.queriesSent ?? 0,
    actorQueriesServed: input.actors?.queriesServed ?? 0,
    actorDeadLetters: { ...(input.actors?.deadLetters ?? {}) },
    pubsubPublished: input.pubsub?.published ?? 0,
    pubsubFramesSent: input.pubsub?.framesSent ?? 0,
    pubsubFramesReceived: input.pubsub?.framesReceived ?? 0,
    pubsubDelivered: input.pubsub?.delivered ?? 0,
    pubsubDropped: { ...(input.pubsub?.dropped ?? {}) },
    pubsubSyncRequests: input.pubsub?.spread.syncRequestsSent ?? 0,
    pubsubTopics: input.pubsub?.localTopics ?? 0,
    pubsubSubscriptions: input.pubsub?.localSubscriptions ?? 0,
    pubsubStreams: input.pubsub?.streams ?? 0,
  };
}
