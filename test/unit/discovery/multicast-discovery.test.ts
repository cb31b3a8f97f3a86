/**
 * MulticastDiscovery over real sockets on loopback, on an mDNS port of its
 * own (so nothing else on the host hears or disturbs it): isolation by
 * cluster name and version (and the rejected list), goodbye, a crash then a
 * restart, the sender's address for a host-name node, a full instance table,
 * junk on the wire, silence from other hosts, errors that clear, a slow bind,
 * and the unavailable cases. Deadlines by polling only.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import Bonjour from 'bonjour-service';
import dnsPacket from 'dns-packet';
import type { Candidate } from '../../../discovery/discovery.js';
import { MDNS_GROUP, MulticastDiscovery, type MulticastOptions } from '../../../discovery/multicast.js';
import { announcementTxt, instanceName, SERVICE_DOMAIN, SERVICE_TYPE, type LocalNode } from '../../../discovery/multicast-announcement.js';
import { defaultConfig } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';
import { PROTOCOL_VERSION } from '../../../lib/transport/handshake.js';
import { waitFor } from '../../harness/wait-for.js';

const mdnsPort = randomInt(20_000, 60_000);
const cluster = `unit-${randomBytes(4).toString('hex')}`;
const fast: MulticastOptions = { mdnsPort, firstRequeryMs: 100, queryIntervalMs: 300, staleAfterQueries: 2 };
const log = createLogger('silent');

const toClose: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of toClose.reverse()) await close().catch(() => {});
});

function discovery(name: string, port: number, options: { clusterName?: string; multicastInterface?: string } & MulticastOptions = {}): MulticastDiscovery {
  const config = { ...defaultConfig('127.0.0.1'), clusterName: options.clusterName ?? cluster, multicastInterface: options.multicastInterface ?? '127.0.0.1' };
  const self = { name: `${name}@127.0.0.1`, address: `127.0.0.1:${port}`, host: '127.0.0.1', port, generation: 1 };
  const d = new MulticastDiscovery({ config, log, self }, { ...fast, ...options });
  toClose.push(() => d.close());
  return d;
}

/** Another node's announcement, from a bonjour instance of its own (its own process, as it were). */
class Publisher {
  private bonjour = new Bonjour({ port: mdnsPort, interface: '127.0.0.1', bind: '0.0.0.0' } as object);

  constructor(readonly node: Partial<LocalNode> & { name: string; port: number }) {
    toClose.push(() => this.destroy());
  }

  publish(txt: object = announcementTxt({ address: `127.0.0.1:${this.node.port}`, generation: 1, clusterName: cluster, protocolVersion: PROTOCOL_VERSION, ...this.node })): this {
    this.bonjour.publish({ name: instanceName(this.node.name, this.node.port), type: SERVICE_TYPE, port: this.node.port, txt: txt as Record<string, string>, probe: false });
    return this;
  }

  /** Graceful: goodbye, then close. */
  async unpublish(): Promise<void> {
    await new Promise<void>((resolve) => this.bonjour.unpublishAll(() => resolve()));
    await this.destroy();
  }

  /** A crash: the socket closes without a goodbye. */
  async destroy(): Promise<void> {
    await new Promise<void>((resolve) => this.bonjour.destroy(() => resolve()));
  }
}

const addresses = (candidates: Candidate[]) => candidates.map((c) => c.address);
const has = (d: MulticastDiscovery, address: string) => addresses(d.candidates()).includes(address);

describe('MulticastDiscovery on loopback', () => {
  it('finds a node of its cluster on another port of the same host, and never proposes itself', async () => {
    const a = discovery('a', 19301);
    const b = discovery('b', 19302);
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => has(a, '127.0.0.1:19302') && has(b, '127.0.0.1:19301'), { timeoutMs: 5000, what: 'a and b to propose each other' });
    assert.deepEqual(a.candidates(), [{ address: '127.0.0.1:19302', name: 'b@127.0.0.1', source: 'epmd' }]);
    assert.ok(!has(a, '127.0.0.1:19301'), 'a never proposes itself');
    const own = a.state().records.find((r) => r.data.includes('node=a@127.0.0.1'));
    assert.ok(own?.data.endsWith('→ this node'), 'its own announcement is recorded as itself');
    assert.equal(a.state().unavailable, null);
    assert.ok(a.state().queries >= 1);
    assert.ok(typeof a.state().lastPollAt === 'number');
    await Promise.all([a.close(), b.close()]);
  });

  it('ignores another cluster and another protocol version, and says why', async () => {
    const a = discovery('a', 19311);
    await a.start();
    new Publisher({ name: 'x@127.0.0.1', port: 19312, clusterName: 'someone-else' }).publish();
    new Publisher({ name: 'v@127.0.0.1', port: 19313, protocolVersion: PROTOCOL_VERSION + 1 }).publish();
    new Publisher({ name: 'ok@127.0.0.1', port: 19314 }).publish();
    await waitFor(() => has(a, '127.0.0.1:19314'), { timeoutMs: 5000, what: 'the node of this cluster to be proposed' });
    await waitFor(() => a.state().failures['other-cluster'] === 1 && a.state().failures['protocol-version'] === 1, { timeoutMs: 5000, what: 'both foreign nodes to be counted' });
    assert.deepEqual(addresses(a.candidates()), ['127.0.0.1:19314']);
    const records = a.state().records.map((r) => r.data);
    assert.ok(records.some((d) => d.includes('ignored (other-cluster)') && d.includes('someone-else')), records.join('\n'));
    assert.ok(records.some((d) => d.includes('ignored (protocol-version)')), records.join('\n'));
    // The same, as the discovery report shows it per candidate: heard of, not proposed, why, and the address it would have had.
    const rejected = a.state().rejected ?? [];
    const byReason = (reason: string) => rejected.filter((r) => r.reason === reason).map((r) => `${r.address} ${r.name} ${r.source}`);
    assert.deepEqual(byReason('wrong-cluster-name'), ['127.0.0.1:19312 x@127.0.0.1 epmd']);
    assert.deepEqual(byReason('wrong-protocol-version'), ['127.0.0.1:19313 v@127.0.0.1 epmd']);
    await waitFor(() => (a.state().rejected ?? []).some((r) => r.reason === 'self'), { timeoutMs: 5000, what: 'its own announcement in rejected' });
    assert.ok((a.state().rejected ?? []).some((r) => r.reason === 'self' && r.address === '127.0.0.1:19311' && r.name === 'a@127.0.0.1'));
    assert.ok(!(a.state().rejected ?? []).some((r) => r.address === '127.0.0.1:19314'), 'a candidate is not rejected');
    // Re-queries bring the same announcements again: they are not counted twice.
    const queries = a.state().queries;
    await waitFor(() => a.state().queries >= queries + 2, { timeoutMs: 5000, what: 'two more queries' });
    assert.equal(a.state().failures['other-cluster'], 1);
  });

  it('drops a node at its goodbye, long before it would go stale', async () => {
    const a = discovery('a', 19321, { queryIntervalMs: 60_000 });
    await a.start();
    const b = new Publisher({ name: 'b@127.0.0.1', port: 19322 }).publish();
    await waitFor(() => has(a, '127.0.0.1:19322'), { timeoutMs: 5000, what: 'b to be proposed' });
    const changes: Candidate[][] = [];
    a.onChange((c) => changes.push(c));
    await b.unpublish();
    await waitFor(() => !has(a, '127.0.0.1:19322'), { timeoutMs: 5000, what: 'b to be dropped at its goodbye' });
    assert.ok(changes.some((c) => !addresses(c).includes('127.0.0.1:19322')), 'onChange reported the removal');
    assert.ok(a.state().records.some((r) => r.type === 'goodbye' && r.ttl === 0));
  });

  it('lets a crashed node go stale, then finds it again when it restarts', async () => {
    const a = discovery('a', 19331);
    await a.start();
    const first = new Publisher({ name: 'b@127.0.0.1', port: 19332, generation: 1 }).publish();
    await waitFor(() => has(a, '127.0.0.1:19332'), { timeoutMs: 5000, what: 'b to be proposed' });
    await first.destroy();
    await waitFor(() => !has(a, '127.0.0.1:19332'), { timeoutMs: 5000, what: 'b to go stale after its crash' });
    new Publisher({ name: 'b@127.0.0.1', port: 19332, generation: 2 }).publish();
    await waitFor(() => has(a, '127.0.0.1:19332'), { timeoutMs: 5000, what: 'restarted b to be proposed again' });
    assert.ok(a.state().records.some((r) => r.data.includes('gen=2')), 'the new generation is recorded');
  });

  it('survives junk on the wire, counts it, and still finds good nodes', async (t) => {
    const a = discovery('a', 19341);
    await a.start();
    const junk = await groupSender();
    const instance = `junk.${SERVICE_DOMAIN}`;
    const packets: Buffer[] = [
      randomBytes(40),
      Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 5, 0, 0, 0, 0]), // claims 5 answers, has none
      response([{ type: 'PTR', name: SERVICE_DOMAIN, ttl: 120, data: instance }]), // PTR only: no SRV, no TXT
      response([
        { type: 'PTR', name: SERVICE_DOMAIN, ttl: 120, data: `t1.${SERVICE_DOMAIN}` },
        { type: 'SRV', name: `t1.${SERVICE_DOMAIN}`, ttl: 120, data: { port: 19342, target: 'h.local' } },
        { type: 'TXT', name: `t1.${SERVICE_DOMAIN}`, ttl: 120, data: [Buffer.from([0xff, 0xfe, 0x3d]), Buffer.from('node'), Buffer.from('=x')] },
      ]),
      response([
        { type: 'PTR', name: SERVICE_DOMAIN, ttl: 120, data: `t2.${SERVICE_DOMAIN}` },
        { type: 'SRV', name: `t2.${SERVICE_DOMAIN}`, ttl: 120, data: { port: 19343, target: 'h.local' } },
      ]),
      response([
        { type: 'PTR', name: SERVICE_DOMAIN, ttl: 120, data: `t3.${SERVICE_DOMAIN}` },
        { type: 'SRV', name: `t3.${SERVICE_DOMAIN}`, ttl: 120, data: { port: 19344, target: 'h.local' } },
        { type: 'TXT', name: `t3.${SERVICE_DOMAIN}`, ttl: 120, data: [Buffer.from(`node=n@127.0.0.1`), Buffer.from(`cluster=${cluster}`), Buffer.from('port=99999'), Buffer.from('proto=1')] },
      ]),
      response([{ type: 'PTR', name: SERVICE_DOMAIN, ttl: 0, data: `never-seen.${SERVICE_DOMAIN}` }]), // goodbye of an unknown instance
      query(SERVICE_DOMAIN, 'ANY' as dnsPacket.RecordType),
      query('', 'PTR'),
    ];
    for (const packet of packets) await send(junk, packet);
    await waitFor(() => (a.state().failures.malformed ?? 0) >= 3, { timeoutMs: 5000, what: 'the malformed announcements to be counted', intervalMs: 100 });
    t.diagnostic(`failures after the junk: ${JSON.stringify(a.state().failures)}`);
    const junkPorts = [19342, 19343, 19344].map((p) => `127.0.0.1:${p}`);
    assert.ok(!addresses(a.candidates()).some((c) => junkPorts.includes(c)), 'no junk is proposed');
    new Publisher({ name: 'good@127.0.0.1', port: 19345 }).publish();
    await waitFor(() => has(a, '127.0.0.1:19345'), { timeoutMs: 5000, what: 'a good node to be found after the junk' });
    junk.close();
  });

  it("proposes the sender's address too when a node advertises a host name", async () => {
    const a = discovery('a', 19391);
    await a.start();
    new Publisher({ name: 'b@b-host.invalid', port: 19392, address: 'b-host.invalid:19392' }).publish();
    await waitFor(() => has(a, 'b-host.invalid:19392') && has(a, '127.0.0.1:19392'), { timeoutMs: 5000, what: 'both spellings of b to be proposed' });
    assert.deepEqual(
      a.candidates().filter((c) => c.name === 'b@b-host.invalid'),
      [
        { address: '127.0.0.1:19392', name: 'b@b-host.invalid', source: 'epmd' },
        { address: 'b-host.invalid:19392', name: 'b@b-host.invalid', source: 'epmd' },
      ],
    );
    assert.ok(a.state().records.some((r) => r.data.endsWith("→ proposed b-host.invalid:19392 and 127.0.0.1:19392 (sender's address)")));
  });

  it('a full instance table refuses a new node only until room is made; it is then taken at its next answer', async () => {
    const own = `${cluster}-full`; // every other node on this port is another cluster here: evictable
    const a = discovery('a', 19401, { clusterName: own, maxInstances: 2 });
    await a.start();
    new Publisher({ name: 'b@127.0.0.1', port: 19402, clusterName: own }).publish();
    const c = new Publisher({ name: 'c@127.0.0.1', port: 19403, clusterName: own }).publish();
    await waitFor(() => has(a, '127.0.0.1:19402') && has(a, '127.0.0.1:19403'), { timeoutMs: 5000, what: 'b and c to fill the table' });
    new Publisher({ name: 'd@127.0.0.1', port: 19404, clusterName: own }).publish();
    const queries = a.state().queries;
    await waitFor(() => a.state().queries >= queries + 3, { timeoutMs: 5000, what: 'three more queries' });
    assert.ok(!has(a, '127.0.0.1:19404'), 'd is refused while b and c are fresh candidates');
    assert.ok((a.state().failures['too-many-instances'] ?? 0) > 0);
    await c.destroy(); // c crashes: stale after two query periods, then evictable
    await waitFor(() => has(a, '127.0.0.1:19404') && !has(a, '127.0.0.1:19403'), { timeoutMs: 5000, what: 'd to take the place of the crashed c' });
    assert.deepEqual(addresses(a.candidates()), ['127.0.0.1:19402', '127.0.0.1:19404']);
  });

  it('says when nothing comes from any other host (multicast filtered?), and stops when something does', async () => {
    // Loopback dressed up as a LAN interface, so that the check applies.
    const interfaces = () => ({ eth0: [{ address: '127.0.0.1', family: 'IPv4', internal: false }] });
    const a = discovery('a', 19411, { interfaces });
    await a.start();
    assert.equal(a.state().lastError, null);
    await waitFor(() => /no mDNS traffic from any other host in 0\.9 s: multicast may be filtered/.test(a.state().lastError ?? ''), { timeoutMs: 5000, what: 'the silence to be reported' });
    assert.equal(a.state().unavailable, null, 'silence is not unavailability');
    const other = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.2', () => resolve()));
    other.setMulticastInterface('127.0.0.1');
    try {
      await send(other, query('_http._tcp.local', 'PTR')); // anything at all from another address
      await waitFor(() => a.state().lastError === null, { timeoutMs: 5000, what: 'the silence report to clear' });
    } finally {
      other.close();
    }
  });

  it('an error clears once a query goes out and an answer comes back; undecodable packets are no error', async () => {
    let socket: Socket | undefined;
    const a = discovery('a', 19421, { createSocket: () => (socket = createSocket({ type: 'udp4', reuseAddr: true })) });
    await a.start();
    socket!.emit('error', Object.assign(new Error('recvmsg EIO'), { code: 'EIO', syscall: 'recvmsg' }));
    assert.equal(a.state().lastError, 'recvmsg EIO');
    assert.equal(a.state().failures.socket, 1);
    await waitFor(() => a.state().lastError === null, { timeoutMs: 5000, what: 'the error to clear after a query and its answer' });
    const junk = await groupSender();
    try {
      const before = a.state().failures['foreign-undecodable'] ?? 0;
      await send(junk, Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 5, 0, 0, 0, 0]));
      await waitFor(() => (a.state().failures['foreign-undecodable'] ?? 0) > before, { timeoutMs: 5000, what: 'the undecodable packet to be counted' });
      assert.equal(a.state().lastError, null);
      assert.equal(a.state().failures.malformed, undefined, 'malformed is for announcements of our type only');
    } finally {
      junk.close();
    }
  });

  it('a bind slower than the wait: start returns and says so, and the setup finishes when the socket is ready', async () => {
    const slowSocket = () => {
      const socket = createSocket({ type: 'udp4', reuseAddr: true });
      const bind = socket.bind.bind(socket) as (...args: unknown[]) => Socket;
      socket.bind = ((...args: unknown[]) => {
        setTimeout(() => bind(...args), 300);
        return socket;
      }) as Socket['bind'];
      return socket;
    };
    const a = discovery('a', 19431, { createSocket: slowSocket, bindTimeoutMs: 50 });
    const b = discovery('b', 19432);
    await Promise.all([a.start(), b.start()]);
    assert.match(a.state().unavailable ?? '', /cannot bind UDP port \d+ for mDNS .*no answer from the socket within 50 ms \(still waiting\)/);
    await waitFor(() => a.state().unavailable === null && has(a, '127.0.0.1:19432') && has(b, '127.0.0.1:19431'), { timeoutMs: 5000, what: 'the slow node to finish its setup and find b' });
  });

  it('joins on each interface of a list; joined on loopback only when a LAN interface was named is reported', async () => {
    // 10.255.255.254 is not on this host: the join there fails, and so does sending there; nothing leaves loopback.
    const interfaces = () => ({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }], eth9: [{ address: '10.255.255.254', family: 'IPv4', internal: false }] });
    const a = discovery('a', 19441, { interfaces, multicastInterface: 'lo,eth9' });
    const b = discovery('b', 19442);
    await Promise.all([a.start(), b.start()]);
    assert.match(a.state().unavailable ?? '', /joined multicast group 224\.0\.0\.251 on loopback only.*eth9 10\.255\.255\.254/);
    await waitFor(() => has(a, '127.0.0.1:19442') && has(b, '127.0.0.1:19441'), { timeoutMs: 5000, what: 'a and b to find each other over loopback all the same' });
  });

  it('reports a port it cannot bind as unavailable, in state, and keeps running', async () => {
    const blocker = createSocket({ type: 'udp4', reuseAddr: false });
    const port = await new Promise<number>((resolve) => blocker.bind(0, '0.0.0.0', () => resolve(blocker.address().port)));
    try {
      const d = discovery('a', 19351, { mdnsPort: port });
      await d.start();
      assert.match(d.state().unavailable ?? '', new RegExp(`cannot bind UDP port ${port}`));
      assert.ok(d.state().lastError);
      assert.deepEqual(d.candidates(), []);
      await d.close();
    } finally {
      blocker.close();
    }
  });

  it('reports an interface that is not here as unavailable, without opening a socket', async () => {
    const d = discovery('a', 19361, { multicastInterface: '10.255.255.254' });
    await d.start();
    assert.match(d.state().unavailable ?? '', /CLUSTER_MULTICAST_INTERFACE.*10\.255\.255\.254/);
    await d.close();
  });

  it('falls back to loopback on a host with no other interface, and says only this host is covered', async () => {
    const interfaces = () => ({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }] });
    const a = discovery('a', 19371, { multicastInterface: '', interfaces });
    const b = discovery('b', 19372, { multicastInterface: '', interfaces });
    await Promise.all([a.start(), b.start()]);
    assert.match(a.state().unavailable ?? '', /only nodes on this host/);
    await waitFor(() => has(a, '127.0.0.1:19372'), { timeoutMs: 5000, what: 'b to be found over loopback' });
  });

  it('starts and closes idempotently, closes before start, and honours an aborted signal', async () => {
    const d = discovery('a', 19381);
    await Promise.all([d.start(), d.start()]);
    await d.close();
    await d.close();
    const never = discovery('b', 19382);
    await never.close();
    const aborted = discovery('c', 19383);
    await assert.rejects(aborted.start({ signal: AbortSignal.abort() }), { name: 'AbortError' });
  });
});

async function groupSender(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  socket.setMulticastInterface('127.0.0.1');
  return socket;
}

function send(socket: Socket, packet: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.send(packet, mdnsPort, MDNS_GROUP, (err) => (err ? reject(err) : resolve())));
}

function response(answers: dnsPacket.Answer[]): Buffer {
  return dnsPacket.encode({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers });
}

function query(name: string, type: dnsPacket.RecordType): Buffer {
  return dnsPacket.encode({ type: 'query', questions: [{ name, type }] });
}
