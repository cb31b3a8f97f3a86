/**
 * Static discovery: the seeds of CLUSTER_NODES (`name@host[:port]`). The list
 * never changes; retrying unreachable seeds with backoff is the job of the
 * seed-retry schedule, so a node whose seeds are all down runs alone and
 * merges when one appears. The list may name the node itself.
 */
import { parseSeed } from '../lib/config.js';
import type { Candidate, Discovery, DiscoveryState } from './discovery.js';

export class StaticDiscovery implements Discovery {
  readonly mode = 'static';
  private readonly list: Candidate[];
  private startedAt: number | null = null;

  constructor(seeds: string[], defaultPort: number) {
    this.list = seeds.map((seed) => {
      const parsed = parseSeed(seed, defaultPort);
      return { address: parsed.address, ...(parsed.name ? { name: `${parsed.name}@${parsed.host}` } : {}), source: 'static' };
    });
  }

  async start(): Promise<void> {
    this.startedAt ??= Date.now();
  }

  candidates(): Candidate[] {
    return [...this.list];
  }

  onChange(): void {
    // The list is fixed: there is never a change to report.
  }

  state(): DiscoveryState {
    return { mode: this.mode, candidates: this.candidates(), records: [], unavailable: null, lastPollAt: this.startedAt, lastError: null, queries: 0, failures: {} };
  }

  async close(): Promise<void> {}
}
