/**
 * DNS discovery figures, against a real dnsmasq on loopback:
 *
 *   1. query round trip, p50/p99 over `queries` sequential queries: a raw UDP
 *      echo to another process (the loopback limit), a raw DNS query to
 *      dnsmasq over one reused socket, and `DnsClient.query` (what discovery
 *      does: a fresh connected socket and a random id per query, the answer
 *      read and checked);
 *   2. the cost of one discovery poll (`DnsDiscovery.pollNow`) with 10 SRV
 *      records (one UDP answer) and with 100 SRV records with long targets
 *      (truncated over UDP, fetched again over TCP): wall ms and CPU ms per
 *      poll, and the pure part alone (reading the 100-record answer and
 *      stepping the poll to its verdict);
 *   3. time from an SRV record appearing (dnsmasq restarted with it and
 *      answering) to the new node being `up` on every member of a 3-node
 *      cluster, with CLUSTER_DNS_POLL_INTERVAL=1000. The new node runs alone
 *      with no way to find anyone, so the members must find it through DNS.
 *      Goal: ≤ one poll interval + one membership sync.
 *
 *   node dist/bench/dns-discovery.js [trials=8] [queries=1000] [polls=100]
 */
import { fork } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { DnsLookup } from '../discovery/dns-answer.js';
import { DnsClient } from '../discovery/dns-client.js';
import { DnsDiscovery } from '../discovery/dns.js';
import { readResponse } from '../discovery/dns-message.js';
import { Dnsmasq, TEST_SRV_NAME, TEST_ZONE } from '../test/harness/dnsmasq.js';
import { freePort, ProcessGroup, stateOf, type TroupeProcess } from '../test/harness/troupe-process.js';
import { waitFor } from '../test/harness/wait-for.js';

const POLL_INTERVAL_MS = 1000;
const trials = Number(process.argv[2] ?? 8);
const queries = Number(process.argv[3] ?? 1000);
const polls = Number(process.argv[4] ?? 100);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const us = (ms: number) => `${Math.round(ms * 1000)} µs`;
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;

function longTarget(i: number): string {
  return `node-${String(i).padStart(3, '0')}-with-a-long-pod-name.troupe-headless.default.svc.${TEST_ZONE}`;
}

/** Child role: a UDP echo server in its own process, as dnsmasq is. */
function echoServer(): void {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  socket.bind(0, '127.0.0.1', () => process.send!({ port: socket.address().port }));
  process.on('disconnect', () => process.exit(0));
}

/** Sequential round trips over one socket; `send` writes one request, `isReply` recognizes its answer. */
async function roundTrips(socket: Socket, port: number, count: number, request: (i: number) => Buffer, isReply: (msg: Buffer, i: number) => boolean): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const reply = new Promise<void>((resolve) => {
      const onMessage = (msg: Buffer) => {
        if (!isReply(msg, i)) return;
        socket.off('message', onMessage);
        resolve();
      };
      socket.on('message', onMessage);
    });
    socket.send(request(i), port, '127.0.0.1');
    await reply;
    samples.push(performance.now() - started);
  }
  return samples;
}

async function queryRoundTrips(dns: Dnsmasq): Promise<void> {
  console.log(`\n1. query round trip on loopback (${queries} sequential queries, SRV with 3 records + additionals)`);
  const question = { name: TEST_SRV_NAME, type: 'SRV' as const };
  const child = fork(fileURLToPath(import.meta.url), ['echo'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [{ port: echoPort }] = (await once(child, 'message')) as [{ port: number }];
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const query = (i: number) => dnsPacket.encode({ type: 'query', id: i % 65536, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: TEST_SRV_NAME, type: 'SRV' }] });
  const rows: Array<[string, number[]]> = [];
  rows.push(['raw UDP echo (other process)', await roundTrips(socket, echoPort, queries, query, (msg, i) => msg.readUInt16BE(0) === i % 65536)]);
  rows.push(['raw DNS query to dnsmasq, one socket', await roundTrips(socket, dns.port, queries, query, (msg, i) => msg.readUInt16BE(0) === i % 65536)]);
  socket.close();
  child.disconnect();
  const client = new DnsClient();
  client.setServers([{ host: '127.0.0.1', port: dns.port }]);
  const samples: number[] = [];
  for (let i = 0; i < queries; i++) {
    const started = performance.now();
    const outcome = await client.query(question);
    if (!outcome.ok) throw new Error(`query failed: ${outcome.detail}`);
    samples.push(performance.now() - started);
  }
  rows.push(['DnsClient.query (socket per query)', samples]);
  for (const [what, values] of rows) console.log(`   ${what.padEnd(40)} p50 ${us(percentile(values, 50)).padStart(8)}   p99 ${us(percentile(values, 99)).padStart(8)}`);
}

async function pollCost(dns: Dnsmasq, records: number): Promise<void> {
  dns.srv = Array.from({ length: records }, (_, i) => ({ name: TEST_SRV_NAME, target: longTarget(i), port: 20_000 + i }));
  dns.hosts = dns.srv.map((s) => ({ name: s.target, address: '127.0.0.1' }));
  await dns.restart();
  const discovery = new DnsDiscovery({ hostname: TEST_SRV_NAME, servers: [dns.address], pollIntervalMs: 3_600_000, fallbackPort: 9100, log: pino({ level: 'silent' }) });
  await discovery.start();
  if (discovery.candidates().length !== records) throw new Error(`expected ${records} candidates, got ${discovery.candidates().length}: ${discovery.state().lastError}`);
  for (let i = 0; i < 10; i++) await discovery.pollNow(); // warm-up
  const samples: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < polls; i++) {
    const started = performance.now();
    await discovery.pollNow();
    samples.push(performance.now() - started);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const state = discovery.state();
  await discovery.close();
  if (state.candidates.length !== records || state.lastError !== null) throw new Error(`poll went wrong: ${state.lastError}`);
  const cpuMs = (cpu.user + cpu.system) / 1000 / polls;
  console.log(`   ${String(records).padStart(3)} SRV records (${state.lastAnswer?.transport === 'tcp' ? 'UDP truncated → TCP' : 'UDP'}): p50 ${ms(percentile(samples, 50))}, p99 ${ms(percentile(samples, 99))} per poll, CPU ${ms(cpuMs)} per poll, ${(state.queries / state.polls).toFixed(1)} queries per poll`);
}

/** The pure part of a 100-record poll: read the TCP answer and step the lookup to its verdict. */
function pureCost(): void {
  const answer = dnsPacket.encode({
    type: 'response', id: 1, flags: 0,
    questions: [{ name: TEST_SRV_NAME, type: 'SRV' }],
    answers: Array.from({ length: 100 }, (_, i) => ({ type: 'SRV' as const, name: TEST_SRV_NAME, ttl: 0, data: { target: longTarget(i), port: 20_000 + i, priority: 0, weight: 0 } })),
    additionals: Array.from({ length: 100 }, (_, i) => ({ type: 'A' as const, name: longTarget(i), ttl: 0, data: '127.0.0.1' })),
  });
  const runs = 2000;
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const read = readResponse(answer, 1, { name: TEST_SRV_NAME, type: 'SRV' });
    if (read.kind !== 'message') throw new Error(read.kind);
    const lookup = new DnsLookup({ name: TEST_SRV_NAME, fallbackPort: 9100 });
    lookup.step({ type: 'start' });
    const [question] = lookup.ready().queries;
    lookup.step({ type: 'outcome', question: question!, outcome: { ok: true, message: read.message, server: 'bench', transport: 'tcp' } });
    if (!lookup.ready().verdict?.ok) throw new Error('no verdict');
  }
  console.log(`   pure part of a 100-record poll (read ${answer.length} bytes + lookup): ${us((performance.now() - started) / runs)} per poll`);
}

async function timeToUp(dns: Dnsmasq): Promise<void> {
  console.log(`\n3. SRV record appears → new node up on every member (3 members, CLUSTER_DNS_POLL_INTERVAL=${POLL_INTERVAL_MS}, ${trials} trials)`);
  const group = new ProcessGroup();
  try {
    const ports = [await freePort(), await freePort(), await freePort()];
    const published = (name: string, port: number) => ({ name: TEST_SRV_NAME, target: `${name}.${TEST_ZONE}`, port });
    dns.srv = ports.map((port, i) => published(`n${i + 1}`, port));
    dns.hosts = ports.map((_, i) => ({ name: `n${i + 1}.${TEST_ZONE}`, address: '127.0.0.1' }));
    await dns.restart();
    const env = { CLUSTER_DISCOVERY_TYPE: 'dns', CLUSTER_DNS_HOSTNAME: TEST_SRV_NAME, CLUSTER_DNS_SERVER: dns.address, CLUSTER_DNS_POLL_INTERVAL: String(POLL_INTERVAL_MS), LOG_LEVEL: 'warn' };
    const members = ports.map((port, i) => group.start({ name: `n${i + 1}`, clusterPort: port, env }));
    await Promise.all(members.map((m) => m.ready()));
    for (const m of members) {
      await waitFor(async () => (await m.status()).members.filter((x) => x.state === 'up').length === 3, { timeoutMs: 30_000, what: `${m.nodeName} to see 3 up`, abortIf: m.exitedReason });
    }
    const samples: number[] = [];
    let previous: TroupeProcess | null = null;
    for (let trial = 1; trial <= trials; trial++) {
      const port = await freePort();
      const name = `new${trial}`;
      // Alone: static discovery, no seeds. Only the members' DNS polls can bring it in.
      const node = group.start({ name, clusterPort: port, env: { CLUSTER_DISCOVERY_TYPE: 'static', LOG_LEVEL: 'warn' } });
      await node.ready();
      await waitFor(async () => (await stateOf(node, node.nodeName)) === 'up', { timeoutMs: 15_000, what: `${name} to be up alone` });
      if (previous) {
        await previous.kill();
        dns.srv = dns.srv.filter((s) => s.target !== `${previous!.options.name}.${TEST_ZONE}`);
      }
      dns.srv.push(published(name, port));
      dns.hosts.push({ name: `${name}.${TEST_ZONE}`, address: '127.0.0.1' });
      await dns.restart(); // returns once dnsmasq answers, with the new record
      const appearedAt = performance.now();
      const pending = new Set(members);
      while (pending.size > 0) {
        for (const member of [...pending]) if ((await stateOf(member, node.nodeName)) === 'up') pending.delete(member);
        if (performance.now() - appearedAt > 30_000) throw new Error(`${name} not up everywhere after 30 s`);
      }
      samples.push(performance.now() - appearedAt);
      console.log(`   trial ${trial}: ${ms(samples.at(-1)!)}`);
      previous = node;
    }
    console.log(`   p50 ${ms(percentile(samples, 50))}, max ${ms(Math.max(...samples))} (goal ≤ ${POLL_INTERVAL_MS} ms poll interval + one membership sync)`);
  } finally {
    await group.cleanup();
  }
}

async function main(): Promise<void> {
  const dns = await Dnsmasq.start({ srv: [1, 2, 3].map((i) => ({ name: TEST_SRV_NAME, target: `n${i}.${TEST_ZONE}`, port: 9100 + i })), hosts: [1, 2, 3].map((i) => ({ name: `n${i}.${TEST_ZONE}`, address: '127.0.0.1' })) });
  try {
    console.log(`DNS discovery benchmark — dnsmasq on ${dns.address}, node ${process.version}`);
    await queryRoundTrips(dns);
    console.log(`\n2. discovery cost per poll (${polls} polls)`);
    await pollCost(dns, 10);
    await pollCost(dns, 100);
    pureCost();
    await timeToUp(dns);
  } finally {
    await dns.stop();
  }
}

if (process.argv[2] === 'echo') echoServer();
else
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
