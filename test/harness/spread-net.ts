/**
 * A network of subscription-spread cores (lib/protocol/pubsub) for unit and
 * property tests: one FIFO queue per directed link (the transport keeps order
 * per link and channel), a virtual clock, and the operations a test needs to
 * lose frames, break links and restart nodes. Node `n` listens at `n:1`.
 */
import { TopicSpread, type PubSubMessage, type SpreadConfig, type SpreadEvent } from '../../lib/protocol/pubsub/spread.js';

export interface InFlight {
  from: string;
  msg: PubSubMessage;
}

export class SpreadNet {
  readonly cores = new Map<string, TopicSpread>();
  readonly events: Array<SpreadEvent & { at: string }> = [];
  /** `from>to` → frames in order. */
  readonly links = new Map<string, InFlight[]>();
  now = 0;

  constructor(private readonly config: Partial<SpreadConfig> = {}) {}

  static address(node: string): string {
    return `${node}:1`;
  }

  /** Starts `node` (again: a restart, with a larger epoch and nothing in memory). */
  start(node: string, epoch: number): TopicSpread {
    const core = new TopicSpread(epoch, this.config);
    this.cores.set(node, core);
    return core;
  }

  core(node: string): TopicSpread {
    const core = this.cores.get(node);
    if (core === undefined) throw new Error(`no node ${node}`);
    return core;
  }

  step(node: string, input: Parameters<TopicSpread['step']>[0]): void {
    this.core(node).step(input, this.now);
    this.collect(node);
  }

  /** `a` and `b` see each other up (membership up, or their link came back). */
  connect(a: string, b: string): void {
    this.step(a, { type: 'peer-up', node: b, address: SpreadNet.address(b) });
    this.step(b, { type: 'peer-up', node: a, address: SpreadNet.address(a) });
  }

  /** The link between `a` and `b` broke: what was in flight both ways is lost. */
  breakLink(a: string, b: string): void {
    this.links.delete(`${a}>${b}`);
    this.links.delete(`${b}>${a}`);
  }

  /** Moves the core's outputs into the link queues. */
  collect(node: string): void {
    const core = this.core(node);
    const ready = core.ready();
    for (const { to, msg } of ready.messages) {
      const key = `${node}>${to.slice(0, to.lastIndexOf(':'))}`;
      const queue = this.links.get(key) ?? [];
      queue.push({ from: node, msg });
      this.links.set(key, queue);
    }
    for (const event of ready.events) this.events.push({ ...event, at: node });
    core.advance(ready);
  }

  /** Delivers the first frame queued on `from>to`; false when none. */
  deliverOne(key: string): boolean {
    const frame = this.links.get(key)?.shift();
    if (frame === undefined) return false;
    const to = key.slice(key.indexOf('>') + 1);
    if (this.cores.has(to)) this.step(to, { type: 'message', from: frame.from, msg: frame.msg });
    return true;
  }

  /** Drops the first frame queued on `key` (a full queue refused it). */
  dropOne(key: string): boolean {
    return this.links.get(key)?.shift() !== undefined;
  }

  inFlight(): number {
    let n = 0;
    for (const queue of this.links.values()) n += queue.length;
    return n;
  }

  /** Delivers everything, including what the deliveries cause. */
  deliverAll(maxFrames = 100_000): void {
    for (let delivered = 0; this.inFlight() > 0; ) {
      for (const key of [...this.links.keys()]) {
        if (this.deliverOne(key) && ++delivered > maxFrames) throw new Error(`more than ${maxFrames} frames: the spread does not settle`);
      }
    }
  }

  /** Advances the clock by `ms` and ticks every core. */
  tick(ms: number): void {
    this.now += ms;
    for (const node of this.cores.keys()) this.step(node, { type: 'tick' });
  }

  /** Where some node's view of some peer differs from that peer's own set (empty when converged). */
  differences(): string[] {
    const problems: string[] = [];
    for (const [node, core] of this.cores) {
      for (const peer of core.peerNames()) {
        const own = flatten(this.core(peer).ownSpreadState());
        const view = core.viewOf(peer);
        const seen = view === null ? '(no view)' : flatten(view);
        if (seen !== own) problems.push(`${node}'s view of ${peer}: ${seen} ≠ ${own}`);
      }
    }
    return problems;
  }
}

/** A set of subscriptions as one sorted string, for comparisons and messages. */
export function flatten(state: Map<string, ReadonlySet<string>>): string {
  return [...state].flatMap(([topic, subs]) => [...subs].map((s) => `${topic}:${s}`)).sort().join(',');
}
