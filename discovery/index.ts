/**
 * Chooses discovery modes by CLUSTER_DISCOVERY_TYPE. Several modes combine:
 * their candidate sets are united.
 */
import type { TroupeConfig } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { CombinedDiscovery, type Discovery } from './discovery.js';
import { StaticDiscovery } from './static.js';

export type { Candidate, Discovery, DiscoveryState } from './discovery.js';

export interface DiscoveryFactory {
  (config: TroupeConfig, log: Logger): Discovery;
}

/** Modes other than static register here (issue 3 adds epmd and dns). */
const factories: Partial<Record<string, DiscoveryFactory>> = {
  static: (config) => new StaticDiscovery(config.clusterNodes, config.clusterPort),
};

export function registerDiscovery(mode: string, factory: DiscoveryFactory): void {
  factories[mode] = factory;
}

export function createDiscovery(config: TroupeConfig, log: Logger): Discovery {
  const parts: Discovery[] = [];
  for (const mode of config.discoveryTypes) {
    const factory = factories[mode];
    if (factory) parts.push(factory(config, log));
    else log.warn({ mode }, `discovery mode ${mode} is not available in this build; using the CLUSTER_NODES seeds only`);
  }
  // Seeds given explicitly are always candidates, whatever the mode.
  if (!config.discoveryTypes.includes('static') && config.clusterNodes.length > 0) parts.push(new StaticDiscovery(config.clusterNodes, config.clusterPort));
  return new CombinedDiscovery(parts);
}
