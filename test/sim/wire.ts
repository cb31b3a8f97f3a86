/**
 * A few membership cores wired by hand, for scripted tests: messages go
 * into a visible queue and are delivered instantly (zero latency) unless a
 * test-supplied rule drops or holds them; time moves only when the test
 * says so, by waking the cores whose `nextWakeAt` has come, in time order.
 */

import { SeededRandom } from '../../lib/protocol/random.js';
import type { SwimConfig } from '../../lib/protocol/swim/config.js';
import { Membership, type MembershipEvent, type MembershipInput, type MemberView, type SwimMessage } from '../../lib/protocol/swim/membership.js';

export interface WireMessage {
  from: string;
  to: string;
  msg: SwimMessage;
}

export interface WireNode {
  name: string;
  address: string;
  core: Membership;
  wakeAt: number | null;
  events: MembershipEvent[];
  /** Messages this node sent, in order. */
  sent: WireMessage[];
}

/** What to do with a message about to be delivered. */
export type Verdict = 'deliver' | 'drop' | 'hold';

export class Wire {
  now = 0;
  readonly nodes = new Map<string, WireNode>();
  /** Messages waiting for delivery. */
  queue: WireMessage[] = [];
  /** Messages held back by `rule`, deliverable later with `release`. */
  held: WireMessage[] = [];
  rule: (m: WireMessage) => Verdict = () => 'deliver';
  private seed = 1;

  constructor(readonly config: SwimConfig) {}

  static address(name: string): string {
    return `${name}@127.0.0.1:9100`;
  }

  /** Creates a core for `name` (replacing any previous one: a restart) without joining. */
  add(name: string, generation = 1): WireNode {
    const address = Wire.address(name);
    const node: WireNode = {
      name,
      address,
      core: new Membership(this.config, { name, address, generation }, new SeededRandom(this.seed++), this.now),
      wakeAt: null,
      events: [],
      sent: [],
    };
    this.nodes.set(name, node);
    this.collect(node);
    return node;
  }

  /** Removes a node: its messages are dropped from now on (a crash). */
  kill(name: string): void {
    this.nodes.delete(name);
  }

  node(name: string): WireNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  step(name: string, input: MembershipInput): void {
    const node = this.node(name);
    node.core.step(input, this.now);
    this.collect(node);
  }

  /** Delivers queued messages (and the ones they cause) until none is left. */
  deliver(maxMessages = 100_000): void {
    for (let n = 0; this.queue.length > 0; n++) {
      if (n > maxMessages) throw new Error('message storm');
      const m = this.queue.shift()!;
      const verdict = this.rule(m);
      if (verdict === 'drop') continue;
      if (verdict === 'hold') {
        this.held.push(m);
        continue;
      }
      const to = [...this.nodes.values()].find((x) => x.address === m.to);
      if (to === undefined) continue;
      this.step(to.name, { type: 'message', from: m.from, msg: m.msg });
    }
  }

  /** Puts held messages back in the queue and delivers them. */
  release(filter: (m: WireMessage) => boolean = () => true): void {
    const keep: WireMessage[] = [];
    for (const m of this.held) (filter(m) ? this.queue : keep).push(m);
    this.held = keep;
    this.deliver();
  }

  /** Moves time to `until`, waking each core at its `nextWakeAt` in time order and delivering after each step. */
  runUntil(until: number): void {
    this.deliver();
    for (;;) {
      let next: WireNode | null = null;
      for (const node of this.nodes.values()) {
        if (node.wakeAt !== null && node.wakeAt <= until && (next === null || node.wakeAt < next.wakeAt!)) next = node;
      }
      if (next === null) break;
      this.now = Math.max(this.now, next.wakeAt!);
      next.wakeAt = null;
      this.step(next.name, { type: 'tick' });
      this.deliver();
    }
    this.now = Math.max(this.now, until);
  }

  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** The view `observer` has of `subject`. */
  viewOf(observer: string, subject: string): MemberView | undefined {
    return this.node(observer).core.members(this.now).find((m) => m.name === subject);
  }

  /** Member events about `subject` emitted by `observer`, as `type` strings. */
  eventsAbout(observer: string, subject: string): string[] {
    return this.node(observer).events.flatMap((e) => ('member' in e && e.member.name === subject ? [e.type] : []));
  }

  /** Starts `names` and joins each to the first, then runs until all see all up (or throws). */
  cluster(names: string[], maxMs = 30_000): void {
    for (const name of names) this.add(name);
    this.step(names[0]!, { type: 'join', addresses: [] });
    for (const name of names.slice(1)) this.step(name, { type: 'join', addresses: [Wire.address(names[0]!)] });
    const deadline = this.now + maxMs;
    while (this.now < deadline) {
      this.run(100);
      const done = names.every((o) => names.every((s) => this.viewOf(o, s)?.state === 'up'));
      if (done) return;
    }
    throw new Error(`${names.join(',')} did not converge in ${maxMs} ms`);
  }

  private collect(node: WireNode): void {
    const ready = node.core.ready();
    for (const out of ready.messages) {
      const m = { from: node.address, to: out.to, msg: out.msg };
      this.queue.push(m);
      node.sent.push(m);
    }
    node.events.push(...ready.events);
    node.core.advance(ready);
    node.wakeAt = ready.nextWakeAt;
  }
}

/** The node name in an address made by `Wire.address`. */
export function nameOf(address: string): string {
  return address.split('@')[0]!;
}
