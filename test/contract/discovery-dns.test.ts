/**
 * The discovery contract for `dns`, against a real dnsmasq: a published node
 * is an SRV record `_troupe._tcp.test.local → <name>.test.local:<port>` plus
 * an A record `<name>.test.local → 127.0.0.1`. dnsmasq reads SRV records only
 * at start, so publishing after start restarts it on the same port, and the
 * discovery under test has to ride through that outage.
 */
import { pino } from 'pino';
import { DnsDiscovery } from '../../discovery/dns.js';
import { Dnsmasq, TEST_SRV_NAME, TEST_ZONE } from '../harness/dnsmasq.js';
import { discoveryContract, type PublishedNode } from './discovery-contract.js';

const POLL_INTERVAL_MS = 200;

discoveryContract('dns', () => {
  let server: Dnsmasq | null = null;
  const dnsmasq = async () => (server ??= await Dnsmasq.start());
  const publish = (s: Dnsmasq, node: PublishedNode) => {
    const target = `${node.name}.${TEST_ZONE}`;
    s.srv.push({ name: TEST_SRV_NAME, target, port: node.port });
    s.hosts.push({ name: target, address: '127.0.0.1' });
  };
  return {
    async create(initial) {
      const s = await dnsmasq();
      for (const node of initial) publish(s, node);
      if (initial.length > 0) await s.restart();
      return new DnsDiscovery({ hostname: TEST_SRV_NAME, servers: [s.address], pollIntervalMs: POLL_INTERVAL_MS, fallbackPort: 9100, timeoutMs: 500, log: pino({ level: 'silent' }) });
    },
    expectedAddress: (node) => `127.0.0.1:${node.port}`,
    async publishLater(node) {
      const s = await dnsmasq();
      publish(s, node);
      await s.restart();
    },
    async cleanup() {
      await server?.stop();
    },
    // A restart of dnsmasq plus a few polls, with room for a loaded CI machine.
    changeTimeoutMs: 5000,
  };
});
