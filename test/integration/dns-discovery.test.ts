/**
 * DNS discovery end to end: real `troupe start` processes on 127.0.0.1 with
 * CLUSTER_DISCOVERY_TYPE=dns and no seed list, and a real dnsmasq serving
 * `_troupe._tcp.test.local` (SRV targets `<node>.test.local` → 127.0.0.1).
 *
 * In order: three nodes form a cluster from SRV records; an SRV record added
 * at runtime (dnsmasq restarted) brings in a fourth node that cannot find
 * anyone by itself, so the members must have found it; enough records to
 * set the TC bit are fetched over TCP; an NXDOMAIN name and an unreachable
 * server leave a node running with the error in its status, and once the
 * NXDOMAIN name gets a record that node joins. Throughout, an in-process
 * DnsDiscovery watches the same name and must never lose a member while
 * dnsmasq restarts. Deadlines are generous; nothing asserts a duration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Candidate } from '../../discovery/discovery.js';
import { DnsDiscovery } from '../../discovery/dns.js';
import { Dnsmasq, TEST_SRV_NAME, TEST_ZONE } from '../harness/dnsmasq.js';
import { freePort, ProcessGroup, stateOf, type TroupeProcess } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const POLL_INTERVAL_MS = 500;
/** SRV records added to force truncation: with long targets, far more than a 1232-byte UDP answer holds. */
const BULK_RECORDS = 80;
const BULK_PORT_BASE = 61_000; // above the ephemeral range: nothing listens there

const group = new ProcessGroup();

async function allSee(observers: TroupeProcess[], name: string, state: string, timeoutMs = 20_000): Promise<void> {
  for (const observer of observers) {
    await waitFor(async () => (await stateOf(observer, name)) === state, { timeoutMs, what: `${observer.nodeName} to see ${name} ${state}`, abortIf: observer.exitedReason });
  }
}

describe('DNS discovery with real processes and dnsmasq', () => {
  let dns: Dnsmasq;
  let watcher: DnsDiscovery;
  const watched: Candidate[][] = [];
  const nodes: TroupeProcess[] = [];
  const ports: number[] = [];

  const publish = (name: string, port: number, srvName = TEST_SRV_NAME) => {
    const target = `${name}.${TEST_ZONE}`;
    dns.srv.push({ name: srvName, target, port });
    if (!dns.hosts.some((h) => h.name === target)) dns.hosts.push({ name: target, address: '127.0.0.1' });
  };
  const dnsEnv = (overrides: Record<string, string> = {}) => ({
    CLUSTER_DISCOVERY_TYPE: 'dns',
    CLUSTER_DNS_HOSTNAME: TEST_SRV_NAME,
    CLUSTER_DNS_SERVER: dns.address,
    CLUSTER_DNS_POLL_INTERVAL: String(POLL_INTERVAL_MS),
    ...overrides,
  });

  before(async () => {
    dns = await Dnsmasq.start();
    for (let i = 1; i <= 4; i++) ports.push(await freePort());
    for (let i = 1; i <= 3; i++) publish(`n${i}`, ports[i - 1]!);
    await dns.restart();
    watcher = new DnsDiscovery({ hostname: TEST_SRV_NAME, servers: [dns.address], pollIntervalMs: 100, fallbackPort: 9100, timeoutMs: 300, log: pino({ level: 'silent' }) });
    watcher.onChange((c) => watched.push(c));
    await watcher.start();
  });

  after(async () => {
    await watcher?.close();
    await group.cleanup();
    await dns?.stop();
  });

  it('three nodes form a cluster from SRV records alone', async () => {
    for (let i = 1; i <= 3; i++) nodes.push(group.start({ name: `n${i}`, clusterPort: ports[i - 1]!, env: dnsEnv() }));
    await Promise.all(nodes.map((n) => n.ready()));
    for (const node of nodes) {
      await waitFor(async () => {
        const status = await node.status();
        return status.members.length === 3 && status.members.every((m) => m.state === 'up');
      }, { timeoutMs: 20_000, what: `${node.nodeName} to show 3 members up`, abortIf: node.exitedReason });
    }
    const report = (await nodes[0]!.request('GET', '/api/cluster/discovery')).json;
    assert.deepEqual(report.modes, ['dns']);
    assert.equal(report.lastError, null);
    const srvRecords = report.records.filter((r: { type: string }) => r.type === 'SRV').map((r: { data: string }) => r.data).sort();
    assert.deepEqual(srvRecords, [1, 2, 3].map((i) => `0 0 ${ports[i - 1]} n${i}.${TEST_ZONE}`).sort());
    const outcomes = report.candidateReports.map((c: { outcome: string }) => c.outcome).sort();
    assert.deepEqual(outcomes, ['joined', 'joined', 'self']);
  });

  it('an SRV record added at runtime brings a fourth node in, riding through the dnsmasq restart', async () => {
    // n4 has no way to find anyone (static discovery, no seeds): the members must find it through DNS.
    const n4 = group.start({ name: 'n4', clusterPort: ports[3]!, env: { CLUSTER_DISCOVERY_TYPE: 'static' } });
    await n4.ready();
    publish('n4', ports[3]!);
    await dns.restart();
    nodes.push(n4);
    await allSee(nodes, n4.nodeName, 'up');
    for (const node of nodes.slice(0, 3)) {
      await waitFor(async () => {
        const discovery = (await node.status()).discovery as { candidates: string[]; lastError: string | null };
        return discovery.candidates.length === 4 && discovery.lastError === null;
      }, { timeoutMs: 10_000, what: `${node.nodeName} to list 4 candidates with no error`, abortIf: node.exitedReason });
    }
  });

  it('an answer too big for UDP sets the TC bit and is fetched over TCP', async () => {
    for (let i = 0; i < BULK_RECORDS; i++) {
      const target = `bulk-${String(i).padStart(3, '0')}-a-target-name-long-enough-to-overflow-udp.${TEST_ZONE}`;
      dns.srv.push({ name: TEST_SRV_NAME, target, port: BULK_PORT_BASE + i });
      dns.hosts.push({ name: target, address: '127.0.0.2' });
    }
    await dns.restart();
    const total = 4 + BULK_RECORDS;
    for (const node of nodes.slice(0, 3)) {
      await waitFor(async () => ((await node.status()).discovery as { candidates: string[] }).candidates.length === total, { timeoutMs: 15_000, what: `${node.nodeName} to list ${total} candidates`, abortIf: node.exitedReason });
    }
    const report = (await nodes[0]!.request('GET', '/api/cluster/discovery')).json;
    assert.equal(report.records.filter((r: { type: string }) => r.type === 'SRV').length, total);
    const dnsPart = report.perMode.find((p: { mode: string }) => p.mode === 'dns');
    assert.ok(dnsPart.tcpFallbacks > 0, `node report: tcpFallbacks ${dnsPart.tcpFallbacks}`);
    assert.equal(dnsPart.lastAnswer?.transport, 'tcp');
    // And in a discovery of our own, watched directly.
    await waitFor(() => watcher.candidates().length === total, { timeoutMs: 10_000, what: `the watcher to list ${total} candidates` });
    const state = watcher.state();
    assert.ok(state.tcpFallbacks > 0, `tcpFallbacks ${state.tcpFallbacks}`);
    assert.equal(state.lastAnswer?.transport, 'tcp');
    assert.equal(state.lastAnswer?.complete, true);
    // The members are still all up: 80 unreachable candidates block nobody.
    await allSee(nodes, nodes[3]!.nodeName, 'up');
  });

  it('an NXDOMAIN name and an unreachable server leave the node running with the error in its status', async () => {
    const lateName = `_late._tcp.${TEST_ZONE}`;
    const nx = group.start({ name: 'nx', clusterPort: await freePort(), env: dnsEnv({ CLUSTER_DNS_HOSTNAME: lateName }) });
    const deaf = group.start({ name: 'deaf', clusterPort: await freePort(), env: dnsEnv({ CLUSTER_DNS_SERVER: `127.0.0.1:${await freePort()}` }) });
    await Promise.all([nx.ready(), deaf.ready()]);
    const expectations: Array<[TroupeProcess, RegExp]> = [[nx, /^dns: nxdomain: NXDOMAIN/], [deaf, /^dns: unreachable:/]];
    for (const [node, pattern] of expectations) {
      await waitFor(async () => {
        const error = ((await node.status()).discovery as { lastError: string | null }).lastError;
        return error !== null && pattern.test(error);
      }, { timeoutMs: 10_000, what: `${node.nodeName} to report ${pattern}`, abortIf: node.exitedReason });
      assert.equal((await node.request('GET', '/health/live')).status, 200);
      const failures = (await node.request('GET', '/api/cluster/discovery')).json.failures as Record<string, number>;
      assert.ok(Object.values(failures).some((n) => n > 0), JSON.stringify(failures));
    }
    // The same failures, at the DnsDiscovery level.
    const log = pino({ level: 'silent' });
    const direct = [
      new DnsDiscovery({ hostname: `nothing.${TEST_ZONE}`, servers: [dns.address], pollIntervalMs: 200, fallbackPort: 9100, log }),
      new DnsDiscovery({ hostname: TEST_SRV_NAME, servers: [`127.0.0.1:${await freePort()}`], pollIntervalMs: 200, fallbackPort: 9100, log }),
    ];
    try {
      await Promise.all(direct.map((d) => d.start()));
      assert.match(direct[0]!.state().lastError ?? '', /^nxdomain:/);
      assert.equal(direct[0]!.state().failures.nxdomain, 1);
      assert.match(direct[1]!.state().lastError ?? '', /^unreachable:/);
      assert.ok(direct.every((d) => d.candidates().length === 0 && d.state().queries > 0));
    } finally {
      await Promise.all(direct.map((d) => d.close()));
    }

    // A name that was not resolvable at start-up is retried: once it has a record, the node joins.
    publish('n1', ports[0]!, lateName);
    await dns.restart();
    await allSee([nx, nodes[0]!], nx.nodeName, 'up');
    assert.equal(nx.exitCode, undefined);
    assert.equal(deaf.exitCode, undefined);
  });

  it('the watcher never lost a member while dnsmasq restarted', () => {
    let known = new Set<string>();
    for (const candidates of watched) {
      const now = new Set(candidates.map((c) => c.address));
      for (const address of known) assert.ok(now.has(address), `${address} dropped from a change event`);
      known = now;
    }
    assert.ok(watched.length >= 3, `saw ${watched.length} changes`);
  });

  it('a node whose record disappears from DNS but still answers probes stays up', async () => {
    const target = `n4.${TEST_ZONE}`;
    dns.srv = dns.srv.filter((r) => !(r.name === TEST_SRV_NAME && r.target === target));
    await dns.restart();
    const n4Address = `127.0.0.1:${ports[3]}`;
    for (const node of nodes.slice(0, 3)) {
      await waitFor(async () => !(await node.status()).discovery.candidates.includes(n4Address), { timeoutMs: 10_000, what: `${node.nodeName} to drop ${n4Address} from its candidates`, abortIf: node.exitedReason });
    }
    // Several more polls and probe periods: discovery only proposes, membership decides.
    const until = performance.now() + 4 * POLL_INTERVAL_MS;
    while (performance.now() < until) {
      for (const node of nodes.slice(0, 3)) assert.equal(await stateOf(node, nodes[3]!.nodeName), 'up');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});
