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
export { setActorMessagesPerTurn, actorMessagesPerTurn, DEFAULT_ACTOR_MESSAGES_PER_TURN } from './remote/actor-turns.js';
export type { ClusterActorsStats, DeadLetterReason } from './remote/cluster-actors.js';
export type { Terminated, TerminationReason } from './remote/monitors.js';
export type { Behaviour, BehaviourFactory } from './remote/behaviours.js';
export { Topics, PUBSUB_CHANNEL, LOCAL_SWEEP_INTERVAL_MS } from './remote/topics.js';
export type { TopicMessage, PublishReceipt, TopicsStats, TopicDropReason, TopicsApi } from './remote/topics.js';
export { CLUSTER_TOPIC } from './remote/cluster-topic.js';
export { MAX_TOPIC_STREAMS, MAX_STREAMED_TOPICS, RECENT_MESSAGES_PER_TOPIC, RECENT_BYTES_PER_TOPIC, FEED_LINGER_MS, MAX_QUEUED_EVENTS_PER_STREAM } from './remote/topic-feeds.js';
export type { FeedEvent, FeedStream } from './remote/topic-feeds.js';
export { DEFAULT_MAX_TOPICS_PER_NODE, DEFAULT_MAX_SUBSCRIPTIONS_PER_NODE, DEFAULT_DIGEST_INTERVAL_MS } from './protocol/pubsub/config.js';
export { MAX_TOPIC_CHARS, SYSTEM_TOPIC_PREFIX, topicNameProblem } from './protocol/pubsub/topic-name.js';
export { ClusterNames, DEFAULT_NAMES_TIMEOUT_MS } from './remote/names.js';
export type { NameInfo, WhereisOptions } from './remote/names.js';
export { NAMES_TABLE, SINGLETON_PREFIX, singletonKey } from './remote/name-entry.js';
export type { SingletonHandle } from './remote/singletons.js';
