/**
 * The surface a running node offers to its facades (HTTP, CLI, metrics) and to
 * embedding applications. `lib/node.ts` implements it; facades depend on this
 * interface only, so they can be tested against a fake.
 */
import type { TroupeConfig } from './config.js';
import type { TablesApi } from './tables/tables-api.js';
import type { TopicsApi } from './remote/topics.js';
import type { RaftMetricsSnapshot } from './raft/raft-metrics.js';
import type { RaftGroupStatus } from './raft/group-report.js';

export type MemberState = 'joining' | 'up' | 'suspect' | 'down' | 'leaving' | 'left';

export interface MemberStatus {
  /** `name@host`. */
  name: string;
  /** Inter-node address `host:port`. */
  address: string;
  state: MemberState;
  /** SWIM incarnation: raised by the member to refute a suspicion. */
  incarnation: number;
  /** Distinguishes restarts of the same name: larger is newer. */
  generation: number;
  /** Milliseconds since this node last heard from the member directly; null for itself or never. */
  lastHeartbeatAgoMs: number | null;
  /** Event-loop lag the member last reported, ms. */
  lagMs: number;
  /** True for the entry describing this node. */
  self: boolean;
}

export interface DiscoveryStatus {
  modes: string[];
  /** Last candidate set, as addresses `host:port`. */
  candidates: string[];
  /** Wall-clock ISO time of the last poll or announcement; null before the first. */
  lastPollAt: string | null;
  lastError: string | null;
  /** Why a mode cannot work here at all (e.g. no multicast-capable interface); null when every mode can. */
  unavailable: string | null;
}

/** What became of one candidate that discovery proposed. */
export type CandidateOutcome =
  /** A live member of this node's cluster has this address. */
  | 'joined'
  /** The address is this node's own. */
  | 'self'
  /** The node answered but refused us, or we it: wrong cookie. */
  | 'wrong-cookie'
  /** The node belongs to another CLUSTER_NAME. */
  | 'wrong-cluster-name'
  /** The node runs another protocol version (another troupe release). */
  | 'wrong-protocol-version'
  /** Contacted, but no link could be established (connection refused, timeout, TLS). */
  | 'unreachable'
  /** Known to membership but down or left. */
  | 'down'
  /** Not contacted yet, or contacted and not yet answered. */
  | 'pending';

export interface CandidateReport {
  address: string;
  /** Node name, when the mode or membership knows it. */
  name: string | null;
  /** Which discovery mode proposed it. */
  source: string;
  outcome: CandidateOutcome;
  /** The reason behind a refusal or failure, as the transport reported it. */
  detail: string | null;
}

/** `GET /api/cluster/discovery`: what discovery saw and what came of it. */
export interface DiscoveryReport extends DiscoveryStatus {
  queries: number;
  failures: Record<string, number>;
  /** Raw records of the last answers and announcements, newest last. */
  records: Array<{ source: string; type: string; name: string; ttl?: number; data: string }>;
  candidateReports: CandidateReport[];
  /** Each mode's own state, including fields particular to it (e.g. dns: servers, polls, tcpFallbacks, lastAnswer). */
  perMode: Array<Record<string, unknown>>;
}

export interface NodeStatus {
  node: {
    name: string;
    address: string;
    generation: number;
    state: MemberState;
    clusterName: string;
    httpPort: number;
    clusterPort: number;
    startedAt: string;
    uptimeMs: number;
    /** This process's recent event-loop lag: the worst timer lateness over the last ~2 s, ms. */
    eventLoopLagMs: number;
  };
  /** True when this node is up and no member it knows is suspect or down. */
  healthy: boolean;
  members: MemberStatus[];
  discovery: DiscoveryStatus;
  /** The Raft group replicas on this node: the catalogue and table partitions, with leader, term, commit and applied index, members. */
  raft?: { groups: RaftGroupStatus[] };
}

/** Counters and gauges for /metrics, as plain numbers; read at scrape time. */
export interface NodeStatsSnapshot {
  membersByState: Record<MemberState, number>;
  probesSent: number;
  probesFailed: number;
  indirectProbesSent: number;
  suspicionsRaised: number;
  suspicionsRefuted: number;
  swimMessagesDropped: number;
  linkFramesSent: number;
  linkFramesReceived: number;
  linkBytesSent: number;
  linkBytesReceived: number;
  linkFramesDropped: number;
  linkReconnects: number;
  links: number;
  handshakeFailures: Record<string, number>;
  eventLoopLagMs: number;
  discoveryQueries: number;
  discoveryFailures: Record<string, number>;
  discoveryCandidates: number;
  /** Pub/sub on this node (lib/remote/topics.ts): publish calls, publish frames sent and received, deliveries to subscribers, drops by reason. */
  pubsubPublished: number;
  pubsubFramesSent: number;
  pubsubFramesReceived: number;
  pubsubDelivered: number;
  pubsubDropped: Record<string, number>;
  /** Full sets asked of peers by this node: how often the subscription spread repaired a gap or a lost frame. */
  pubsubSyncRequests: number;
  /** Topics with subscribers on this node, its (topic, subscriber) pairs, and its open topic event streams. */
  pubsubTopics: number;
  pubsubSubscriptions: number;
  pubsubStreams: number;
  /** The Raft groups on this node and their counters (absent before the raft host runs). */
  raft?: RaftMetricsSnapshot;
  /** The actor layer: messages and queries to and from other nodes, dead letters by reason. */
  actorMessagesSent: number;
  actorMessagesReceived: number;
  actorQueriesSent: number;
  actorQueriesServed: number;
  actorDeadLetters: Record<string, number>;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ClusterNodeApi {
  readonly config: TroupeConfig;
  /** The replicated tables, when this node serves them; the HTTP facade serves `/api/tables` only then. */
  readonly tables?: TablesApi | undefined;
  /** Pub/sub, when this node runs it; the HTTP facade serves `/api/topics` only then. */
  readonly topics?: TopicsApi | undefined;
  status(): NodeStatus;
  /** Discovery's raw view and, per candidate, whether it was joined and why not. */
  discovery(): DiscoveryReport;
  stats(): NodeStatsSnapshot;
  /** Live: the process and its actor system run. */
  isLive(): boolean;
  /** Ready: joined (state up) and, once tables exist, its partitions have leaders. */
  isReady(): boolean;
  /** Contacts `name@host[:port]` and merges its view; resolves when the push-pull answer arrives. Throws ConfigError for a malformed node, TimeoutError if it never answers. */
  join(node: string, options?: CallOptions): Promise<void>;
  /** Graceful leave: members see this node `left`; the process keeps its HTTP facade up until stopped. */
  leave(options?: CallOptions): Promise<void>;
  /** Forgets a down (or left) member for good; resolves once it is gone from this node's view. Throws UnknownNodeError, or ConflictError when it is not down/left. */
  remove(name: string, options?: CallOptions): Promise<void>;
}
