/**
 * The simulated network: decides, from a seeded generator, what becomes of
 * each message — lost, delivered once after a random delay, or duplicated —
 * and which pairs of nodes are cut off by a partition.
 *
 * Delays are drawn uniformly from [minDelayMs, maxDelayMs] per copy, so
 * messages between the same pair are reordered whenever the range is wider
 * than their spacing. A partition splits addresses into groups; a message
 * between different groups is dropped, both when sent and when it would be
 * delivered (a partition also cuts messages in flight). Addresses not named
 * in any group form a group of their own. A one-way cut (`cutOneWay`)
 * drops messages from one address to another but not back, the asymmetric
 * link failures that confuse failure detectors and leader leases alike.
 */

import type { Random } from '../../lib/protocol/random.js';

export interface NetworkConfig {
  /** Probability that one copy of a message is lost, 0..1. */
  lossRate: number;
  /** Probability that a message is delivered twice, 0..1. */
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const HEALTHY_NETWORK: NetworkConfig = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 20 };

export class SimNetwork {
  private groups: Map<string, number> | null = null;
  /** Directed links cut by one-way partitions, as "from>to". */
  private readonly oneWay = new Set<string>();
  sent = 0;
  lost = 0;
  cut = 0;

  constructor(private config: NetworkConfig, private readonly random: Random) {}

  setConfig(config: NetworkConfig): void {
    this.config = config;
  }

  /** Splits the network into `groups` of addresses; messages between groups are dropped. */
  partition(groups: readonly (readonly string[])[]): void {
    const map = new Map<string, number>();
    groups.forEach((group, i) => group.forEach((address) => map.set(address, i)));
    this.groups = map;
  }

  /** Drops every message from `from` to `to` (not the other way) until healed. */
  cutOneWay(from: string, to: string): void {
    this.oneWay.add(`${from}>${to}`);
  }

  /** Heals every partition, symmetric and one-way. */
  heal(): void {
    this.groups = null;
    this.oneWay.clear();
  }

  /** True when a message from `from` can currently reach `to`. */
  connected(from: string, to: string): boolean {
    if (this.oneWay.size > 0 && this.oneWay.has(`${from}>${to}`)) return false;
    if (this.groups === null) return true;
    return (this.groups.get(from) ?? -1) === (this.groups.get(to) ?? -1);
  }

  /** Delays (ms) of the copies of one message that will arrive: none, one or two. */
  fate(from: string, to: string): number[] {
    this.sent++;
    if (!this.connected(from, to)) {
      this.cut++;
      return [];
    }
    const copies = this.random.next() < this.config.duplicateRate ? 2 : 1;
    const delays: number[] = [];
    for (let i = 0; i < copies; i++) {
      if (this.random.next() < this.config.lossRate) {
        this.lost++;
        continue;
      }
      const { minDelayMs, maxDelayMs } = this.config;
      delays.push(minDelayMs + this.random.int(maxDelayMs - minDelayMs + 1));
    }
    return delays;
  }
}
