import { StaticDiscovery } from '../../discovery/static.js';
import { discoveryContract, type PublishedNode } from './discovery-contract.js';

discoveryContract('static', () => ({
  create: async (initial: PublishedNode[]) => new StaticDiscovery(initial.map((n) => `${n.name}@127.0.0.1:${n.port}`)),
  expectedAddress: (node) => `127.0.0.1:${node.port}`,
  cleanup: async () => {},
  changeTimeoutMs: 1000,
}));
