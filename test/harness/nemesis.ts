/**
 * The nemesis of the Jepsen-style table tests: a seeded schedule of faults
 * injected into a running cluster (tables-cluster.ts) while clients work.
 *
 * Faults, one at a time, each healed before the next:
 * - `kill`: SIGKILL a random node, keep it down a while, start it again with
 *   the same name, data dir and ports (a crash and a restart: only what it
 *   had made durable survives);
 * - `kill-majority`: SIGKILL a majority of the nodes at once, then start
 *   them again: every partition loses its quorum, and what the restarted
 *   nodes remember (terms, votes, logs) decides whether it comes back whole;
 * - `pause-leader`: SIGSTOP the node that leads a random partition (as it
 *   reports itself in `GET /api/tables/:table`), for a while, then SIGCONT:
 *   the others elect a new leader while the old one, frozen mid-flight,
 *   still believes it leads when it wakes;
 * - `partition`: isolate a random node from the other nodes (namespace
 *   hosts only) while the clients still reach every node, then heal: a
 *   leader on the minority side keeps getting requests it must not answer
 *   from its own, stale, view.
 * Between faults the cluster runs quietly for a while; after healing, the
 * nemesis waits (polling) until every node sees every other up.
 *
 * The seed fixes the order of fault kinds, which node or partition each
 * picks and how long each lasts; who leads a partition is the cluster's
 * doing. Every step is written to `timeline` with its time from `origin`,
 * for the failure report. Waiting out a fault's duration and the quiet
 * periods is the schedule itself, not a synchronisation: every wait for a
 * state of the cluster polls with a deadline.
 */
import { SeededRandom } from '../../lib/protocol/random.js';
import type { TablesCluster } from './tables-cluster.js';
import { waitFor } from './wait-for.js';

export type FaultKind = 'kill' | 'kill-majority' | 'pause-leader' | 'partition';

export interface NemesisOptions {
  cluster: TablesCluster;
  table: string;
  partitions: number;
  seed: number;
  kinds: readonly FaultKind[];
  /** Faults keep coming until this long after `run()` began, and until every kind has run once. */
  durationMs: number;
  /** Time zero of the timeline (the history's). */
  origin: number;
  /** How long each kind of fault lasts, ms, [min, max). @default DEFAULT_HOLD_MS */
  holdMs?: Partial<Record<FaultKind, readonly [number, number]>>;
  /** Quiet time before each fault, ms, [min, max). @default [500, 2000] */
  quietMs?: readonly [number, number];
  /** How long the cluster may take to see every node up again after a fault is healed, ms. @default 60000 */
  recoveryTimeoutMs?: number;
}

/**
 * How long faults last, ms, [min, max): a pause around the election timeout
 * and the clients' deadline, a partition long enough for membership to see
 * the node down (fail-fast answers on the minority side) or not.
 */
export const DEFAULT_HOLD_MS: Record<FaultKind, readonly [number, number]> = { kill: [1000, 4000], 'kill-majority': [500, 3000], 'pause-leader': [1500, 4500], partition: [2000, 6000] };

export class Nemesis {
  readonly timeline: string[] = [];
  readonly counts: Record<FaultKind, number> = { kill: 0, 'kill-majority': 0, 'pause-leader': 0, partition: 0 };
  private readonly random: SeededRandom;

  constructor(private readonly options: NemesisOptions) {
    this.random = new SeededRandom(options.seed);
    if (options.kinds.includes('partition') && !options.cluster.canPartition) throw new Error('this cluster cannot be partitioned (no network namespaces)');
  }

  /** Runs the schedule; resolves with every fault healed and every node seeing every other up. */
  async run(): Promise<void> {
    const { cluster, kinds } = this.options;
    const end = performance.now() + this.options.durationMs;
    let round: FaultKind[] = [];
    try {
      while (performance.now() < end || kinds.some((k) => this.counts[k] === 0)) {
        await hold(this.between(this.options.quietMs ?? [500, 2000]));
        if (round.length === 0) round = this.shuffled(kinds);
        const kind = round.shift()!;
        await this.inject(kind);
        this.counts[kind]++;
        await cluster.waitAllUp(this.options.recoveryTimeoutMs ?? 60_000);
        this.log('every node sees every other up');
      }
    } finally {
      await cluster.healAll();
    }
  }

  private async inject(kind: FaultKind): Promise<void> {
    const { cluster } = this.options;
    const duration = this.between(this.options.holdMs?.[kind] ?? DEFAULT_HOLD_MS[kind]);
    switch (kind) {
      case 'kill': {
        const i = this.random.int(cluster.size);
        this.log(`kill -9 ${cluster.node(i).nodeName} (pid ${cluster.node(i).pid}) for ${duration} ms`);
        await cluster.kill(i);
        await hold(duration);
        await cluster.start(i);
        this.log(`restarted ${cluster.node(i).nodeName} (pid ${cluster.node(i).pid}) on its data dir`);
        return;
      }
      case 'kill-majority': {
        const victims = this.shuffled(Array.from({ length: cluster.size }, (_, i) => i)).slice(0, Math.floor(cluster.size / 2) + 1);
        this.log(`kill -9 ${victims.map((i) => cluster.node(i).nodeName).join(', ')} at once for ${duration} ms`);
        await Promise.all(victims.map((i) => cluster.kill(i)));
        await hold(duration);
        for (const i of victims) await cluster.start(i);
        this.log(`restarted ${victims.map((i) => cluster.node(i).nodeName).join(', ')} on their data dirs`);
        return;
      }
      case 'pause-leader': {
        const partition = this.random.int(this.options.partitions);
        const i = await waitFor(() => cluster.selfReportedLeader(this.options.table, partition), {
          timeoutMs: 30_000,
          what: `a node to report itself the leader of ${this.options.table} partition ${partition}`,
        });
        this.log(`SIGSTOP ${cluster.node(i).nodeName}, leader of partition ${partition}, for ${duration} ms`);
        cluster.pause(i);
        await hold(duration);
        cluster.resume(i);
        this.log(`SIGCONT ${cluster.node(i).nodeName}`);
        return;
      }
      case 'partition': {
        const i = this.random.int(cluster.size);
        this.log(`isolate ${cluster.node(i).nodeName} from the other nodes for ${duration} ms`);
        cluster.isolate(i);
        await hold(duration);
        cluster.reconnect(i);
        this.log(`reconnected ${cluster.node(i).nodeName}`);
        return;
      }
    }
  }

  private log(line: string): void {
    this.timeline.push(`${(performance.now() - this.options.origin).toFixed(0).padStart(7)} ms  ${line}`);
  }

  private between([min, max]: readonly [number, number]): number {
    return min + this.random.int(max - min);
  }

  private shuffled<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }
}

/** Lets `ms` pass: the length of a fault or of a quiet period, part of the schedule. */
function hold(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
