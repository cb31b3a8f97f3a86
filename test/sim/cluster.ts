/**
 * A deterministic cluster of membership cores on a virtual clock.
 *
 * All work is a timed event in one heap: message deliveries, the wake-ups
 * each core asked for (`nextWakeAt`), the end of a stall, and scripted
 * actions. The clock jumps to the earliest event; events at the same time
 * run in the order they were scheduled. Every random draw (network fate,
 * each core's Random, scenario choices) comes from one seed, so a seed
 * replays bit-for-bit; the trace hash proves it.
 *
 * Node model: a running node steps its core for each event and performs the
 * Ready (messages into the network, events to the checker and trace). A
 * crashed node receives nothing; restarting it starts a new core with the
 * next generation. A stalled node (a blocked event loop) neither steps nor
 * sends; messages for it queue up, and when the stall ends it first steps a
 * tick (libuv runs timers first) and then the queued messages in order.
 */

import { SeededRandom, type Random } from '../../lib/protocol/random.js';
import { Membership, type MembershipEvent, type MembershipInput, type MemberState, type MemberView, type SwimMessage } from '../../lib/protocol/swim/membership.js';
import type { SwimConfig } from '../../lib/protocol/swim/config.js';
import { Checker, type CheckerOptions, type ClusterFacts } from './checker.js';
import { EventHeap } from './heap.js';
import { HEALTHY_NETWORK, SimNetwork, type NetworkConfig } from './network.js';
import { Trace } from './trace.js';

export interface SimOptions {
  seed: number;
  size: number;
  config: SwimConfig;
  network?: NetworkConfig;
  checker?: Partial<CheckerOptions>;
}

export class SimNode {
  core: Membership | null = null;
  generation = 0;
  wakeAt: number | null = null;
  wakeVersion = 0;
  stalledUntil: number | null = null;
  readonly stallQueue: { from: string; msg: SwimMessage }[] = [];
  /** Events emitted by this node's current core, in order. */
  readonly events: { time: number; event: MembershipEvent }[] = [];
  /** Each member's state as told by this node's events (a cheap copy of its view, without itself). */
  readonly seen = new Map<string, { state: MemberState; generation: number }>();
  constructor(readonly index: number, readonly name: string, readonly address: string) {}
  get running(): boolean {
    return this.core !== null;
  }
}

type SimEvent =
  | { time: number; seq: number; kind: 'deliver'; to: number; from: string; msg: SwimMessage }
  | { time: number; seq: number; kind: 'wake'; node: number; version: number }
  | { time: number; seq: number; kind: 'stall-end'; node: number }
  | { time: number; seq: number; kind: 'action'; run: () => void };

/** A broken invariant or a failed expectation; the message says how to replay it. */
export class SimFailure extends Error {
  constructor(readonly seed: number, reason: string, tail: readonly string[]) {
    super(`${reason}\nreplay: SEED=${seed} npm run test:sim\nlast ${tail.length} steps of the trace:\n  ${tail.join('\n  ')}`);
    this.name = 'SimFailure';
  }
}

export class SimCluster implements ClusterFacts {
  now = 0;
  readonly nodes: SimNode[] = [];
  readonly network: SimNetwork;
  readonly trace = new Trace();
  readonly checker: Checker;
  /** Draws of the scenario itself (seed choices, victims). */
  readonly random: Random;
  readonly config: SwimConfig;
  steps = 0;
  /** Called for every event a core emits, after the step (a scenario's shell logic, e.g. stop after leave-complete). */
  onEvent: ((node: SimNode, event: MembershipEvent) => void) | null = null;
  private readonly heap = new EventHeap<SimEvent>();
  private readonly byAddress = new Map<string, number>();
  private readonly master: SeededRandom;
  private seq = 0;

  constructor(readonly options: SimOptions) {
    this.master = new SeededRandom(options.seed);
    this.network = new SimNetwork(options.network ?? HEALTHY_NETWORK, this.master.fork());
    this.random = this.master.fork();
    this.config = options.config;
    this.checker = new Checker({ noFalseDown: true, ...options.checker });
    for (let i = 0; i < options.size; i++) {
      const node = new SimNode(i, `n${String(i).padStart(4, '0')}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9100`);
      this.nodes.push(node);
      this.byAddress.set(node.address, i);
    }
  }

  // ---- scenario actions -----------------------------------------------------

  /** Starts node `i` (a new process: next generation) and makes it join through `seeds` (node indexes). */
  start(i: number, seeds: readonly number[]): void {
    const node = this.nodes[i]!;
    if (node.running) throw new Error(`${node.name} already runs`);
    node.generation++;
    node.core = new Membership(this.config, { name: node.name, address: node.address, generation: node.generation }, this.master.fork(), this.now);
    node.wakeAt = null;
    node.wakeVersion++;
    node.events.length = 0;
    node.seen.clear();
    node.stalledUntil = null;
    node.stallQueue.length = 0;
    this.checker.resetObserver(node.name);
    this.stepNode(node, { type: 'join', addresses: seeds.map((s) => this.nodes[s]!.address) }, `start seeds=${seeds.join(',')}`);
  }

  /** Kills node `i`: it stops at once, without a word. */
  crash(i: number): void {
    const node = this.nodes[i]!;
    node.core = null;
    node.wakeVersion++;
    node.stallQueue.length = 0;
    node.stalledUntil = null;
    this.trace.add(`${this.now} ${node.name} crash`);
  }

  /** Blocks node `i`'s event loop for `durationMs`. */
  stall(i: number, durationMs: number): void {
    const node = this.nodes[i]!;
    node.stalledUntil = this.now + durationMs;
    this.trace.add(`${this.now} ${node.name} stall ${durationMs}`);
    this.push({ time: node.stalledUntil, seq: 0, kind: 'stall-end', node: i });
  }

  input(i: number, input: MembershipInput): void {
    this.stepNode(this.nodes[i]!, input, input.type);
  }

  /** Runs `action` at virtual time `time`. */
  at(time: number, action: () => void): void {
    this.push({ time, seq: 0, kind: 'action', run: action });
  }

  // ---- running ------------------------------------------------------------

  /** Processes every event up to and including time `until`, then sets the clock to it. */
  run(until: number): void {
    for (let ev = this.heap.peek(); ev !== undefined && ev.time <= until; ev = this.heap.peek()) {
      this.heap.pop();
      this.now = ev.time;
      this.dispatch(ev);
    }
    this.now = Math.max(this.now, until);
  }

  /** Runs until `done()` holds (checked every `everyMs`) or `maxTime`; returns the time it first held, or null. */
  runUntil(done: () => boolean, maxTime: number, everyMs = 100): number | null {
    while (this.now < maxTime) {
      this.run(Math.min(maxTime, this.now + everyMs));
      if (done()) return this.now;
    }
    return null;
  }

  /** Throws a SimFailure (with the replay command and trace tail) unless `ok`. */
  expect(ok: boolean, reason: string): void {
    if (!ok) this.fail(reason);
  }

  fail(reason: string): never {
    throw new SimFailure(this.options.seed, reason, this.trace.last());
  }

  // ---- views --------------------------------------------------------------

  isRunning(name: string, generation: number): boolean {
    const node = this.nodes.find((n) => n.name === name);
    return node !== undefined && node.running && node.generation === generation;
  }

  running(): SimNode[] {
    return this.nodes.filter((n) => n.running);
  }

  view(i: number): MemberView[] {
    return this.nodes[i]!.core!.members(this.now);
  }

  /** The state node `observer` holds for node `subject`, or undefined when unknown. */
  stateOf(observer: number, subject: number): string | undefined {
    const name = this.nodes[subject]!.name;
    return this.nodes[observer]!.core!.members(this.now).find((m) => m.name === name)?.state;
  }

  // ---- internals ----------------------------------------------------------

  private push(ev: SimEvent): void {
    ev.seq = ++this.seq;
    this.heap.push(ev);
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case 'action':
        ev.run();
        return;
      case 'wake': {
        const node = this.nodes[ev.node]!;
        if (!node.running || ev.version !== node.wakeVersion || node.stalledUntil !== null) return;
        node.wakeAt = null; // consumed: whatever the core asks next gets scheduled
        this.stepNode(node, { type: 'tick' }, 'tick');
        if (node.wakeAt !== null && node.wakeAt <= this.now) this.fail(`${node.name} asked to wake at ${node.wakeAt} right after a tick at ${this.now} (busy loop)`);
        return;
      }
      case 'deliver': {
        const node = this.nodes[ev.to]!;
        if (!node.running) return;
        const sender = this.byAddress.get(ev.from);
        if (!this.network.connected(ev.from, node.address)) return;
        if (node.stalledUntil !== null) {
          node.stallQueue.push({ from: ev.from, msg: ev.msg });
          return;
        }
        this.stepNode(node, { type: 'message', from: ev.from, msg: ev.msg }, describe(ev.msg, sender === undefined ? ev.from : this.nodes[sender]!.name));
        return;
      }
      case 'stall-end': {
        const node = this.nodes[ev.node]!;
        if (!node.running || node.stalledUntil !== ev.time) return;
        node.stalledUntil = null;
        node.wakeAt = null;
        this.stepNode(node, { type: 'tick' }, 'tick after stall');
        for (const queued of node.stallQueue.splice(0)) {
          if (!node.running) break;
          const sender = this.byAddress.get(queued.from);
          this.stepNode(node, { type: 'message', from: queued.from, msg: queued.msg }, describe(queued.msg, sender === undefined ? queued.from : this.nodes[sender]!.name));
        }
        return;
      }
    }
  }

  private stepNode(node: SimNode, input: MembershipInput, what: string): void {
    const core = node.core!;
    this.steps++;
    core.step(input, this.now);
    const ready = core.ready();
    let line = `${this.now} ${node.name} ${what} ->`;
    for (const out of ready.messages) {
      const to = this.byAddress.get(out.to);
      line += ` ${out.msg.type}>${to === undefined ? out.to : this.nodes[to]!.name}`;
      for (const delay of this.network.fate(node.address, out.to)) {
        if (to !== undefined) this.push({ time: this.now + delay, seq: 0, kind: 'deliver', to, from: node.address, msg: out.msg });
      }
    }
    for (const event of ready.events) {
      line += ' ' + ('member' in event ? `${event.type}:${event.member.name}@${event.member.generation}.${event.member.incarnation}` : event.type);
      node.events.push({ time: this.now, event });
      if ('member' in event) {
        if (event.type === 'member-removed') node.seen.delete(event.member.name);
        else node.seen.set(event.member.name, { state: event.member.state, generation: event.member.generation });
      }
    }
    core.advance(ready);
    if (ready.nextWakeAt !== node.wakeAt) {
      node.wakeAt = ready.nextWakeAt;
      node.wakeVersion++;
      if (ready.nextWakeAt !== null) this.push({ time: ready.nextWakeAt, seq: 0, kind: 'wake', node: node.index, version: node.wakeVersion });
    }
    line += ` wake=${ready.nextWakeAt}`;
    this.trace.add(line);
    const broken = this.checker.afterStep(node.name, core.self(), ready.events, this);
    if (broken !== null) this.fail(`invariant broken at t=${this.now}: ${broken}`);
    if (this.onEvent !== null) for (const event of ready.events) this.onEvent(node, event);
  }
}

function describe(msg: SwimMessage, from: string): string {
  return 'seq' in msg ? `${msg.type}#${msg.seq}<${from}` : `${msg.type}<${from}`;
}

/** Seeds for a test: SEED from the environment when set, else `defaults`. */
export function seedsFor(defaults: readonly number[]): number[] {
  const env = process.env['SEED'];
  if (env !== undefined && env !== '') {
    const seed = Number(env);
    if (!Number.isSafeInteger(seed)) throw new Error(`SEED must be an integer, got ${JSON.stringify(env)}`);
    return [seed];
  }
  return [...defaults];
}
