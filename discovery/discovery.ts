/**
 * Discovery proposes candidate nodes; membership decides who is alive.
 *
 * Every mode (static list, multicast/mDNS, DNS SRV) implements `Discovery`.
 * A mode keeps its last good candidate set when a lookup fails (a failed or
 * partial lookup never removes known members) and reports failures in
 * `status()` rather than throwing: discovery must never crash a node.
 */

/** A node that may be part of the cluster. */
export interface Candidate {
  /** `host:port` of its inter-node listener. */
  address: string;
  /** Node name when the mode knows it (the handshake learns the real one). */
  name?: string;
  /** Which mode proposed it. */
  source: string;
}

/** One raw answer a mode saw, for diagnosis (`GET /api/cluster/discovery`). */
export interface DiscoveryRecord {
  /** Which mode saw it. */
  source: string;
  /** Record type: `SRV`, `A`, `AAAA`, `TXT`, `PTR`, or `announcement`/`goodbye` for mDNS. */
  type: string;
  /** Owner name of the record (e.g. the SRV name, or the mDNS instance name). */
  name: string;
  /** Time to live in seconds, when the record has one. */
  ttl?: number;
  /** The record's data in presentation form, e.g. `0 0 9100 n1.troupe.svc` or `10.0.0.5`. */
  data: string;
}

/** A node a mode heard of but does not propose, and why (shown per candidate in the discovery report). */
export interface RejectedCandidate {
  address: string;
  name?: string;
  source: string;
  reason: 'self' | 'wrong-cluster-name' | 'wrong-protocol-version';
  detail: string;
}

export interface DiscoveryState {
  mode: string;
  candidates: Candidate[];
  /** The raw records of the last answer or announcements (bounded), newest last. */
  records: DiscoveryRecord[];
  /** Why the mode cannot work at all here (e.g. no multicast-capable interface), else null. */
  unavailable: string | null;
  /** Wall-clock ms of the last lookup or announcement; null before the first. */
  lastPollAt: number | null;
  lastError: string | null;
  queries: number;
  failures: Record<string, number>;
  /** Nodes heard of but not proposed (bounded), e.g. mDNS announcements of another cluster. */
  rejected?: RejectedCandidate[];
  /** Set by a combination of modes: each mode's own full state, with any fields particular to it. */
  parts?: DiscoveryState[];
}

export interface Discovery {
  readonly mode: string;
  /** Starts lookups or announcements. Idempotent. Never rejects for a lookup failure. */
  start(options?: { signal?: AbortSignal }): Promise<void>;
  /** The last good candidate set. */
  candidates(): Candidate[];
  /** Called whenever the candidate set changes. */
  onChange(listener: (candidates: Candidate[]) => void): void;
  state(): DiscoveryState;
  /** Stops lookups and withdraws announcements. Idempotent. */
  close(): Promise<void>;
}

/** Union of several modes' candidates (e.g. `dns,static`), deduplicated by address. */
export class CombinedDiscovery implements Discovery {
  readonly mode: string;
  private readonly listeners: Array<(candidates: Candidate[]) => void> = [];

  constructor(private readonly parts: Discovery[]) {
    this.mode = parts.map((p) => p.mode).join(',');
    for (const part of parts) part.onChange(() => this.emit());
  }

  async start(options?: { signal?: AbortSignal }): Promise<void> {
    await Promise.all(this.parts.map((p) => p.start(options)));
  }

  candidates(): Candidate[] {
    const byAddress = new Map<string, Candidate>();
    for (const part of this.parts) for (const c of part.candidates()) if (!byAddress.has(c.address)) byAddress.set(c.address, c);
    return [...byAddress.values()];
  }

  onChange(listener: (candidates: Candidate[]) => void): void {
    this.listeners.push(listener);
  }

  state(): DiscoveryState {
    const states = this.parts.map((p) => p.state());
    const failures: Record<string, number> = {};
    // Reasons keep the mode that failed (`dns:nxdomain`, `epmd:malformed`): the same word means different things per mode.
    for (const s of states) for (const [reason, n] of Object.entries(s.failures)) failures[`${s.mode}:${reason}`] = (failures[`${s.mode}:${reason}`] ?? 0) + n;
    const polls = states.map((s) => s.lastPollAt).filter((t): t is number => t !== null);
    const unavailable = states.map((s) => s.unavailable && `${s.mode}: ${s.unavailable}`).filter(Boolean).join('; ') || null;
    return {
      mode: this.mode,
      candidates: this.candidates(),
      records: states.flatMap((s) => s.records),
      rejected: states.flatMap((s) => s.rejected ?? []),
      unavailable,
      lastPollAt: polls.length ? Math.max(...polls) : null,
      lastError: states.map((s) => s.lastError && `${s.mode}: ${s.lastError}`).filter(Boolean).join('; ') || null,
      queries: states.reduce((n, s) => n + s.queries, 0),
      failures,
      parts: states,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.close()));
  }

  private emit(): void {
    const candidates = this.candidates();
    for (const listener of this.listeners) listener(candidates);
  }
}
