/**
 * A small in-test network of Raft cores: each node has a MemoryRaftStorage,
 * a toy state machine (the list of applied commands) and a shell loop that
 * follows the Ready contract. Messages wait in one queue until a test
 * delivers, drops or duplicates them; time moves only when a test says so.
 *
 * Persistence is acknowledged at once (`autoPersist`, the default) or held
 * until `flush(id)`, which is how tests show that nothing counts before it
 * is durable. `crash(id)` loses what was not synced and restarts the core
 * from storage, with the state machine restored from the stored snapshot.
 */

import { SeededRandom } from '../../../lib/protocol/random.js';
import { localTestRaftConfig, type RaftConfig } from '../../../lib/protocol/raft/config.js';
import type { RaftMessage } from '../../../lib/protocol/raft/messages.js';
import { RaftCore } from '../../../lib/protocol/raft/raft.js';
import type { RaftEvent, ReadState } from '../../../lib/protocol/raft/ready.js';
import type { Entry, Membership } from '../../../lib/protocol/raft/types.js';
import { MemoryRaftStorage } from '../../../lib/storage/memory-raft-storage.js';

export const GROUP = 'g1';
const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string) => enc.encode(s);
export const text = (b: Uint8Array) => dec.decode(b);

export interface Applied {
  index: number;
  term: number;
  command: string;
}

export interface Node {
  id: string;
  core: RaftCore;
  storage: MemoryRaftStorage;
  /** Commands applied by the state machine, in order (restored from snapshots after a crash). */
  machine: string[];
  appliedIndex: number;
  /** Every application, across restarts: (index, term, command). */
  applications: Applied[];
  events: RaftEvent[];
  readStates: ReadState[];
  autoPersist: boolean;
  /** Persist ids written but not yet acknowledged (autoPersist off). */
  unacked: number[];
  wakeAt: number | null;
  restarts: number;
}

export interface ClusterOptions {
  config?: Partial<RaftConfig>;
  seed?: number;
  /** Initial membership (default: every id a voter). */
  membership?: Membership;
}

export class Cluster {
  readonly nodes = new Map<string, Node>();
  queue: RaftMessage[] = [];
  now = 0;
  /** Pairs "a|b" that cannot talk (both directions). */
  readonly cut = new Set<string>();
  readonly config: RaftConfig;
  private readonly random: SeededRandom;
  private readonly membership: Membership;

  constructor(ids: string[], options: ClusterOptions = {}) {
    this.config = { ...localTestRaftConfig(), ...options.config };
    this.random = new SeededRandom(options.seed ?? 1);
    this.membership = options.membership ?? { voters: [...ids].sort(), learners: [] };
    for (const id of ids) this.add(id);
  }

  /** Adds a node with empty storage (a new member, or one of the initial ones). */
  add(id: string, membership: Membership = this.membership): Node {
    const storage = new MemoryRaftStorage(GROUP, { autoSync: false });
    const node: Node = {
      id, storage, core: undefined as unknown as RaftCore, machine: [], appliedIndex: 0, applications: [], events: [], readStates: [],
      autoPersist: true, unacked: [], wakeAt: null, restarts: 0,
    };
    node.core = new RaftCore(this.config, { id, group: GROUP, membership }, this.random.fork(), this.now);
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): Node {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: string): RaftCore {
    return this.node(id).core;
  }

  /** Runs the shell loop of one node until its Ready is empty. */
  process(id: string): void {
    const n = this.node(id);
    for (let guard = 0; guard < 1000; guard++) {
      const rd = n.core.ready();
      n.wakeAt = rd.nextWakeAt;
      const empty = rd.messages.length === 0 && rd.events.length === 0 && rd.readStates.length === 0 && rd.persist === null &&
        rd.apply.snapshot === null && rd.apply.entries.length === 0;
      if (empty) return;
      if (rd.persist !== null) {
        n.storage.write(rd.persist).catch(() => {}); // a crash rejects unsynced writes; the test restarts from storage
      }
      for (const out of rd.messages) this.queue.push(out.msg);
      if (rd.apply.snapshot !== null) {
        n.machine = JSON.parse(text(rd.apply.snapshot.data)) as string[];
        n.appliedIndex = rd.apply.snapshot.meta.index;
      }
      for (const e of rd.apply.entries) this.applyEntry(n, e);
      n.events.push(...rd.events);
      n.readStates.push(...rd.readStates);
      n.core.advance(rd);
      if (rd.persist !== null) {
        if (n.autoPersist) {
          n.storage.sync();
          n.core.step({ type: 'persisted', id: rd.persist.id }, this.now);
        } else {
          n.unacked.push(rd.persist.id);
        }
      }
      if (rd.apply.entries.length > 0 || rd.apply.snapshot !== null) n.core.step({ type: 'applied', index: n.appliedIndex }, this.now);
    }
    throw new Error(`node ${id} never settled`);
  }

  private applyEntry(n: Node, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) throw new Error(`${n.id} applied ${e.index} after ${n.appliedIndex}`);
    n.appliedIndex = e.index;
    const command = e.kind === 'data' ? text(e.data) : e.kind === 'config' ? `config:${e.change!.type}:${e.change!.node}` : '';
    if (e.kind === 'data') n.machine.push(command);
    n.applications.push({ index: e.index, term: e.term, command });
  }

  /** Makes node `id`'s writes durable and acknowledges them (autoPersist off). */
  flush(id: string): void {
    const n = this.node(id);
    n.storage.sync();
    const ids = n.unacked;
    n.unacked = [];
    if (ids.length > 0) n.core.step({ type: 'persisted', id: ids[ids.length - 1]! }, this.now);
    this.process(id);
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  step(id: string, input: Parameters<RaftCore['step']>[0]): void {
    this.node(id).core.step(input, this.now);
    this.process(id);
  }

  propose(id: string, command: string, requestId = command): void {
    this.step(id, { type: 'propose', requestId, data: bytes(command) });
  }

  canTalk(a: string, b: string): boolean {
    return !this.cut.has(`${a}|${b}`) && !this.cut.has(`${b}|${a}`);
  }

  /** Delivers one queued message (or drops it if the link is cut or the node is gone). */
  deliverOne(msg: RaftMessage): void {
    const to = this.nodes.get(msg.to);
    if (to === undefined || !this.canTalk(msg.from, msg.to)) return;
    to.core.step({ type: 'message', msg }, this.now);
    this.process(msg.to);
  }

  /** Takes queued messages matching `pred` out of the queue (to drop, reorder or deliver later). */
  take(pred: (m: RaftMessage) => boolean = () => true): RaftMessage[] {
    const taken = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return taken;
  }

  /** Delivers everything queued, including what that produces, until the queue is empty. */
  stabilize(maxRounds = 10_000): void {
    this.processAll();
    for (let i = 0; i < maxRounds && this.queue.length > 0; i++) {
      const m = this.queue.shift()!;
      this.deliverOne(m);
    }
  }

  /** Moves time to `at` and ticks every node whose wake-up is due. */
  tickTo(at: number): void {
    this.now = Math.max(this.now, at);
    for (const n of this.nodes.values()) {
      if (n.wakeAt !== null && n.wakeAt <= this.now) {
        n.core.step({ type: 'tick' }, this.now);
        this.process(n.id);
      }
    }
  }

  /** Runs the cluster for `ms`: delivers everything, then jumps to the next wake-up, until the time is up. */
  run(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      this.stabilize();
      const next = Math.min(...[...this.nodes.values()].map((n) => n.wakeAt ?? Infinity));
      if (next > end) {
        this.now = end;
        return;
      }
      this.tickTo(next);
    }
    throw new Error('run() did not finish');
  }

  /** The leader of the highest term, if any. */
  leader(): string | null {
    let best: RaftCore | null = null;
    for (const n of this.nodes.values()) if (n.core.role === 'leader' && (best === null || n.core.term > best.term)) best = n.core;
    return best?.id ?? null;
  }

  /** Runs until a leader exists (bounded). */
  elect(maxMs = 5000): string {
    for (let t = 0; t < maxMs; t += 50) {
      this.run(50);
      const l = this.leader();
      if (l !== null) return l;
    }
    throw new Error('no leader elected');
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut.add(`${id}|${other}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Power loss at `id`: unsynced writes are lost, the core restarts from storage. */
  crash(id: string): void {
    const n = this.node(id);
    n.storage.crash();
    const stored = n.storage.load();
    n.machine = stored.snapshot === null ? [] : (JSON.parse(text(stored.snapshot.data)) as string[]);
    n.appliedIndex = stored.snapshot?.meta.index ?? 0;
    n.unacked = [];
    n.restarts++;
    n.core = new RaftCore(this.config, {
      id, group: GROUP, membership: this.membership, hardState: stored.hardState, offset: stored.offset, entries: stored.entries,
      snapshot: stored.snapshot, applied: n.appliedIndex,
    }, this.random.fork(), this.now);
    this.queue = this.queue.filter((m) => m.to !== id); // what was in its socket buffers is gone too
    this.process(id);
  }

  /** Shell side of snapshotting: serialize the state machine at its applied index. */
  snapshot(id: string): void {
    const n = this.node(id);
    this.step(id, { type: 'snapshot-created', index: n.appliedIndex, data: bytes(JSON.stringify(n.machine)) });
  }
}

export const commands = (n: Node) => n.machine;
