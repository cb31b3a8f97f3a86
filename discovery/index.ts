/**
 * Chooses discovery modes by CLUSTER_DISCOVERY_TYPE. Several modes combine:
 * their candidate sets are united. Seeds given in CLUSTER_NODES are always
 * candidates too, whatever the mode.
 */
import type { TroupeConfig } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { CombinedDiscovery, type Discovery } from './discovery.js';
import { StaticDiscovery } from './static.js';
import type { PortRange } from '../lib/node-address.js';
import type { HostScan } from '../lib/transport/port-scan.js';

export type { Candidate, Discovery, DiscoveryRecord, DiscoveryState } from './discovery.js';

/** What a discovery mode knows of the node it runs in. */
export interface DiscoveryContext {
  config: TroupeConfig;
  log: Logger;
  /** This node: its name, and the inter-node address and port it actually listens on. */
  self: { name: string; address: string; host: string; port: number; generation: number };
  /** Finds the troupe nodes listening in a host's port range (Transport.scan): resolves seeds without a port. */
  scan?: (host: string, range: PortRange) => Promise<HostScan>;
}

function staticDiscovery({ config, scan }: DiscoveryContext): StaticDiscovery {
  return new StaticDiscovery(config.clusterNodes, { range: config.clusterPortRange, clusterName: config.clusterName, ...(scan ? { scan } : {}) });
}

export type DiscoveryFactory = (context: DiscoveryContext) => Discovery | Promise<Discovery>;

const factories = new Map<string, DiscoveryFactory>([['static', staticDiscovery]]);

/** Adds or replaces the factory of a mode. */
export function registerDiscovery(mode: string, factory: DiscoveryFactory): void {
  factories.set(mode, factory);
}

export async function createDiscovery(context: DiscoveryContext): Promise<Discovery> {
  const { config, log } = context;
  const parts: Discovery[] = [];
  for (const mode of config.discoveryTypes) {
    const factory = factories.get(mode);
    if (factory) parts.push(await factory(context));
    else log.warn({ mode }, `discovery mode ${mode} is not available in this build; using the CLUSTER_NODES seeds only`);
  }
  if (!config.discoveryTypes.includes('static') && config.clusterNodes.length > 0) parts.push(staticDiscovery(context));
  return new CombinedDiscovery(parts);
}

// Loaded only when selected: a node that does not use a mode pays no memory for its libraries.
registerDiscovery('epmd', async (context) => (await import('./multicast.js')).createMulticastDiscovery(context));
registerDiscovery('dns', async (context) => (await import('./dns.js')).createDnsDiscovery(context));
