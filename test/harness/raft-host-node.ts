/**
 * Multi-Raft hosts for tests and the idle benchmark: N nodes in one process,
 * each with its own LMDB environment (a temporary DATA_DIR), a memory
 * transport on one shared hub, an actor system and a raft host actor; and a
 * small LMDB state machine that records every applied command by group and
 * index (so a test sees a re-applied or skipped entry).
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'lmdb';
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact';
import pino from 'pino';
import { MemberEvents, type MemberEventType } from '../../actors/member-events.js';
import { spawnRaftHostActor, type RaftHostHandle } from '../../actors/raft-host-actor.js';
import type { MemberStatus } from '../../lib/node-api.js';
import { SeededRandom } from '../../lib/protocol/random.js';
import { localTestRaftConfig, type RaftConfig } from '../../lib/protocol/raft/config.js';
import type { Entry } from '../../lib/protocol/raft/types.js';
import type { StateMachine } from '../../lib/raft/state-machine.js';
import { NodeStorage } from '../../lib/storage/node-storage.js';
import { createMemoryTransport, MemoryHub } from '../../lib/transport/memory-transport.js';
import type { Transport } from '../../lib/transport/transport.js';

const dec = new TextDecoder();

/** Records each applied command at [group, index]; `applyCalls` counts calls per (group, index) across restarts of the host. */
export class RecordingStateMachine implements StateMachine {
  readonly db: Database<string, (string | number)[]>;
  /** Throws (once) when it applies this command. */
  failOn: string | null = null;

  constructor(readonly storage: NodeStorage, readonly group: string, readonly applyCalls: Map<number, number> = new Map()) {
    this.db = storage.openDB<string, (string | number)[]>('test-sm', { keyEncoding: 'ordered-binary' });
  }

  apply(entry: Entry): unknown {
    const command = dec.decode(entry.data);
    this.db.putSync([this.group, entry.index], command);
    if (command === this.failOn) {
      this.failOn = null;
      throw new Error(`state machine fails on ${command}`);
    }
    this.applyCalls.set(entry.index, (this.applyCalls.get(entry.index) ?? 0) + 1);
    return `applied ${command}`;
  }

  /** Commands applied durably, in index order. */
  commands(): string[] {
    return [...this.db.getRange({ start: [this.group], end: [this.group, Number.MAX_SAFE_INTEGER] })].map((e) => e.value);
  }
}

export interface TestRaftNode {
  name: string;
  dir: string;
  storage: NodeStorage;
  transport: Transport;
  system: Ref<never>;
  members: MemberEvents;
  emitter: EventEmitter;
  raft: RaftHostHandle;
  machines: Map<string, RecordingStateMachine>;
  applyCalls: Map<string, Map<number, number>>;
}

export interface RaftTestCluster {
  nodes: TestRaftNode[];
  names: string[];
  /** Stops and reopens one node's host and storage from its data directory (a process restart). */
  restart(node: TestRaftNode): Promise<TestRaftNode>;
  /** Tells every other node that `node` is down, as membership would. */
  reportDown(node: TestRaftNode): void;
  close(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  config?: Partial<RaftConfig>;
  quiesceAfterTicks?: number;
  silent?: boolean;
  /** The state machine of a group, when not a RecordingStateMachine (e.g. a table partition); called at creation and at every restart. */
  stateMachineFor?: (storage: NodeStorage, group: string, node: string) => StateMachine | undefined;
}

function status(name: string, address: string, state: MemberStatus['state']): MemberStatus {
  return { name, address, state, incarnation: 0, generation: 1, lastHeartbeatAgoMs: null, lagMs: 0, self: false };
}

export async function startRaftCluster(options: ClusterOptions): Promise<RaftTestCluster> {
  const hub = new MemoryHub();
  const names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}@127.0.0.1`);
  const addresses = new Map<string, string>();
  const log = pino({ level: 'silent' });
  const transports = new Map<string, Transport>();
  for (const [i, name] of names.entries()) {
    const transport = createMemoryTransport(hub, {
      self: { name, generation: 1 }, advertisedAddress: '127.0.0.1:0', bindHost: '127.0.0.1', port: 0, clusterName: 'raft-test',
      cookie: 'raft-test-cookie', backoff: { baseMs: 20, maxMs: 200 }, random: new SeededRandom(100 + i), log,
    });
    addresses.set(name, (await transport.start()).address);
    transports.set(name, transport);
  }
  const initial = names.map((n) => status(n, addresses.get(n)!, 'up'));

  const startNode = (name: string, dir: string, transport: Transport, applyCalls: Map<string, Map<number, number>>, seed: number): TestRaftNode => {
    const storage = NodeStorage.open(dir);
    const emitter = new EventEmitter();
    const members = new MemberEvents(emitter as never, log, initial);
    const system = startActorSystem();
    const machines = new Map<string, RecordingStateMachine>();
    const machineFor = (group: string): StateMachine => {
      const own = options.stateMachineFor?.(storage, group, name);
      if (own !== undefined) return own;
      let sm = machines.get(group);
      if (sm === undefined) {
        if (!applyCalls.has(group)) applyCalls.set(group, new Map());
        sm = new RecordingStateMachine(storage, group, applyCalls.get(group)!);
        machines.set(group, sm);
      }
      return sm;
    };
    const raft = spawnRaftHostActor(system, {
      self: name, storage, transport, members, stateMachineFor: machineFor,
      config: { ...localTestRaftConfig(), ...options.config }, random: new SeededRandom(seed), log,
      ...(options.quiesceAfterTicks !== undefined ? { quiesceAfterTicks: options.quiesceAfterTicks } : {}),
    });
    return { name, dir, storage, transport, system, members, emitter, raft, machines, applyCalls };
  };

  const nodes = names.map((name, i) => startNode(name, mkdtempSync(join(tmpdir(), 'troupe-raft-host-')), transports.get(name)!, new Map(), i + 1));
  let restarts = 0;
  const stopNode = async (node: TestRaftNode): Promise<void> => {
    await node.raft.stop();
    stopActor(node.system);
    node.members.close();
    await node.storage.close();
  };
  return {
    nodes,
    names,
    async restart(node) {
      await stopNode(node);
      const fresh = startNode(node.name, node.dir, node.transport, node.applyCalls, 50 + ++restarts);
      nodes[nodes.indexOf(node)] = fresh;
      return fresh;
    },
    reportDown(down) {
      for (const n of nodes) if (n !== down) n.members.publish('member-down' as MemberEventType, status(down.name, addresses.get(down.name)!, 'down'));
    },
    async close() {
      for (const n of nodes) {
        await stopNode(n).catch(() => {});
        await n.transport.stop().catch(() => {});
        rmSync(n.dir, { recursive: true, force: true });
      }
    },
  };
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Creates `groups` groups on every node, voters = all nodes; group i campaigns on node i mod n. */
export async function createGroups(cluster: RaftTestCluster, groups: string[]): Promise<void> {
  const membership = { voters: [...cluster.names].sort(), learners: [] };
  await Promise.all(cluster.nodes.flatMap((n, ni) => groups.map((g, gi) =>
    n.raft.createGroup(g, membership, n.raft.host().status(g) === null ? machineOf(n, g) : machineOf(n, g), { campaign: gi % cluster.nodes.length === ni }))));
}

function machineOf(node: TestRaftNode, group: string): StateMachine {
  let sm = node.machines.get(group);
  if (sm === undefined) {
    if (!node.applyCalls.has(group)) node.applyCalls.set(group, new Map());
    sm = new RecordingStateMachine(node.storage, group, node.applyCalls.get(group)!);
    node.machines.set(group, sm);
  }
  return sm;
}

/** The node that leads `group` (as seen by itself), if any. */
export function leaderOf(cluster: RaftTestCluster, group: string): TestRaftNode | undefined {
  return cluster.nodes.find((n) => n.raft.host().status(group)?.role === 'leader');
}
