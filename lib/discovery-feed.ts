/**
 * Discovery feeding membership: starts the configured discovery (static only,
 * and empty, with clustering off), hands its candidates to the membership
 * actor now and on every change, and makes a node with no candidate but
 * itself form a cluster of one at once.
 */
import type { MembershipActorHandle } from '../actors/membership-actor.js';
import { createDiscovery, type Discovery } from '../discovery/index.js';
import type { TroupeConfig } from './config.js';
import type { Logger } from './log.js';
import { nodeHost, type PortRange } from './node-address.js';
import type { Transport } from './transport/transport.js';

export interface DiscoveryFeedOptions {
  config: TroupeConfig;
  log: Logger;
  self: { name: string; address: string; port: number; generation: number };
  transport: Pick<Transport, 'scan'>;
  membership: Pick<MembershipActorHandle, 'send'>;
  signal?: AbortSignal | undefined;
}

/** The running discovery and the candidates it found at start. */
export async function startDiscoveryFeed(options: DiscoveryFeedOptions): Promise<{ discovery: Discovery; candidates: string[] }> {
  const { config, self, membership, signal } = options;
  const discovery = await createDiscovery({
    config: config.clusteringEnabled ? config : { ...config, clusterNodes: [], discoveryTypes: ['static'] },
    log: options.log,
    self: { ...self, host: nodeHost(self.name) },
    scan: (host: string, range: PortRange) => options.transport.scan(host, range),
  });
  discovery.onChange((found) => membership.send({ type: 'candidates', addresses: found.map((c) => c.address) }));
  await discovery.start(signal ? { signal } : {});
  signal?.throwIfAborted();
  const candidates = discovery.candidates().map((c) => c.address);
  membership.send({ type: 'candidates', addresses: candidates });
  if (candidates.filter((a) => a !== self.address).length === 0) membership.send({ type: 'join', addresses: [] });
  return { discovery, candidates };
}
