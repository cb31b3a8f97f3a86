/**
 * startNode: the one place that wires a troupe node together.
 *
 * Order of start: durable state (the node's one LMDB environment; allocate this start's generation) →
 * transport (listen) → actor system with the supervised membership actor →
 * data layer (raft host, router, tables: lib/data-layer.ts) → actor layer (lib/actor-layer.ts) → cluster
 * operations → discovery (lib/discovery-feed.ts: candidates feed the
 * membership actor's seed retry) → event-loop
 * monitor (lag is carried in acks) → HTTP facade. Stop runs the reverse, after
 * a graceful leave so peers see this node `left`, never `down`.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import { MemberEvents } from '../actors/member-events.js';
import type { RaftHostHandle } from '../actors/raft-host-actor.js';
import { startDataLayer, type DataLayer } from './data-layer.js';
import { startActorLayer, type ActorLayer, type ClusterActors, type ClusterNames, type Topics } from './actor-layer.js';
import type { StateMachineFactory } from './raft/state-machine.js';
import { spawnMembershipActor, type MembershipActorHandle, type MembershipSnapshot } from '../actors/membership-actor.js';
import type { Discovery } from '../discovery/index.js';
import { startDiscoveryFeed } from './discovery-feed.js';
import { cookieWarnings, loadConfig, type TroupeConfig } from './config.js';
import { createNodeTransport, startNodeTransport } from './node-transport.js';
import { ClusterOperations } from './cluster-operations.js';
import { formatAddress, nodeHost } from './node-address.js';
import { Rpc } from './rpc/rpc.js';
import type { RaftRouter } from './raft/forwarding.js';
import type { TablesApi } from './tables/tables-api.js';
import { createDebugHooks } from './http/routes/debug.js';
import { LinkFailures } from './link-failures.js';
import { buildNodeStatus, memberStatus } from './node-status.js';
import { membershipEventEmitter, type TroupeNodeEvents } from './node-events.js';
import { raftConfigFor, seedRetryConfigFor, swimConfigFor } from './protocol-settings.js';
import { writePortsFile } from './storage/ports-file.js';
import { NotRunningError } from './errors.js';
import { reportLagChanges, startEventLoopMonitor, type EventLoopMonitor } from './event-loop-monitor.js';
import { startFacade } from './http/facade.js';
import { createLogger, type Logger } from './log.js';
import { buildDiscoveryReport } from './discovery-report.js';
import { nodeStatsSnapshot } from './node-stats.js';
import type { CallOptions, ClusterNodeApi, DiscoveryReport, MemberState, MemberStatus, NodeStatsSnapshot, NodeStatus } from './node-api.js';
import { SeededRandom } from './protocol/random.js';
import { NodeStateStore } from './storage/node-state.js';
import { NodeStorage } from './storage/node-storage.js';
import type { Transport } from './transport/transport.js';

export interface StartNodeOptions {
  /** Settings; missing ones take their defaults (the config file and environment are not read). */
  config?: Partial<TroupeConfig>;
  /** A configuration already loaded and validated by `loadConfig` (the CLI's): used as is, not loaded again. */
  loadedConfig?: TroupeConfig;
  /** Use this logger instead of a new pino logger at config.logLevel. */
  log?: Logger;
  /** Enables test hooks (POST /debug/block, /debug/crash/:actor). Also on with TROUPE_TEST_HOOKS=1. */
  testHooks?: boolean;
  signal?: AbortSignal;
  /** State machines of the Raft groups stored on this node, reopened at start. @default the tables' (catalogue and partitions) */
  raftStateMachines?: StateMachineFactory;
}

export type { TroupeNodeEvents } from './node-events.js';

export async function startNode(options: StartNodeOptions = {}): Promise<TroupeNode> {
  const config = options.loadedConfig ?? loadConfig({ env: {}, overrides: options.config, noFile: true });
  const node = new TroupeNode(config, options.log ?? createLogger(config.logLevel, { node: config.nodeName }), options.testHooks ?? process.env.TROUPE_TEST_HOOKS === '1', options.raftStateMachines);
  try {
    await node.start(options.signal);
  } catch (err) {
    await node.stop({ leave: false }).catch(() => {});
    throw err;
  }
  return node;
}

export class TroupeNode extends EventEmitter<TroupeNodeEvents> implements ClusterNodeApi {
  readonly name: string;
  readonly startedAt = new Date();
  generation = 0;
  address = '';
  httpPort = 0;
  clusterPort = 0;
  /** The nact actor system: spawn application actors under it. */
  system: Ref<never> | undefined;

  /** The node's one LMDB environment: opened first, closed last. */
  private storage: NodeStorage | undefined;
  private store: NodeStateStore | undefined;
  private memberEvents: MemberEvents | undefined;
  /** The multi-Raft host: every Raft group replica on this node. */
  get raft(): RaftHostHandle | undefined { return this.data?.raft; }
  /** Sends a group's proposals and reads to its leader, from any node (lib/raft/forwarding.ts). */
  get router(): RaftRouter | undefined { return this.data?.router; }
  private data: DataLayer | undefined;
  private actorLayer: ActorLayer | undefined;
  private transport: Transport | undefined;
  private membership: MembershipActorHandle | undefined;
  private discoverer: Discovery | undefined;
  private lagMonitor: EventLoopMonitor | undefined;
  private http: { port: number; close(): Promise<void> } | undefined;
  private snapshot: MembershipSnapshot | undefined;
  private operations: ClusterOperations | undefined;
  private running = false;
  private stopping: Promise<void> | undefined;
  private actorRestarts = 0;
  /** Set when a system actor exhausted its restart budget: the node is no longer live. */
  private failedActor: string | undefined;
  /** Why candidates are not members, for the discovery report. */
  private readonly linkFailures = new LinkFailures();

  constructor(
    readonly config: TroupeConfig,
    readonly log: Logger,
    private readonly testHooks: boolean,
    private readonly raftStateMachines?: StateMachineFactory,
  ) {
    super();
    this.name = config.nodeName;
  }

  /** @internal use startNode */
  async start(signal?: AbortSignal): Promise<void> {
    const { config, log } = this;
    signal?.throwIfAborted();
    this.storage = NodeStorage.open(config.dataDir);
    this.store = new NodeStateStore(this.storage);
    this.generation = this.store.nextGeneration(Date.now());
    const random = new SeededRandom(randomInt(2 ** 32 - 1));
    for (const warning of cookieWarnings(config)) log.warn(warning);

    this.transport = createNodeTransport(config, { name: this.name, generation: this.generation }, random.fork(), log.child({ component: 'transport' }));
    const bound = await startNodeTransport(this.transport, config, log, signal);
    this.clusterPort = bound.port;
    this.address = formatAddress(nodeHost(config.nodeName), bound.port);
    this.transport.onEvent((event) => this.linkFailures.observe(event));

    this.system = startActorSystem();
    this.membership = spawnMembershipActor(this.system, {
      swimConfig: swimConfigFor(config),
      seedRetryConfig: seedRetryConfigFor(config),
      self: { name: this.name, address: this.address, generation: this.generation },
      transport: this.transport,
      store: this.store,
      random,
      log: log.child({ component: 'membership' }),
      now: () => performance.now(),
      onEvent: membershipEventEmitter(this, this.name, log),
      onSnapshot: (snapshot) => (this.snapshot = snapshot),
      supervision: {
        onRestart: () => this.actorRestarts++,
        onGiveUp: (actor) => {
          this.failedActor = actor;
          log.fatal({ actor }, `system actor ${actor} keeps crashing; this node is no longer live and should be restarted`);
        },
      },
    });

    this.memberEvents = new MemberEvents(this, log.child({ component: 'member-events' }));
    const transport = this.transport;
    // One Rpc per transport: the 'rpc' channel has one handler, shared by every service.
    const rpc = new Rpc(transport);
    this.data = startDataLayer({
      system: this.system, self: this.name, storage: this.storage, bornAt: this.store.bornAt(), transport, rpc, memberEvents: this.memberEvents,
      members: () => this.members(), dialFailed: (address) => this.linkFailures.dials.has(address), raftConfig: raftConfigFor(config),
      defaultReplicationFactor: config.replicationFactor, random, log, onActorRestart: () => this.actorRestarts++, stateMachines: this.raftStateMachines,
    });
    this.actorLayer = startActorLayer({ self: this.name, generation: this.generation, system: this.system, transport, rpc, memberEvents: this.memberEvents, members: () => this.members(), leaderChanges: this.data.onLeaderChange, tables: this.data.tables.service, config, log: log.child({ component: 'actors' }) });
    this.operations = new ClusterOperations({
      config, name: this.name, address: () => this.address, transport, rpc, membership: this.membership,
      members: () => this.members(), selfState: () => this.selfState(), events: this as EventEmitter, beforeLeave: () => this.actorLayer?.beforeLeave(),
    });
    const feed = await startDiscoveryFeed({
      config, log: log.child({ component: 'discovery' }), transport, membership: this.membership, signal,
      self: { name: this.name, address: this.address, port: this.clusterPort, generation: this.generation },
    });
    this.discoverer = feed.discovery;
    const candidates = feed.candidates;

    this.lagMonitor = startEventLoopMonitor();
    reportLagChanges(this.lagMonitor, (lagMs) => this.membership?.send({ type: 'lag', lagMs }));

    // Test hook: crashes a system actor (its supervisor restarts it); false for an unknown actor.
    const crashActor = (actor: string): boolean => actor === 'membership' && (this.membership?.send({ type: 'crash' }), true);
    const debug = this.testHooks ? createDebugHooks({ crashActor, restarts: () => this.actorRestarts }) : undefined;
    this.http = await startFacade(this, config, log.child({ component: 'http' }), debug);
    signal?.throwIfAborted();
    this.httpPort = this.http.port;
    this.running = true;
    writePortsFile(config.dataDir, { pid: process.pid, node: this.name, http: this.httpPort, cluster: this.clusterPort, address: this.address, generation: this.generation });
    log.info({ address: this.address, httpPort: this.httpPort, generation: this.generation, candidates }, 'node started');
  }

  /** Actors across nodes (docs/ACTORS.md): dispatch and query on any reference, local or remote. */
  get actors(): ClusterActors | undefined { return this.actorLayer?.actors; }
  /** Pub/sub across the cluster (docs/ACTORS.md, "Pub/sub"); served over HTTP under /api/topics. */
  get topics(): Topics | undefined { return this.actorLayer?.topics; }
  /** Cluster-wide names and singletons (docs/ACTORS.md#names-and-singletons). */
  get names(): ClusterNames | undefined { return this.actorLayer?.names; }
  /** The replicated tables (docs/TABLES.md); served over HTTP under /api/tables. */
  get tables(): TablesApi | undefined { return this.data?.tables.service; }

  /** Every member this node knows, itself included. */
  members(): MemberStatus[] {
    return (this.snapshot?.members ?? []).map((m) => memberStatus(m, this.name)).sort((a, b) => a.name.localeCompare(b.name));
  }

  selfState(): MemberState {
    return this.snapshot?.self.state ?? 'joining';
  }

  status(): NodeStatus {
    const { config } = this;
    const status = buildNodeStatus({
      node: { name: this.name, address: this.address, generation: this.generation, clusterName: config.clusterName, httpPort: this.httpPort, clusterPort: this.clusterPort, startedAt: this.startedAt, eventLoopLagMs: this.lagMonitor?.lagMs() ?? 0 },
      selfState: this.selfState(),
      members: this.members(),
      discovery: config.clusteringEnabled && this.discoverer ? { mode: this.discoverer.mode, state: this.discoverer.state() } : undefined,
      nowMs: Date.now(),
    });
    return this.data === undefined ? status : { ...status, raft: { groups: this.data.report.groups() } };
  }

  discovery(): DiscoveryReport {
    return buildDiscoveryReport({
      state: this.discoverer?.state(),
      status: this.status().discovery,
      members: this.members(),
      selfAddress: this.address,
      resolve: (address) => this.transport?.resolve(address) ?? address,
      handshakeFailures: this.linkFailures.handshakes,
      dialFailures: this.linkFailures.dials,
    });
  }

  stats(): NodeStatsSnapshot {
    return nodeStatsSnapshot({
      members: this.snapshot?.members ?? [],
      swim: this.snapshot?.stats,
      swimDroppedInShell: this.membership?.droppedInbound() ?? 0,
      link: this.transport?.stats(),
      links: this.transport?.links().length ?? 0,
      discovery: this.discoverer?.state(),
      eventLoopLagMs: this.lagMonitor?.lagMs() ?? 0,
      ...(this.data ? { raft: this.data.metrics() } : {}), actors: this.actors?.stats, pubsub: this.topics?.stats,
    });
  }

  isLive(): boolean {
    return this.running && this.failedActor === undefined;
  }

  /** Joined, and the data layer is ready (lib/data-layer.ts). */
  isReady(): boolean {
    return this.isLive() && this.selfState() === 'up' && (this.data?.ready() ?? true);
  }

  join(node: string, options: CallOptions = {}): Promise<void> {
    return this.operationsOrThrow().join(node, options);
  }

  leave(options: CallOptions = {}): Promise<void> {
    return this.operationsOrThrow().leave(options);
  }

  remove(name: string, options: CallOptions = {}): Promise<void> {
    return this.operationsOrThrow().remove(name, options);
  }

  /** Graceful leave (unless `leave: false`), then closes everything. Idempotent. */
  stop(options: { leave?: boolean } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.leave ?? true);
    return this.stopping;
  }

  private async shutdown(leave: boolean): Promise<void> {
    // A start that failed reports its one error; "node stopped" would only add a line to it.
    const wasRunning = this.running;
    if (leave && this.running && this.config.clusteringEnabled && this.selfState() !== 'left') {
      await this.leave().catch((err) => this.log.warn({ err }, 'graceful leave did not complete; stopping anyway'));
    }
    this.running = false;
    await this.http?.close().catch(() => {});
    await this.discoverer?.close().catch(() => {});
    this.lagMonitor?.stop();
    await this.transport?.stop().catch(() => {});
    this.membership?.stop();
    this.actorLayer?.stop();
    await this.data?.stop();
    this.memberEvents?.close();
    if (this.system) stopActor(this.system);
    await this.store?.close().catch(() => {});
    await this.storage?.close().catch(() => {});
    if (wasRunning) this.log.info('node stopped');
  }

  private operationsOrThrow(): ClusterOperations {
    if (!this.running || this.operations === undefined) throw new NotRunningError(`node ${this.name}`);
    return this.operations;
  }
}
