/**
 * Static discovery: the seeds of CLUSTER_NODES. A seed with a port
 * (`name@host:port`, `host:port`) is a candidate as written. A seed without
 * one (`name@host`, `host`) is resolved by scanning the host's cluster port
 * range (lib/transport/port-scan.ts): `name@host` becomes the node of that
 * name there, a bare `host` every node of this cluster there. Resolution is
 * repeated — quickly while a seed is unresolved (its node may start later),
 * slowly once resolved (its node may restart on another port) — and the
 * candidate set is reported when it changes.
 *
 * Retrying unreachable seeds is the job of the seed-retry schedule, so a node
 * whose seeds are all down runs alone and merges when one appears. The list
 * may name the node itself.
 */
import { formatLocator, namePart, parseNodeLocator, type NodeLocator, type PortRange } from '../lib/node-address.js';
import { describeMiss, type HostScan } from '../lib/transport/port-scan.js';
import type { Candidate, Discovery, DiscoveryState, RejectedCandidate } from './discovery.js';

/** Rescan period while some seed without a port is unresolved, ms. */
export const UNRESOLVED_RESCAN_MS = 1_000;
/** Rescan period once every seed is resolved: catches a node restarted on another port, ms. */
export const RESOLVED_RESCAN_MS = 5_000;

export interface StaticDiscoveryOptions {
  /** Scans a host's port range (Transport.scan); needed when a seed has no port. */
  scan?: (host: string, range: PortRange) => Promise<HostScan>;
  range?: PortRange;
  clusterName?: string;
}

interface Resolution {
  candidates: Candidate[];
  rejected: RejectedCandidate[];
  error: string | null;
}

export class StaticDiscovery implements Discovery {
  readonly mode = 'static';
  private readonly fixed: Candidate[] = [];
  private readonly portless: NodeLocator[] = [];
  private readonly resolved = new Map<string, Resolution>();
  private readonly listeners: Array<(candidates: Candidate[]) => void> = [];
  private startedAt: number | null = null;
  private lastPollAt: number | null = null;
  private queries = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(seeds: string[], private readonly options: StaticDiscoveryOptions = {}) {
    for (const seed of seeds) {
      const locator = parseNodeLocator(seed);
      if (locator.port === undefined) this.portless.push(locator);
      else this.fixed.push({ address: formatLocator({ ...locator, name: undefined }), ...(locator.name ? { name: `${locator.name}@${locator.host}` } : {}), source: 'static' });
    }
  }

  /** Resolves the seeds without a port once before returning, so the first candidate set is complete. */
  async start(): Promise<void> {
    if (this.startedAt !== null) return;
    this.startedAt = Date.now();
    if (this.portless.length > 0 && this.options.scan) await this.rescan();
  }

  candidates(): Candidate[] {
    const all = [...this.fixed];
    for (const r of this.resolved.values()) for (const c of r.candidates) if (!all.some((a) => a.address === c.address)) all.push(c);
    return all;
  }

  onChange(listener: (candidates: Candidate[]) => void): void {
    this.listeners.push(listener);
  }

  state(): DiscoveryState {
    const resolutions = [...this.resolved.values()];
    const errors = resolutions.map((r) => r.error).filter((e): e is string => e !== null);
    return {
      mode: this.mode,
      candidates: this.candidates(),
      records: [],
      rejected: resolutions.flatMap((r) => r.rejected),
      unavailable: this.portless.length > 0 && !this.options.scan ? 'seeds without a port need a port scanner' : null,
      lastPollAt: this.lastPollAt ?? this.startedAt,
      lastError: errors.length > 0 ? errors.join('; ') : null,
      queries: this.queries,
      failures: errors.length > 0 ? { unresolved: errors.length } : {},
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private async rescan(): Promise<void> {
    const before = this.candidateKey();
    // One scan per host, however many seeds name it: each scan is a connection to every node there.
    const hosts = [...new Set(this.portless.map((locator) => locator.host))];
    const scans = new Map(await Promise.all(hosts.map(async (host) => [host, await this.scanOnce(host)] as const)));
    for (const locator of this.portless) {
      const scan = scans.get(locator.host);
      this.resolved.set(formatLocator(locator), scan === undefined ? { candidates: [], rejected: [], error: `${formatLocator(locator)}: no port given and no scanner` } : resolutionOf(locator, scan, this.options.clusterName));
    }
    this.lastPollAt = Date.now();
    if (this.closed) return;
    if (this.candidateKey() !== before) for (const listener of this.listeners) listener(this.candidates());
    const unresolved = [...this.resolved.values()].some((r) => r.candidates.length === 0);
    this.timer = setTimeout(() => void this.rescan(), unresolved ? UNRESOLVED_RESCAN_MS : RESOLVED_RESCAN_MS);
    this.timer.unref();
  }

  private async scanOnce(host: string): Promise<HostScan | undefined> {
    const { scan, range } = this.options;
    if (!scan || !range) return undefined;
    this.queries++;
    return scan(host, range);
  }

  private candidateKey(): string {
    return this.candidates().map((c) => c.address).sort().join(',');
  }
}

/** Which scanned nodes a seed without a port stands for: `name@host` its namesake, bare `host` every node of our cluster. */
export function resolutionOf(locator: NodeLocator, scan: HostScan, clusterName: string | undefined): Resolution {
  const seed = formatLocator(locator);
  const matching = scan.nodes.filter((n) => locator.name === undefined || namePart(n.name) === locator.name);
  const ours = matching.filter((n) => clusterName === undefined || n.clusterName === clusterName);
  const rejected: RejectedCandidate[] = matching
    .filter((n) => !ours.includes(n))
    .map((n) => ({ address: n.address, name: n.name, source: 'static', reason: 'wrong-cluster-name' as const, detail: `${n.name} belongs to cluster ${JSON.stringify(n.clusterName)}` }));
  const candidates: Candidate[] = ours.map((n) => ({ address: n.address, name: n.name, source: 'static' }));
  let error: string | null = null;
  if (scan.error !== null) error = `${seed}: ${scan.error}`;
  else if (candidates.length === 0) error = `${seed}: ${describeMiss(locator, scan)}`;
  return { candidates, rejected, error };
}
