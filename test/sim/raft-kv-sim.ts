/**
 * The Raft key-value simulation: `nodes` simulated nodes, each hosting SWIM
 * membership and one member of each of `groups` Raft groups (every node a
 * voter of every group), on one seeded network and one virtual clock.
 * Clients per group run get/put/cas on a few keys while a fault schedule
 * drawn from the seed runs: crash and restart (unsynced writes lost),
 * message loss, duplication, delay and reordering, symmetric and one-way
 * partitions, isolation of a group's current leader. Then the network heals,
 * every node restarts, and the run settles so histories complete.
 *
 * Checked: Raft invariants after every step (raft-protocol.ts), SWIM's
 * after every step, every group elects a leader once healed, and every
 * group's history is linearizable per key. Any failure is a SimFailure
 * naming the seed, with the trace tail and the offending key's history.
 */

import { localTestRaftConfig, type RaftConfig } from '../../lib/protocol/raft/config.js';
import { SeededRandom } from '../../lib/protocol/random.js';
import { Checker } from './checker.js';
import { SimHost } from './host.js';
import { KvClient } from './kv-clients.js';
import { checkKvHistory, type Operation } from './linearizability.js';
import { HEALTHY_NETWORK, type NetworkConfig } from './network.js';
import { RaftInvariants, RaftKvMember, SimDisk, type ShellFault } from './raft-protocol.js';
import { simConfig } from './scenarios.js';
import { SwimProtocol } from './swim-protocol.js';

export interface RaftKvSimOptions {
  seed: number;
  nodes?: number;
  groups?: number;
  clientsPerGroup?: number;
  keysPerGroup?: number;
  /** Length of the fault phase, virtual ms. */
  faultMs?: number;
  /** Healed time after it, during which clients keep going, virtual ms. */
  settleMs?: number;
  /** Inject faults (off for the throughput benchmark). */
  faults?: boolean;
  /** Host SWIM beside the Raft groups. @default true */
  swim?: boolean;
  fault?: ShellFault;
  raft?: Partial<RaftConfig>;
  network?: NetworkConfig;
  /** Client pacing; the benchmark runs them flat out. */
  thinkMs?: number;
  /** Batch client requests per millisecond (RaftMemberOptions.batch). @default drawn from the seed */
  batch?: boolean;
  /** Share of operations that are gets, 0..1. @default 0.4 */
  readShare?: number;
  /** Check the histories for linearizability (the benchmark measures the cluster alone). @default true */
  checkHistories?: boolean;
  /** Range of one fsync, ms. @default [1, 6], or [5, 40] for 30% of seeds */
  diskMs?: [number, number];
}

export interface RaftKvSimResult {
  hash: string;
  traceLines: number;
  steps: number;
  operations: number;
  ok: number;
  unknown: number;
  committed: number;
  snapshotsRestored: number;
  crashes: number;
  faultsInjected: string[];
}

/** Raft timing in the simulator: the default ratios at a 50 ms heartbeat (virtual time is free, CPU is not). */
export function simRaftConfig(overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    ...localTestRaftConfig(),
    electionTimeoutMinMs: 500,
    electionTimeoutMaxMs: 1000,
    heartbeatIntervalMs: 50,
    snapshotThresholdEntries: 24, // small, so snapshots are made, sent and installed under faults
    snapshotTrailingEntries: 6,
    snapshotChunkBytes: 96,
    maxBytesPerAppend: 512,
    ...overrides,
  };
}

/**
 * How long after the clients stop every group must have a leader, virtual ms.
 * Without pre-vote, nodes with stale logs that time out first keep raising
 * the term and resetting the others' timers, so an election can take many
 * timeouts (thesis §9.6); ten seconds is twenty of the longest.
 */
const LIVENESS_MS = 10_000;

function describeOp(op: Operation): string {
  const i = op.input;
  const what = i.op === 'get' ? `get ${i.key}` : i.op === 'put' ? `put ${i.key}=${JSON.stringify(i.value)}` : `cas ${i.key} ${JSON.stringify(i.expected)}->${JSON.stringify(i.value)}`;
  const out = op.output === undefined ? '?' : JSON.stringify(op.output);
  return `c${op.client} [${op.callAt}, ${op.returnAt ?? '∞'}] ${what} => ${out}`;
}

export function runRaftKvSim(options: RaftKvSimOptions): RaftKvSimResult {
  const seed = options.seed;
  const nodes = options.nodes ?? 5;
  const groups = options.groups ?? 8;
  const clientsPerGroup = options.clientsPerGroup ?? 3;
  const keysPerGroup = options.keysPerGroup ?? 3;
  const faultMs = options.faultMs ?? 2500;
  const settleMs = options.settleMs ?? 1500;
  const injectFaults = options.faults ?? true;
  const fault = options.fault ?? 'none';
  // Per-seed variation of the protocol features comes from its own stream, so it never shifts the others.
  const features = new SeededRandom(seed ^ 0x5eed);
  const raftConfig = simRaftConfig({ preVote: features.next() < 0.8, checkQuorum: features.next() < 0.8, ...options.raft });
  const batch = options.batch ?? features.next() < 0.5;
  const diskMs = options.diskMs ?? (features.next() < 0.3 ? [5, 40] : [1, 6]); // a slow disk widens the window a crash can hit

  const host = new SimHost({ seed, size: nodes, network: options.network ?? HEALTHY_NETWORK });
  const invariants = new RaftInvariants();
  const swimChecker = new Checker({ noFalseDown: false });
  const addresses = host.nodes.map((n) => n.address);
  const byName = new Map(host.nodes.map((n) => [n.name, n.address]));
  const membership = { voters: host.nodes.map((n) => n.name).sort(), learners: [] };
  const members: RaftKvMember[][] = Array.from({ length: groups }, () => []);
  const replyRandom = host.fork();
  for (const node of host.nodes) {
    if (options.swim ?? true) host.attach(node.index, (port) => new SwimProtocol(port, simConfig(), () => host.fork(), () => addresses, swimChecker));
    const disk = new SimDisk(host.fork(), diskMs[0], diskMs[1]);
    for (let g = 0; g < groups; g++) {
      const member = host.attach(node.index, (port) => new RaftKvMember(port, {
        group: `g${g}`, membership, config: raftConfig, disk, random: () => host.fork(), addressOf: (id) => byName.get(id) ?? id,
        invariants, fault, replyDelayMs: () => 1 + replyRandom.int(4), batch,
      })) as RaftKvMember;
      members[g]!.push(member);
    }
  }

  const histories: Operation[][] = Array.from({ length: groups }, () => []);
  const clients: KvClient[] = [];
  const endAt = faultMs + settleMs;
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < clientsPerGroup; c++) {
      const client = new KvClient(g * 100 + c, host, members[g]!, host.fork(), histories[g]!, {
        keys: Array.from({ length: keysPerGroup }, (_, k) => `g${g}/k${k}`), deadlineMs: 1200, thinkMs: options.thinkMs ?? 100,
        requestDelayMs: 3, retryMs: 25, readsAnywhere: fault === 'local-reads', readShare: options.readShare ?? 0.4,
      });
      client.run(100 + host.random.int(200), endAt);
      clients.push(client);
    }
  }

  const faultsInjected: string[] = [];
  if (injectFaults) scheduleFaults(host, members, faultMs, faultsInjected);
  host.failureDetail = null;
  host.startAll();
  host.run(endAt);
  // Let every operation in flight complete or time out, and every group elect a leader (liveness once healed).
  const leaderless = () => members.filter((group) => !group.some((m) => m.core?.role === 'leader')).map((group) => group[0]!.channel);
  for (let t = 0; t < LIVENESS_MS / 100 && (clients.some((c) => !c.idle) || leaderless().length > 0); t++) host.run(host.now + 100);
  if (leaderless().length > 0) host.fail(`no leader in ${leaderless().join(', ')} ${host.now - faultMs} ms after the network healed`);
  let ok = 0;
  let unknown = 0;
  for (let g = 0; g < groups && (options.checkHistories ?? true); g++) {
    const result = checkKvHistory(histories[g]!);
    if (!result.ok) {
      const ops = [...result.operations!].sort((a, b) => a.callAt - b.callAt);
      host.failureDetail = () => `history of key ${result.key} (${ops.length} operations in call order; [call, return], ? = unknown outcome):\n  ${ops.map(describeOp).join('\n  ')}`;
      host.fail(`group g${g}: the history of key ${result.key} is not linearizable`);
    }
  }
  for (const c of clients) {
    ok += c.stats.ok;
    unknown += c.stats.unknown;
  }
  let committed = 0;
  let snapshotsRestored = 0;
  for (const group of members) {
    committed += Math.max(...group.map((m) => m.core?.log.committed ?? 0));
    for (const m of group) snapshotsRestored += m.stats.snapshotsRestored;
  }
  return {
    hash: host.trace.hash(), traceLines: host.trace.lines, steps: host.steps, operations: histories.reduce((n, h) => n + h.length, 0), ok, unknown,
    committed, snapshotsRestored, crashes: host.nodes.reduce((n, node) => n + node.restarts, 0), faultsInjected,
  };
}

/**
 * Draws the fault schedule of a seed: a network "weather" (loss,
 * duplication, delay spread), then 4–9 faults at random times in the fault
 * phase, each healed after a while; at `faultMs` everything heals and every
 * node runs again.
 */
function scheduleFaults(host: SimHost, members: RaftKvMember[][], faultMs: number, log: string[]): void {
  const r = host.random;
  const weather: NetworkConfig = {
    lossRate: r.next() * 0.08,
    duplicateRate: r.next() * 0.05,
    minDelayMs: 1,
    maxDelayMs: 4 + r.int(40), // a wide spread reorders messages between a pair
  };
  host.network.setConfig(weather);
  log.push(`weather loss=${weather.lossRate.toFixed(3)} dup=${weather.duplicateRate.toFixed(3)} delay=1..${weather.maxDelayMs}`);
  const n = host.nodes.length;
  const count = 4 + r.int(6);
  for (let k = 0; k < count; k++) {
    const at = 300 + r.int(faultMs - 800);
    const duration = 150 + r.int(1200);
    const kind = r.int(5);
    const victim = r.int(n);
    const other = (victim + 1 + r.int(n - 1)) % n;
    const group = r.int(members.length);
    const split = 1 + r.int(n - 1);
    host.at(at, () => {
      const addr = (i: number) => host.nodes[i]!.address;
      switch (kind) {
        case 0: {
          host.crash(victim);
          host.at(host.now + duration, () => host.start(victim));
          log.push(`${at} crash ${host.nodes[victim]!.name} for ${duration}`);
          return;
        }
        case 1: {
          const order = host.nodes.map((x) => x.index).sort((a, b) => ((a * 7 + victim) % n) - ((b * 7 + victim) % n));
          host.network.partition([order.slice(0, split).map(addr), order.slice(split).map(addr)]);
          log.push(`${at} partition ${order.slice(0, split).map((i) => host.nodes[i]!.name).join(',')} | rest for ${duration}`);
          break;
        }
        case 2: {
          host.network.cutOneWay(addr(victim), addr(other));
          host.network.cutOneWay(addr(victim), addr((other + 1) % n === victim ? (other + 2) % n : (other + 1) % n));
          log.push(`${at} one-way cut from ${host.nodes[victim]!.name} for ${duration}`);
          break;
        }
        case 3: {
          const leader = members[group]!.find((m) => m.core?.role === 'leader');
          const target = leader === undefined ? victim : leader.port.node.index;
          host.network.partition([[addr(target)], host.nodes.filter((x) => x.index !== target).map((x) => x.address)]);
          log.push(`${at} isolate ${host.nodes[target]!.name} (leader of g${group}: ${leader !== undefined}) for ${duration}`);
          break;
        }
        default: {
          // Inbound one-way: the victim hears nobody but is heard (a leader that cannot get acknowledgements).
          for (let i = 0; i < n; i++) if (i !== victim) host.network.cutOneWay(addr(i), addr(victim));
          log.push(`${at} deafen ${host.nodes[victim]!.name} for ${duration}`);
          break;
        }
      }
      host.at(host.now + duration, () => host.network.heal());
    });
  }
  host.at(faultMs, () => {
    host.network.heal();
    host.network.setConfig(HEALTHY_NETWORK);
    host.startAll();
    log.push(`${faultMs} heal all`);
  });
}
