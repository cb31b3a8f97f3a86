/**
 * Simulated clients of one Raft group: each runs one operation at a time
 * (get, put or compare-and-set on a few keys) and records its invocation
 * and completion in a shared history for the linearizability checker.
 *
 * Routing: an attempt goes to the node the client believes leads (first a
 * random one); a refusal names the leader when known, else the client
 * tries the next node after a short back-off. A node that is down refuses
 * the connection (it never saw the request). Refusals are definite (the
 * operation did not happen), so retrying them is safe.
 *
 * Deadline: an operation that has no answer by its deadline (the node
 * crashed, the reply or the request was lost in Raft's traffic, the group
 * had no leader) is recorded with an unknown outcome: no output, no return.
 * It is never recorded as failed, and never retried: it may yet happen.
 */

import type { Random } from '../../lib/protocol/random.js';
import type { SimHost } from './host.js';
import type { KvInput, Operation } from './linearizability.js';
import type { KvReply, RaftKvMember } from './raft-protocol.js';

export interface ClientOptions {
  keys: string[];
  /** Time an operation may take before its outcome is unknown, ms. */
  deadlineMs: number;
  /** Pause between a client's operations, [0, thinkMs) ms. */
  thinkMs: number;
  /** Delay of a request to its node, [1, requestDelayMs] ms. */
  requestDelayMs: number;
  /** Back-off before retrying after a refusal, ms. */
  retryMs: number;
  /** 'local-reads' fault: gets go to any node, not the leader. */
  readsAnywhere: boolean;
  /** Share of gets; the rest are put and compare-and-set, 7 to 5. */
  readShare: number;
}

export class KvClient {
  private current: { op: Operation; attempt: number; deadline: number } | null = null;
  private target: number;
  private counter = 0;
  private attempts = 0;
  private stopAt = Infinity;
  /** The last value this client saw per key (what its compare-and-sets expect). */
  private readonly lastSeen = new Map<string, unknown>();
  readonly stats = { ok: 0, unknown: 0, refusals: 0 };

  constructor(
    readonly id: number,
    private readonly host: SimHost,
    private readonly members: readonly RaftKvMember[],
    private readonly random: Random,
    private readonly history: Operation[],
    private readonly options: ClientOptions,
  ) {
    this.target = random.int(members.length);
  }

  /** Issues operations from `at` until `stopAt` (an operation in flight then still completes or times out). */
  run(at: number, stopAt: number): void {
    this.stopAt = stopAt;
    this.host.at(at, () => this.next());
  }

  get idle(): boolean {
    return this.current === null;
  }

  private next(): void {
    if (this.host.now >= this.stopAt) return;
    const o = this.options;
    const key = o.keys[this.random.int(o.keys.length)]!;
    const roll = this.random.next();
    const value = `c${this.id}.${++this.counter}`;
    const r = o.readShare;
    const input: KvInput = roll < r ? { op: 'get', key } : roll < r + (1 - r) * 7 / 12 ? { op: 'put', key, value } : { op: 'cas', key, expected: this.lastSeen.get(key) ?? null, value };
    const op: Operation = { client: this.id, input, callAt: this.host.now };
    this.history.push(op);
    this.current = { op, attempt: 0, deadline: this.host.now + o.deadlineMs };
    const current = this.current;
    this.host.at(current.deadline, () => {
      if (this.current !== current) return;
      this.stats.unknown++; // no answer in time: the operation may or may not have happened
      this.finish();
    });
    this.attempt();
  }

  private attempt(): void {
    const current = this.current!;
    const attempt = (current.attempt = ++this.attempts);
    const input = current.op.input;
    const node = input.op === 'get' && this.options.readsAnywhere ? this.random.int(this.members.length) : this.target;
    const member = this.members[node]!;
    this.host.at(this.host.now + 1 + this.random.int(this.options.requestDelayMs), () => {
      if (this.current !== current || current.attempt !== attempt) return;
      if (!member.port.node.up || member.core === null) {
        this.onReply(current, attempt, { kind: 'refused', leaderHint: null }); // connection refused: it never saw the request
        return;
      }
      member.request(input, (reply) => this.onReply(current, attempt, reply), this.host.now);
    });
  }

  private onReply(current: NonNullable<KvClient['current']>, attempt: number, reply: KvReply): void {
    if (this.current !== current || current.attempt !== attempt) return; // a late answer to an abandoned attempt
    if (reply.kind === 'refused') {
      this.stats.refusals++;
      const hinted = reply.leaderHint === null ? -1 : this.members.findIndex((m) => m.id === reply.leaderHint);
      this.target = hinted >= 0 && hinted !== this.target ? hinted : (this.target + 1) % this.members.length;
      this.host.at(this.host.now + this.options.retryMs, () => {
        if (this.current === current && current.attempt === attempt) this.attempt();
      });
      return;
    }
    const op = current.op;
    op.output = reply.output;
    op.returnAt = this.host.now;
    this.stats.ok++;
    if ('value' in reply.output) this.lastSeen.set(op.input.key, reply.output.value);
    else if (op.input.op !== 'get' && reply.output.ok) this.lastSeen.set(op.input.key, op.input.value);
    this.finish();
  }

  private finish(): void {
    this.current = null;
    this.host.at(this.host.now + this.random.int(this.options.thinkMs), () => this.next());
  }
}
