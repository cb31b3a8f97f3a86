/**
 * A scripted `ClusterNodeApi` for facade tests: records calls, and lets each
 * test decide what join/leave/remove do.
 */
import { defaultConfig, type TroupeConfig } from '../../../lib/config.js';
import type { CallOptions, ClusterNodeApi, DiscoveryReport, MemberStatus, NodeStatsSnapshot, NodeStatus } from '../../../lib/node-api.js';
import { pino } from 'pino';

export const silentLog = pino({ level: 'silent' });

export const LOOPBACK = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
export const REMOTE = { incoming: { socket: { remoteAddress: '10.1.2.3' } } };

export function member(name: string, overrides: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name,
    address: `${name.slice(name.indexOf('@') + 1)}:9100`,
    state: 'up',
    incarnation: 1,
    generation: 1,
    lastHeartbeatAgoMs: 120,
    lagMs: 2,
    self: false,
    ...overrides,
  };
}

export function zeroStats(): NodeStatsSnapshot {
  return {
    membersByState: { joining: 0, up: 2, suspect: 0, down: 1, leaving: 0, left: 0 },
    probesSent: 10,
    probesFailed: 1,
    indirectProbesSent: 2,
    suspicionsRaised: 1,
    suspicionsRefuted: 0,
    swimMessagesDropped: 0,
    linkFramesSent: 100,
    linkFramesReceived: 90,
    linkBytesSent: 4096,
    linkBytesReceived: 4000,
    linkFramesDropped: 0,
    linkReconnects: 3,
    links: 2,
    handshakeFailures: { cookie: 1 },
    eventLoopLagMs: 4,
    discoveryQueries: 5,
    discoveryFailures: { timeout: 2 },
    discoveryCandidates: 3,
    actorMessagesSent: 7,
    actorMessagesReceived: 6,
    actorQueriesSent: 2,
    actorQueriesServed: 1,
    actorDeadLetters: { 'no-such-actor': 1 },
    pubsubPublished: 7,
    pubsubFramesSent: 6,
    pubsubFramesReceived: 5,
    pubsubDelivered: 4,
    pubsubDropped: { 'link-full': 1 },
    pubsubSyncRequests: 2,
    pubsubTopics: 3,
    pubsubSubscriptions: 8,
    pubsubStreams: 1,
  };
}

export class FakeNode implements ClusterNodeApi {
  readonly config: TroupeConfig = { ...defaultConfig('localhost'), nodeName: 'n1@127.0.0.1', dataDir: '/tmp/troupe-fake' };
  live = true;
  ready = true;
  members: MemberStatus[] = [member('n1@127.0.0.1', { self: true, lastHeartbeatAgoMs: null, incarnation: 3 }), member('n2@127.0.0.1')];
  stats_: NodeStatsSnapshot = zeroStats();
  calls: Array<{ method: string; args: unknown[] }> = [];
  joinImpl: (node: string) => Promise<void> = async (node) => {
    this.members.push(member(node.replace(/:\d+$/, '')));
  };
  leaveImpl: () => Promise<void> = async () => {};
  removeImpl: (name: string) => void = (name) => {
    this.members = this.members.filter((m) => m.name !== name);
  };
  statusImpl?: () => NodeStatus;

  status(): NodeStatus {
    if (this.statusImpl) return this.statusImpl();
    return {
      node: {
        name: 'n1@127.0.0.1',
        address: '127.0.0.1:9100',
        generation: 1,
        state: this.ready ? 'up' : 'joining',
        clusterName: 'troupe',
        httpPort: 4000,
        clusterPort: 9100,
        startedAt: '2024-01-01T00:00:00.000Z',
        uptimeMs: 1000,
        eventLoopLagMs: 1,
      },
      healthy: true,
      members: this.members,
      discovery: { modes: ['static'], candidates: ['127.0.0.1:9101'], lastPollAt: null, lastError: null, unavailable: null },
    };
  }
  discovery(): DiscoveryReport {
    return {
      ...this.status().discovery,
      queries: 3,
      failures: { nxdomain: 1 },
      records: [{ source: 'dns', type: 'SRV', name: '_troupe._tcp.test.local', ttl: 30, data: '0 0 9101 n1.test.local' }],
      candidateReports: [{ address: '127.0.0.1:9101', name: 'n1@127.0.0.1', source: 'static', outcome: 'wrong-cookie', detail: 'cookie challenge failed' }],
      perMode: [{ mode: 'static', candidates: 1 }],
    };
  }
  stats(): NodeStatsSnapshot {
    return this.stats_;
  }
  isLive(): boolean {
    return this.live;
  }
  isReady(): boolean {
    return this.ready;
  }
  async join(node: string, options?: CallOptions): Promise<void> {
    this.calls.push({ method: 'join', args: [node, options] });
    await this.joinImpl(node);
  }
  async leave(options?: CallOptions): Promise<void> {
    this.calls.push({ method: 'leave', args: [options] });
    await this.leaveImpl();
  }
  async remove(name: string): Promise<void> {
    this.calls.push({ method: 'remove', args: [name] });
    this.removeImpl(name);
  }
}
