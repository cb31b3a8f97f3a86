/**
 * Probe target selection and the state of one probe (SWIM §3, §4.3).
 *
 * Targets are chosen round-robin over a shuffled list of the live members:
 * every member is probed once per pass, so a failed member is found within
 * at most one pass of any prober (strong completeness in bounded time,
 * SWIM §4.3), and on average within about one period by some prober. A
 * member that appears mid-pass is inserted at a random position of the rest
 * of the pass; members that stopped being live are skipped when reached.
 * The list is reshuffled at the start of every pass.
 */

import { shuffle, type Random } from '../random.js';

/** One probe of one target, started by this node. Deadlines are absolute ms. */
export interface Probe {
  target: string;
  generation: number;
  address: string;
  seq: number;
  /** Until then we wait for the direct ack; then the indirect probe starts. */
  ackDeadline: number;
  /** End of the probe period: no ack by then makes the target suspect. */
  periodEnd: number;
  indirectSent: boolean;
  acked: boolean;
}

/** A probe this node runs on behalf of a ping-req: the ack for `seq` is relayed to `requester`. */
export interface Relay {
  requester: string;
  requesterSeq: number;
  target: string;
  expiresAt: number;
}

export class ProbeOrder {
  private order: string[] = [];
  private index = 0;

  constructor(private readonly random: Random) {}

  /**
   * The next target for which `eligible` holds, starting a new shuffled pass
   * over `live()` when the current pass is done; null when nobody is eligible.
   */
  next(live: () => readonly string[], eligible: (name: string) => boolean): string | null {
    for (let pass = 0; pass < 2; pass++) {
      while (this.index < this.order.length) {
        const name = this.order[this.index++]!;
        if (eligible(name)) return name;
      }
      this.order = shuffle([...live()], this.random);
      this.index = 0;
    }
    return null;
  }

  /** A new live member joins the current pass at a random position among the members still to be probed. */
  add(name: string): void {
    const at = this.index + this.random.int(this.order.length - this.index + 1);
    this.order.splice(at, 0, name);
  }
}

/**
 * Up to `k` distinct items of `items` for which `accept` holds, drawn
 * uniformly. Rejection sampling when the list is large compared to k, a
 * partial shuffle of a copy otherwise.
 */
export function pickRandom<T>(items: readonly T[], k: number, random: Random, accept: (item: T) => boolean = () => true): T[] {
  if (k <= 0 || items.length === 0) return [];
  if (items.length > 4 * k) {
    const chosen = new Set<number>();
    const out: T[] = [];
    for (let attempts = 0; out.length < k && attempts < 8 * k; attempts++) {
      const i = random.int(items.length);
      if (chosen.has(i)) continue;
      chosen.add(i);
      if (accept(items[i]!)) out.push(items[i]!);
    }
    if (out.length === k) return out;
    // Too many rejections: fall through to the exact method, keeping what we have.
    const rest = items.filter((item, i) => !chosen.has(i) && accept(item));
    return out.concat(pickRandom(rest, k - out.length, random));
  }
  const pool = items.filter(accept);
  const out: T[] = [];
  for (let i = 0; i < pool.length && out.length < k; i++) {
    const j = i + random.int(pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
    out.push(pool[i]!);
  }
  return out;
}
