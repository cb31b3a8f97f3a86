/**
 * Prometheus metrics of a node, on a registry of its own (two nodes in one
 * process, as in tests, never share series).
 *
 * The runtime keeps its counts as plain numbers in a `NodeStatsSnapshot`;
 * nothing on the hot path touches prom-client. At scrape time each metric's
 * `collect()` copies the snapshot in. `render()` takes one snapshot per scrape
 * and every metric reads that one, so the figures of a scrape agree.
 *
 * Cumulative snapshot counts are exposed as Counters (`…_total`), advanced by
 * the delta since the previous scrape, so Prometheus sees the type it expects
 * for `rate()`. If a count goes backwards (the component that owns it was
 * restarted and began again from zero), the new value is all new events and
 * is added as such; the exposed counter itself never decreases. Levels (links,
 * members by state, candidates, lag) are Gauges.
 *
 * HTTP requests are counted by the facade's middleware through
 * `observeHttpRequest`, labelled by route pattern, never the raw path, so the
 * label space stays bounded.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MemberState, NodeStatsSnapshot } from './node-api.js';
import { renderRaftMetrics } from './raft/raft-metrics.js';

export const METRIC_PREFIX = 'troupe_';

const MEMBER_STATES: readonly MemberState[] = ['joining', 'up', 'suspect', 'down', 'leaving', 'left'];

/** Seconds. Joins may wait on a peer for seconds; everything else is sub-millisecond. */
const HTTP_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface HttpRequestLabels {
  /** Route pattern, e.g. `/api/cluster/nodes/:node`, or `unmatched`. */
  route: string;
  method: string;
  status: number;
}

export interface Metrics {
  readonly registry: Registry;
  /** `Content-Type` of `render()`'s output. */
  readonly contentType: string;
  /** The exposition text of every metric, from one snapshot. */
  render(): Promise<string>;
  observeHttpRequest(labels: HttpRequestLabels, durationSeconds: number): void;
}

type ScalarKey = {
  [K in keyof NodeStatsSnapshot]-?: NodeStatsSnapshot[K] extends number ? K : never;
}[keyof NodeStatsSnapshot];
type ByReasonKey = {
  [K in keyof NodeStatsSnapshot]-?: NodeStatsSnapshot[K] extends Record<string, number> ? K : never;
}[keyof NodeStatsSnapshot];

/** Cumulative snapshot counts and the counter each one feeds. */
const COUNTERS: ReadonlyArray<{ key: ScalarKey; name: string; help: string }> = [
  { key: 'probesSent', name: 'swim_probes_sent_total', help: 'Direct SWIM probes (Ping) sent.' },
  { key: 'probesFailed', name: 'swim_probes_failed_total', help: 'SWIM probes that got no Ack, directly or indirectly, within the protocol period.' },
  { key: 'indirectProbesSent', name: 'swim_indirect_probes_sent_total', help: 'Indirect SWIM probes (PingReq) sent after a direct probe timed out.' },
  { key: 'suspicionsRaised', name: 'swim_suspicions_raised_total', help: 'Members this node declared suspect.' },
  { key: 'suspicionsRefuted', name: 'swim_suspicions_refuted_total', help: 'Suspicions of this node that it refuted by raising its incarnation.' },
  { key: 'swimMessagesDropped', name: 'swim_messages_dropped_total', help: 'SWIM messages dropped: undecodable, stale, from a foreign cluster, or past the membership mailbox bound.' },
  { key: 'linkFramesSent', name: 'link_frames_sent_total', help: 'Frames sent on inter-node links.' },
  { key: 'linkFramesReceived', name: 'link_frames_received_total', help: 'Frames received on inter-node links.' },
  { key: 'linkBytesSent', name: 'link_bytes_sent_total', help: 'Bytes sent on inter-node links, framing included.' },
  { key: 'linkBytesReceived', name: 'link_bytes_received_total', help: 'Bytes received on inter-node links, framing included.' },
  { key: 'linkFramesDropped', name: 'link_frames_dropped_total', help: 'Outbound frames dropped because a link queue was full or the link closed.' },
  { key: 'linkReconnects', name: 'link_reconnects_total', help: 'Reconnection attempts of inter-node links.' },
  { key: 'discoveryQueries', name: 'discovery_queries_total', help: 'Discovery polls and queries made (DNS queries, multicast queries).' },
  { key: 'actorMessagesSent', name: 'actor_remote_messages_sent_total', help: 'Actor messages and queries this node sent to actors on other nodes.' },
  { key: 'actorMessagesReceived', name: 'actor_remote_frames_received_total', help: 'Actor frames (messages, queries, replies, watches) received from other nodes.' },
  { key: 'actorQueriesSent', name: 'actor_remote_queries_sent_total', help: 'Queries this node sent to actors on other nodes.' },
  { key: 'actorQueriesServed', name: 'actor_remote_queries_served_total', help: 'Queries from other nodes served by actors on this node.' },
  { key: 'pubsubPublished', name: 'pubsub_published_total', help: 'Messages published on this node (publish and local system-topic publishes).' },
  { key: 'pubsubFramesSent', name: 'pubsub_frames_sent_total', help: 'Publish frames sent to other nodes: one per node with subscribers per message.' },
  { key: 'pubsubFramesReceived', name: 'pubsub_frames_received_total', help: 'Publish frames received from other nodes.' },
  { key: 'pubsubDelivered', name: 'pubsub_delivered_total', help: 'Messages delivered to subscribers on this node.' },
  { key: 'pubsubSyncRequests', name: 'pubsub_sync_requests_total', help: 'Full subscription sets this node asked of peers to repair a gap or a lost frame.' },
];

const COUNTERS_BY_REASON: ReadonlyArray<{ key: ByReasonKey; name: string; help: string }> = [
  { key: 'handshakeFailures', name: 'link_handshake_failures_total', help: 'Inter-node handshakes that failed, by reason (cookie, cluster name, version, timeout…).' },
  { key: 'discoveryFailures', name: 'discovery_failures_total', help: 'Discovery polls that failed, by reason.' },
  { key: 'actorDeadLetters', name: 'actor_dead_letters_total', help: 'Actor messages that could not be delivered, by reason (no-such-actor, node-down, link-full, mailbox-full, malformed).' },
  { key: 'pubsubDropped', name: 'pubsub_dropped_total', help: 'Pub/sub messages not delivered, by reason (link-full, mailbox-full, subscriber-gone, malformed).' },
];

/**
 * Creates the registry with the default process metrics and troupe's own.
 * `source` is called once per scrape; if it throws, that scrape shows the
 * previous values rather than failing.
 */
export function createMetrics(source: () => NodeStatsSnapshot): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  let scrapeSnapshot: NodeStatsSnapshot | undefined;
  const snapshot = (): NodeStatsSnapshot | undefined => {
    if (scrapeSnapshot) return scrapeSnapshot;
    try {
      return source();
    } catch {
      return undefined;
    }
  };

  new Gauge({
    name: `${METRIC_PREFIX}members`,
    help: 'Members this node knows, by state (itself included).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = snapshot();
      if (!s) return;
      for (const state of MEMBER_STATES) this.set({ state }, s.membersByState[state] ?? 0);
    },
  });

  for (const { key, name, help } of COUNTERS) {
    const delta = deltaTracker();
    new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        const s = snapshot();
        if (s) this.inc(delta('', s[key]));
      },
    });
  }

  for (const { key, name, help } of COUNTERS_BY_REASON) {
    const delta = deltaTracker();
    new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        const s = snapshot();
        if (!s) return;
        for (const [reason, count] of Object.entries(s[key])) this.inc({ reason }, delta(reason, count));
      },
    });
  }

  const gauge = (name: string, help: string, read: (s: NodeStatsSnapshot) => number) =>
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        const s = snapshot();
        if (s) this.set(read(s));
      },
    });
  gauge('links', 'Open inter-node links.', (s) => s.links);
  gauge('event_loop_lag_seconds', 'Recent event-loop lag of this process, as it reports it to peers.', (s) => s.eventLoopLagMs / 1000);
  gauge('discovery_candidates', 'Candidate nodes in the last discovery result.', (s) => s.discoveryCandidates);
  gauge('pubsub_topics', 'Topics with subscribers on this node.', (s) => s.pubsubTopics);
  gauge('pubsub_subscriptions', '(topic, subscriber) pairs on this node.', (s) => s.pubsubSubscriptions);
  gauge('pubsub_streams', 'Open topic event streams (SSE) on this node.', (s) => s.pubsubStreams);

  const httpLabels = ['route', 'method', 'status'] as const;
  const httpRequests = new Counter({
    name: `${METRIC_PREFIX}http_requests_total`,
    help: 'HTTP requests answered by the facade, by route pattern, method and status.',
    labelNames: httpLabels,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'Time to answer an HTTP request, by route pattern, method and status.',
    labelNames: httpLabels,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      try {
        scrapeSnapshot = source();
      } catch {
        scrapeSnapshot = undefined;
      }
      try {
        const text = await registry.metrics();
        return scrapeSnapshot?.raft === undefined ? text : text + renderRaftMetrics(scrapeSnapshot.raft, METRIC_PREFIX);
      } finally {
        scrapeSnapshot = undefined;
      }
    },
    observeHttpRequest({ route, method, status }, durationSeconds) {
      const labels = { route, method, status: String(status) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, durationSeconds);
    },
  };
}

/**
 * Turns successive readings of cumulative counts (one per label value) into
 * increments. A reading below the previous one means the source restarted
 * from zero: the whole reading is new.
 */
export function deltaTracker(): (label: string, value: number) => number {
  const last = new Map<string, number>();
  return (label, value) => {
    if (!Number.isFinite(value) || value < 0) return 0;
    const previous = last.get(label) ?? 0;
    last.set(label, value);
    return value >= previous ? value - previous : value;
  };
}
