/**
 * A deterministic host for any protocol core: simulated nodes, each running
 * several cores (SWIM membership, many Raft groups) behind one small
 * adapter, `SimProtocol`, keyed by a channel name; one seeded network, one
 * virtual clock, one event heap, one trace.
 *
 * Events are message deliveries (per channel), the wake-ups each adapter
 * asks for (`nextWakeAt`, one per adapter), local timers of a node (a disk
 * write completing, a reply leaving the process) and scripted actions. The
 * clock jumps to the earliest; events at one time run in scheduling order.
 * Every draw comes from the seed, so a seed replays bit-for-bit, which the
 * trace hash shows.
 *
 * Process model: crashing a node stops every adapter on it (each drops its
 * volatile state; what its storage synced survives) and cancels its pending
 * wake-ups and local timers, by bumping the node's epoch. Messages that
 * arrive while it is down are lost; restarting starts every adapter again
 * from its durable state.
 */

import { SeededRandom, type Random } from '../../lib/protocol/random.js';
import { SimFailure } from './cluster.js';
import { EventHeap } from './heap.js';
import { HEALTHY_NETWORK, SimNetwork, type NetworkConfig } from './network.js';
import { Trace } from './trace.js';

/** What a protocol core's shell may do in the simulator (one per adapter). */
export interface SimPort {
  readonly node: SimHostNode;
  /** Sends `msg` on this adapter's channel to the node at `address`, through the network. */
  send(address: string, msg: unknown): void;
  /** The one timer of this adapter: tick at `at` (null: none). */
  wakeAt(at: number | null): void;
  /** Runs `fn` on this node at `at` unless the node crashes first (a disk write finishing, a reply leaving). */
  later(at: number, fn: () => void): void;
  trace(line: string): void;
  fail(reason: string): never;
}

/**
 * A protocol core and its shell, as the host drives it. `start` runs at the
 * node's (re)start, from the adapter's durable state; `crash` drops
 * everything volatile. `deliver` and `tick` step the core and perform its
 * Ready through the port.
 */
export interface SimProtocol {
  readonly channel: string;
  start(now: number): void;
  deliver(fromAddress: string, msg: unknown, now: number): void;
  tick(now: number): void;
  crash(): void;
  /** A short label of a message for the trace. */
  describe(msg: unknown): string;
}

export class SimHostNode {
  up = false;
  /** Bumped at every crash: stale wake-ups and local timers of an earlier life are ignored. */
  epoch = 0;
  readonly protocols = new Map<string, SimProtocol>();
  /**
   * Per channel: the wake-up the adapter wants (`at`) and the earliest wake
   * event in the heap for it (`queuedAt`). A later `at` waits for that event,
   * which re-queues itself: so an election timer reset on every heartbeat
   * does not fill the heap with stale wake-ups.
   */
  readonly wakes = new Map<string, { at: number | null; queuedAt: number | null }>();
  restarts = 0;
  constructor(readonly index: number, readonly name: string, readonly address: string) {}
}

type HostEvent =
  | { time: number; seq: number; kind: 'deliver'; to: number; channel: string; from: string; msg: unknown }
  | { time: number; seq: number; kind: 'wake'; node: number; channel: string; epoch: number }
  | { time: number; seq: number; kind: 'local'; node: number; epoch: number; fn: () => void }
  | { time: number; seq: number; kind: 'action'; fn: () => void };

export interface HostOptions {
  seed: number;
  size: number;
  network?: NetworkConfig;
  /** Lines of trace kept for a failure report. */
  traceTail?: number;
}

export class SimHost {
  now = 0;
  steps = 0;
  readonly nodes: SimHostNode[] = [];
  readonly network: SimNetwork;
  readonly trace: Trace;
  /** Draws of the scenario itself (fault schedule, victims). */
  readonly random: Random;
  private readonly master: SeededRandom;
  private readonly heap = new EventHeap<HostEvent>();
  private readonly byAddress = new Map<string, number>();
  private seq = 0;
  /** Extra context for a failure report (e.g. the offending key's history). */
  failureDetail: (() => string) | null = null;

  constructor(readonly options: HostOptions) {
    this.master = new SeededRandom(options.seed);
    this.network = new SimNetwork(options.network ?? HEALTHY_NETWORK, this.master.fork());
    this.random = this.master.fork();
    this.trace = new Trace(options.traceTail ?? 80);
    for (let i = 0; i < options.size; i++) {
      const node = new SimHostNode(i, `n${i + 1}`, `10.0.0.${i + 1}:9100`);
      this.nodes.push(node);
      this.byAddress.set(node.address, i);
    }
  }

  /** A fresh independent generator (for a core's Random, a client's choices). */
  fork(): Random {
    return this.master.fork();
  }

  nodeByName(name: string): SimHostNode | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  /** Adds an adapter to node `i`, built with its port. Call before `startAll`. */
  attach(i: number, make: (port: SimPort) => SimProtocol): SimProtocol {
    const node = this.nodes[i]!;
    const channelBox: { channel: string } = { channel: '' };
    const port: SimPort = {
      node,
      send: (address, msg) => this.send(node, channelBox.channel, address, msg),
      wakeAt: (at) => this.arm(node, channelBox.channel, at),
      later: (at, fn) => this.push({ time: Math.max(at, this.now), seq: 0, kind: 'local', node: i, epoch: node.epoch, fn }),
      trace: (line) => this.trace.add(`${this.now} ${node.name} ${line}`),
      fail: (reason) => this.fail(reason),
    };
    const protocol = make(port);
    channelBox.channel = protocol.channel;
    if (node.protocols.has(protocol.channel)) throw new Error(`${node.name} already has channel ${protocol.channel}`);
    node.protocols.set(protocol.channel, protocol);
    node.wakes.set(protocol.channel, { at: null, queuedAt: null });
    return protocol;
  }

  // ---- scenario actions -----------------------------------------------------

  start(i: number): void {
    const node = this.nodes[i]!;
    if (node.up) return;
    node.up = true;
    this.trace.add(`${this.now} ${node.name} start epoch=${node.epoch}`);
    for (const p of node.protocols.values()) p.start(this.now);
  }

  startAll(): void {
    for (let i = 0; i < this.nodes.length; i++) this.start(i);
  }

  /** Power loss at node `i`: every adapter loses what is volatile; nothing scheduled for it runs. */
  crash(i: number): void {
    const node = this.nodes[i]!;
    if (!node.up) return;
    node.up = false;
    node.epoch++;
    node.restarts++;
    for (const w of node.wakes.values()) {
      w.at = null;
      w.queuedAt = null;
    }
    this.trace.add(`${this.now} ${node.name} crash`);
    for (const p of node.protocols.values()) p.crash();
  }

  /** Runs `fn` at virtual time `time`. */
  at(time: number, fn: () => void): void {
    this.push({ time, seq: 0, kind: 'action', fn });
  }

  run(until: number): void {
    for (let ev = this.heap.peek(); ev !== undefined && ev.time <= until; ev = this.heap.peek()) {
      this.heap.pop();
      this.now = ev.time;
      this.dispatch(ev);
    }
    this.now = Math.max(this.now, until);
  }

  fail(reason: string): never {
    const detail = this.failureDetail?.() ?? '';
    throw new SimFailure(this.options.seed, detail === '' ? reason : `${reason}\n${detail}`, this.trace.last());
  }

  // ---- internals ----------------------------------------------------------

  private push(ev: HostEvent): void {
    ev.seq = ++this.seq;
    this.heap.push(ev);
  }

  private send(from: SimHostNode, channel: string, address: string, msg: unknown): void {
    const to = this.byAddress.get(address);
    if (to === undefined) return;
    for (const delay of this.network.fate(from.address, address)) {
      this.push({ time: this.now + delay, seq: 0, kind: 'deliver', to, channel, from: from.address, msg });
    }
  }

  private arm(node: SimHostNode, channel: string, at: number | null): void {
    const w = node.wakes.get(channel)!;
    w.at = at;
    if (at !== null && (w.queuedAt === null || at < w.queuedAt)) this.queueWake(node, channel, w, at);
  }

  private queueWake(node: SimHostNode, channel: string, w: { queuedAt: number | null }, at: number): void {
    w.queuedAt = Math.max(at, this.now);
    this.push({ time: w.queuedAt, seq: 0, kind: 'wake', node: node.index, channel, epoch: node.epoch });
  }

  private dispatch(ev: HostEvent): void {
    this.steps++;
    switch (ev.kind) {
      case 'action':
        ev.fn();
        return;
      case 'local': {
        const node = this.nodes[ev.node]!;
        if (node.up && node.epoch === ev.epoch) ev.fn();
        return;
      }
      case 'wake': {
        const node = this.nodes[ev.node]!;
        const w = node.wakes.get(ev.channel)!;
        if (!node.up || node.epoch !== ev.epoch || w.queuedAt !== ev.time) return; // superseded by an earlier wake-up
        w.queuedAt = null;
        if (w.at === null) return;
        if (w.at > this.now) {
          this.queueWake(node, ev.channel, w, w.at); // the adapter pushed its wake-up back since
          return;
        }
        w.at = null; // consumed: whatever the core asks next gets scheduled
        node.protocols.get(ev.channel)!.tick(this.now);
        if (w.at !== null && w.at <= this.now) this.fail(`${node.name}/${ev.channel} asked to wake at ${w.at} right after a tick at ${this.now} (busy loop)`);
        return;
      }
      case 'deliver': {
        const node = this.nodes[ev.to]!;
        if (!node.up || !this.network.connected(ev.from, node.address)) return;
        node.protocols.get(ev.channel)?.deliver(ev.from, ev.msg, this.now);
        return;
      }
    }
  }
}
