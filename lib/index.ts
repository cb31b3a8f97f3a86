/**
 * troupe's public API.
 *
 * ```ts
 * import { startNode } from 'troupe';
 * const node = await startNode({ config: { nodeName: 'a@127.0.0.1', clusteringEnabled: true, clusterNodes: ['b@127.0.0.1:9101'] } });
 * node.on('member-up', (m) => console.log(m.name, 'is up'));
 * console.log(node.members());
 * await node.stop(); // graceful leave
 * ```
 */
export { startNode, TroupeNode } from './node.js';
export type { StartNodeOptions, TroupeNodeEvents } from './node.js';
export { loadConfig, defaultConfig, localTestConfig, redactConfig, SETTINGS } from './config.js';
export type { TroupeConfig, DiscoveryType, TlsFiles, LoadOptions } from './config.js';
export { parseNodeName, parseNodeLocator, formatLocator, formatAddress, parseAddress, DEFAULT_CLUSTER_PORT_RANGE } from './node-address.js';
export type { NodeLocator, PortRange } from './node-address.js';
export * from './errors.js';
export type { ClusterNodeApi, MemberState, MemberStatus, NodeStatus, NodeStatsSnapshot, DiscoveryStatus, CallOptions } from './node-api.js';
export type { Candidate, Discovery, DiscoveryState } from '../discovery/index.js';
export { registerDiscovery } from '../discovery/index.js';
export { RemoteRef, isRemoteRef } from './remote/actor-ref.js';
export type { ActorRef } from './remote/actor-ref.js';
export { ClusterActors, DEFAULT_QUERY_TIMEOUT_MS, DEFAULT_MAX_MAILBOX } from './remote/cluster-actors.js';
export type { ClusterActorsStats, DeadLetterReason } from './remote/cluster-actors.js';
export type { Terminated, TerminationReason } from './remote/monitors.js';
export type { Behaviour, BehaviourFactory } from './remote/behaviours.js';
