/**
 * The discovery contract for multicast (epmd) on loopback: the harness
 * announces the other nodes from a separate bonjour-service instance, as
 * their own processes would, under a cluster name of its own so that nothing
 * else on the host can join in.
 */
import { randomBytes } from 'node:crypto';
import Bonjour from 'bonjour-service';
import { MulticastDiscovery } from '../../discovery/multicast.js';
import { announcementTxt, instanceName, SERVICE_TYPE } from '../../discovery/multicast-announcement.js';
import { defaultConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { PROTOCOL_VERSION } from '../../lib/transport/handshake.js';
import { discoveryContract, type PublishedNode } from './discovery-contract.js';

const clusterName = `contract-${randomBytes(4).toString('hex')}`;
const nodeName = (node: PublishedNode) => `${node.name}@127.0.0.1`;

discoveryContract('epmd', () => {
  let publisher: Bonjour | undefined;
  const announce = (node: PublishedNode) => {
    publisher ??= new Bonjour({ interface: '127.0.0.1', bind: '0.0.0.0' } as object);
    const self = { name: nodeName(node), address: `127.0.0.1:${node.port}`, port: node.port, generation: 1, clusterName, protocolVersion: PROTOCOL_VERSION };
    publisher.publish({ name: instanceName(self.name, node.port), type: SERVICE_TYPE, port: node.port, txt: announcementTxt(self), probe: false });
  };
  return {
    create: async (initial) => {
      for (const node of initial) announce(node);
      const config = { ...defaultConfig('127.0.0.1'), clusterName, multicastInterface: '127.0.0.1' };
      const self = { name: 'self@127.0.0.1', address: '127.0.0.1:19100', host: '127.0.0.1', port: 19100, generation: 1 };
      return new MulticastDiscovery({ config, log: createLogger('silent'), self }, { firstRequeryMs: 200, queryIntervalMs: 1000 });
    },
    expectedAddress: (node) => `127.0.0.1:${node.port}`,
    publishLater: async (node) => announce(node),
    cleanup: async () => {
      const bonjour = publisher;
      if (!bonjour) return;
      await new Promise<void>((resolve) => bonjour.unpublishAll(() => resolve()));
      await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
    },
    changeTimeoutMs: 5000,
  };
});
