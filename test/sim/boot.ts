/**
 * The common first act of the simulation tests: a cluster of `size` nodes
 * formed by a wave of joins, run until every node sees every node up.
 */

import { SimCluster, type SimOptions } from './cluster.js';
import { allSee, joinWave, simConfig } from './scenarios.js';

/** Longest virtual time a join wave may take to converge, ms. */
export const CONVERGE_WITHIN_MS = 60_000;

export function bootCluster(options: Omit<SimOptions, 'config'> & Partial<Pick<SimOptions, 'config'>>, spreadMs = 2000): { cluster: SimCluster; convergedAt: number } {
  const cluster = new SimCluster({ config: simConfig(), ...options });
  joinWave(cluster, spreadMs);
  const convergedAt = cluster.runUntil(() => allSee(cluster), CONVERGE_WITHIN_MS, 500);
  if (convergedAt === null) return cluster.fail(`views did not converge within ${CONVERGE_WITHIN_MS} ms after the join wave`);
  return { cluster, convergedAt };
}
