/**
 * SWIM membership as a SimProtocol: the same Membership core SimCluster
 * runs, hosted beside other cores on a SimHost node. A (re)start is a new
 * process (the next generation) that joins through every other node; each
 * step is checked by the membership Checker (views never regress, a node
 * never sees itself suspect), without no-false-down since the host injects
 * crashes and partitions.
 */

import type { Random } from '../../lib/protocol/random.js';
import type { SwimConfig } from '../../lib/protocol/swim/config.js';
import { Membership, type MembershipInput, type SwimMessage } from '../../lib/protocol/swim/membership.js';
import { Checker } from './checker.js';
import type { SimPort, SimProtocol } from './host.js';

export const SWIM_CHANNEL = 'swim';

export class SwimProtocol implements SimProtocol {
  readonly channel = SWIM_CHANNEL;
  core: Membership | null = null;
  generation = 0;

  constructor(
    private readonly port: SimPort,
    private readonly config: SwimConfig,
    private readonly random: () => Random,
    private readonly peers: () => string[],
    private readonly checker: Checker,
  ) {}

  start(now: number): void {
    const node = this.port.node;
    this.generation++;
    this.checker.resetObserver(node.name);
    this.core = new Membership(this.config, { name: node.name, address: node.address, generation: this.generation }, this.random(), now);
    this.step({ type: 'join', addresses: this.peers().filter((a) => a !== node.address) }, now, 'join');
  }

  deliver(from: string, msg: unknown, now: number): void {
    if (this.core !== null) this.step({ type: 'message', from, msg: msg as SwimMessage }, now, `${this.describe(msg)}<${from}`);
  }

  tick(now: number): void {
    if (this.core !== null) this.step({ type: 'tick' }, now, 'tick');
  }

  crash(): void {
    this.core = null;
  }

  describe(msg: unknown): string {
    const m = msg as SwimMessage;
    return 'seq' in m ? `${m.type}#${m.seq}` : m.type;
  }

  private step(input: MembershipInput, now: number, what: string): void {
    const core = this.core!;
    core.step(input, now);
    const ready = core.ready();
    let line = `swim ${what} ->`;
    for (const out of ready.messages) {
      line += ` ${out.msg.type}>${out.to}`;
      this.port.send(out.to, out.msg);
    }
    for (const e of ready.events) line += ' ' + ('member' in e ? `${e.type}:${e.member.name}@${e.member.generation}.${e.member.incarnation}` : e.type);
    core.advance(ready);
    this.port.wakeAt(ready.nextWakeAt);
    this.port.trace(line);
    const broken = this.checker.afterStep(this.port.node.name, core.self(), ready.events, { isRunning: () => true });
    if (broken !== null) this.port.fail(`swim invariant broken at t=${now}: ${broken}`);
  }
}
