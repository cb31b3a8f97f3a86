/**
 * Building blocks of simulation scenarios: the timing used by the tests,
 * a wave of joins, and convergence predicates.
 */

import { defaultSwimConfig, type SwimConfig } from '../../lib/protocol/swim/config.js';
import type { MemberState } from '../../lib/protocol/swim/membership.js';
import type { SimCluster } from './cluster.js';

/** Simulated timing: 1 s probe period, 5 s suspicion (virtual time is free; the ratio matches production). */
export function simConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return { ...defaultSwimConfig(1000, 5000), ...overrides };
}

/**
 * Starts the first `count` nodes (default all) over `spreadMs`: node 0 alone
 * first, then each other node, in order, joins through 1–3 random nodes
 * started before it.
 */
export function joinWave(cluster: SimCluster, spreadMs: number, count = cluster.nodes.length): void {
  const n = count;
  cluster.start(0, []);
  for (let i = 1; i < n; i++) {
    const seeds = new Set<number>();
    const want = 1 + cluster.random.int(3);
    for (let tries = 0; seeds.size < Math.min(want, i) && tries < 20; tries++) seeds.add(cluster.random.int(i));
    const at = cluster.now + Math.floor((spreadMs * i) / n);
    cluster.at(at, () => cluster.start(i, [...seeds]));
  }
}

/**
 * True when every running node sees every running node (itself included)
 * in `state` at its current generation, and every other known member in one
 * of `othersIn`.
 */
export function allSee(cluster: SimCluster, state: MemberState = 'up', othersIn: readonly MemberState[] = ['down', 'left']): boolean {
  const running = new Map(cluster.running().map((n) => [n.name, n.generation]));
  for (const node of cluster.running()) {
    let matched = 0;
    for (const m of node.core!.members(cluster.now)) {
      if (running.get(m.name) === m.generation) {
        if (m.state !== state) return false;
        matched++;
      } else if (!othersIn.includes(m.state)) {
        return false;
      }
    }
    if (matched !== running.size) return false;
  }
  return true;
}

/** Running nodes (other than `subject`) that hold `subject`, any generation, in one of `states` (from their events). */
export function observersSeeing(cluster: SimCluster, subject: number, states: readonly MemberState[]): number {
  const name = cluster.nodes[subject]!.name;
  let count = 0;
  for (const node of cluster.running()) {
    if (node.index === subject) continue;
    const m = node.seen.get(name);
    if (m !== undefined && states.includes(m.state)) count++;
  }
  return count;
}
