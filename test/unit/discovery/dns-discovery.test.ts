/**
 * The socket shell of DNS discovery against scripted DNS servers on loopback
 * (real UDP/TCP sockets, answers decided by each test): stray packets,
 * timeouts, unreachable servers, rotation, TC → TCP, malformed answers; and
 * DnsDiscovery's promises: the shrink rule through every kind of failure,
 * onChange only on a real change, one log line per change of error, close.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import type { Candidate } from '../../../discovery/discovery.js';
import { DnsLookup, type QueryOutcome } from '../../../discovery/dns-answer.js';
import { DnsClient } from '../../../discovery/dns-client.js';
import { frameForTcp } from '../../../discovery/dns-message.js';
import { DnsDiscovery, createDnsDiscovery, driveLookup } from '../../../discovery/dns.js';
import { defaultConfig } from '../../../lib/config.js';
import { freePort } from '../../harness/troupe-process.js';
import { waitFor } from '../../harness/wait-for.js';

const NAME = '_troupe._tcp.test.local';

type Reply =
  | { kind: 'answer'; rcode?: number; truncated?: boolean; answers?: dnsPacket.Answer[]; additionals?: dnsPacket.Answer[] }
  | { kind: 'silent' }
  | { kind: 'raw'; bytes: (query: dnsPacket.DecodedPacket) => Buffer[] }
  /** TCP only: these bytes as they are (no length prefix added), in one write. */
  | { kind: 'stream'; bytes: (query: dnsPacket.DecodedPacket) => Buffer };

/** A DNS server whose answers the test scripts: `udp` and `tcp` map a query to a reply. */
class ScriptedDns {
  readonly udpQueries: dnsPacket.DecodedPacket[] = [];
  readonly tcpQueries: dnsPacket.DecodedPacket[] = [];
  udp: (q: dnsPacket.DecodedPacket) => Reply = () => ({ kind: 'silent' });
  tcp: ((q: dnsPacket.DecodedPacket) => Reply) | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly server: Server | null,
    readonly port: number,
  ) {}

  static async start(options: { tcp?: boolean } = {}): Promise<ScriptedDns> {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const socket = createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => (socket.once('error', reject), socket.bind(port, '127.0.0.1', () => resolve())));
      } catch (err) {
        socket.close();
        if (attempt < 5) continue;
        throw err;
      }
      let server: Server | null = null;
      if (options.tcp) {
        server = createServer();
        await new Promise<void>((resolve, reject) => (server!.once('error', reject), server!.listen(port, '127.0.0.1', () => resolve())));
      }
      const fake = new ScriptedDns(socket, server, port);
      fake.wire();
      return fake;
    }
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.socket.close();
    if (this.server) await new Promise((resolve) => this.server!.close(resolve));
  }

  private wire(): void {
    this.socket.on('message', (bytes, rinfo) => {
      const query = dnsPacket.decode(bytes);
      this.udpQueries.push(query);
      for (const out of render(this.udp(query), query)) this.socket.send(out, rinfo.port, rinfo.address);
    });
    this.server?.on('connection', (conn) => {
      conn.on('error', () => {});
      let buffered = Buffer.alloc(0);
      conn.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
        const query = dnsPacket.decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        this.tcpQueries.push(query);
        const reply = this.tcp?.(query) ?? { kind: 'silent' };
        if (reply.kind === 'stream') return void conn.write(reply.bytes(query));
        for (const out of render(reply, query)) {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(out.length);
          conn.write(Buffer.concat([length, out]));
        }
      });
    });
  }
}

function render(reply: Reply, query: dnsPacket.DecodedPacket): Buffer[] {
  if (reply.kind === 'silent') return [];
  if (reply.kind === 'raw') return reply.bytes(query);
  if (reply.kind === 'stream') return [reply.bytes(query)];
  const flags = dnsPacket.RECURSION_AVAILABLE | (reply.truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | (reply.rcode ?? 0);
  return [dnsPacket.encode({ type: 'response', id: query.id, flags, questions: query.questions, answers: reply.answers ?? [], additionals: reply.additionals ?? [] })];
}

const srv = (target: string, port: number): dnsPacket.Answer => ({ type: 'SRV', name: NAME, ttl: 5, class: 'IN', data: { target, port, priority: 0, weight: 0 } });
const a = (name: string, address: string): dnsPacket.Answer => ({ type: 'A', name, ttl: 5, class: 'IN', data: address });
/** SRV answers with their A records in the additional section; `n` → target `n.test.local` on 127.0.0.1. */
const zone = (nodes: Array<[string, number]>): Reply => ({ kind: 'answer', answers: nodes.map(([n, port]) => srv(`${n}.test.local`, port)), additionals: nodes.map(([n]) => a(`${n}.test.local`, '127.0.0.1')) });
const NXDOMAIN = 3;
const SERVFAIL = 2;

/** A pino logger writing into an array, to count log lines. */
function capturingLogger(): { log: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  return { log: pino({ level: 'info' }, stream), lines };
}

const addresses = (candidates: Candidate[]) => candidates.map((c) => c.address).sort();

describe('DnsClient', () => {
  const servers: ScriptedDns[] = [];
  after(async () => Promise.all(servers.map((s) => s.close())));
  const start = async (options?: { tcp?: boolean }) => {
    const s = await ScriptedDns.start(options);
    servers.push(s);
    return s;
  };
  const question = { name: NAME, type: 'SRV' as const };

  it('ignores packets that are not the response to its query', async () => {
    const s = await start();
    s.udp = () => ({
      kind: 'raw',
      bytes: (q) => [
        Buffer.from('junk'),
        dnsPacket.encode({ type: 'response', id: (q.id! + 1) % 65536, flags: 0, questions: q.questions }),
        dnsPacket.encode({ type: 'response', id: q.id!, flags: 0, questions: [{ name: 'other.test.local', type: 'SRV' }] }),
        dnsPacket.encode({ type: 'response', id: q.id!, flags: 0, questions: q.questions, answers: [srv('10.0.0.1', 9101)] }),
      ],
    });
    const client = new DnsClient({ timeoutMs: 1000 });
    client.setServers([{ host: '127.0.0.1', port: s.port }]);
    const outcome = await client.query(question);
    assert.ok(outcome.ok && outcome.message.answers.length === 1);
    assert.equal(client.stats.strays, 3);
  });

  it('moves on to the next server after a timeout, and starts with the one that answered next time', async () => {
    const silent = await start();
    const good = await start();
    good.udp = () => zone([['n1', 9101]]);
    const client = new DnsClient({ timeoutMs: 200 });
    client.setServers([{ host: '127.0.0.1', port: silent.port }, { host: '127.0.0.1', port: good.port }]);
    assert.ok((await client.query(question)).ok);
    assert.ok((await client.query(question)).ok);
    assert.equal(silent.udpQueries.length, 1);
    assert.equal(good.udpQueries.length, 2);
  });

  it('moves on after SERVFAIL; NXDOMAIN is final', async () => {
    const failing = await start();
    failing.udp = () => ({ kind: 'answer', rcode: SERVFAIL });
    const nx = await start();
    nx.udp = () => ({ kind: 'answer', rcode: NXDOMAIN });
    const client = new DnsClient({ timeoutMs: 500 });
    client.setServers([{ host: '127.0.0.1', port: failing.port }, { host: '127.0.0.1', port: nx.port }]);
    const outcome = await client.query(question);
    assert.ok(outcome.ok && outcome.message.rcode === 'NXDOMAIN');
    assert.equal(failing.udpQueries.length, 1);
  });

  it('tries a lone server twice, then reports the timeout', async () => {
    const silent = await start();
    const client = new DnsClient({ timeoutMs: 150 });
    client.setServers([{ host: '127.0.0.1', port: silent.port }]);
    const outcome = await client.query(question);
    assert.ok(!outcome.ok && outcome.reason === 'timeout');
    assert.equal(silent.udpQueries.length, 2);
  });

  it('reports a closed port as unreachable without waiting for the timeout', async () => {
    const client = new DnsClient({ timeoutMs: 60_000 });
    client.setServers([{ host: '127.0.0.1', port: await freePort() }]);
    const outcome = await client.query(question);
    assert.ok(!outcome.ok && outcome.reason === 'unreachable', JSON.stringify(outcome));
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const s = await start({ tcp: true });
    s.udp = () => ({ kind: 'answer', truncated: true });
    s.tcp = () => zone([['n1', 9101], ['n2', 9102]]);
    const client = new DnsClient({ timeoutMs: 1000 });
    client.setServers([{ host: '127.0.0.1', port: s.port }]);
    const outcome = await client.query(question);
    assert.ok(outcome.ok && outcome.transport === 'tcp' && outcome.message.answers.length === 2);
    assert.equal(client.stats.tcpFallbacks, 1);
    assert.equal(client.stats.sent, 2);
  });

  it('takes a complete maximum-size TCP answer even when more bytes follow it', async () => {
    const s = await start({ tcp: true });
    s.udp = () => ({ kind: 'answer', truncated: true });
    s.tcp = () => ({
      kind: 'stream',
      bytes: (q) => {
        // A NULL record padded so that the whole message is 65535 bytes, the most a 2-byte length allows.
        const message = (size: number) => dnsPacket.encode({ type: 'response', id: q.id!, flags: 0, questions: q.questions, answers: [{ type: 'NULL', name: NAME, ttl: 5, class: 'IN', data: Buffer.alloc(size) }] });
        const biggest = message(65535 - message(0).length);
        assert.equal(biggest.length, 65535);
        return Buffer.concat([frameForTcp(biggest), frameForTcp(Buffer.from('trailing bytes'))]);
      },
    });
    const client = new DnsClient({ timeoutMs: 2000 });
    client.setServers([{ host: '127.0.0.1', port: s.port }]);
    const outcome = await client.query(question);
    assert.ok(outcome.ok && outcome.transport === 'tcp' && outcome.message.rcode === 'NOERROR', JSON.stringify(outcome).slice(0, 300));
    assert.deepEqual(outcome.message.answers.map((r) => r.type), ['other']);
  });

  it('fails as truncated when the TCP retry fails, and as malformed on an undecodable answer', async () => {
    const s = await start();
    s.udp = () => ({ kind: 'answer', truncated: true });
    const client = new DnsClient({ timeoutMs: 500 });
    client.setServers([{ host: '127.0.0.1', port: s.port }]);
    const truncated = await client.query(question);
    assert.ok(!truncated.ok && truncated.reason === 'truncated', JSON.stringify(truncated));
    s.udp = () => ({ kind: 'raw', bytes: (q) => [Buffer.concat([dnsPacket.encode({ type: 'response', id: q.id!, flags: 0, questions: q.questions, answers: [srv('10.0.0.1', 9101)] }).subarray(0, 40)])] });
    const malformed = await client.query(question);
    assert.ok(!malformed.ok && malformed.reason === 'malformed', JSON.stringify(malformed));
  });

  for (const [what, rcode] of [['FORMERR', 1], ['NOTIMP', 4]] as const) {
    it(`asks the same server again without EDNS after ${what} (RFC 6891 §7), and remembers it`, async () => {
      const s = await start();
      const hasOpt = (q: dnsPacket.DecodedPacket) => (q.additionals ?? []).some((r) => r.type === 'OPT');
      s.udp = (q) => (hasOpt(q) ? { kind: 'answer', rcode } : zone([['n1', 9101]]));
      const client = new DnsClient({ timeoutMs: 1000 });
      client.setServers([{ host: '127.0.0.1', port: s.port }]);
      const outcome = await client.query(question);
      assert.ok(outcome.ok && outcome.message.rcode === 'NOERROR' && outcome.message.answers.length === 1, JSON.stringify(outcome));
      assert.deepEqual(s.udpQueries.map(hasOpt), [true, false]);
      assert.equal(client.stats.ednsFallbacks, 1);
      assert.ok((await client.query(question)).ok);
      assert.deepEqual(s.udpQueries.map(hasOpt), [true, false, false], 'the next query skips EDNS for this server');
    });
  }

  it('does not retry without EDNS when the server answers FORMERR to a plain query too', async () => {
    const s = await start();
    s.udp = () => ({ kind: 'answer', rcode: 1 });
    const client = new DnsClient({ timeoutMs: 1000 });
    client.setServers([{ host: '127.0.0.1', port: s.port }]);
    const outcome = await client.query(question);
    assert.ok(outcome.ok && outcome.message.rcode === 'FORMERR');
    // Two tries (a lone server), each: with EDNS, then once without.
    assert.equal(s.udpQueries.length, 4);
    assert.equal(client.stats.ednsFallbacks, 2);
  });

  it('stops at once when aborted', async () => {
    const silent = await start();
    const client = new DnsClient({ timeoutMs: 60_000 });
    client.setServers([{ host: '127.0.0.1', port: silent.port }]);
    const controller = new AbortController();
    const pending = client.query(question, controller.signal);
    await waitFor(() => silent.udpQueries.length > 0, { timeoutMs: 2000, what: 'the query to arrive' });
    controller.abort();
    const outcome = await pending;
    assert.ok(!outcome.ok && outcome.reason === 'aborted');
  });
});

describe('driveLookup (the poll guard)', () => {
  const question = { name: NAME, type: 'SRV' as const };
  /** A machine asking one question, then doing whatever `onOutcome` does. */
  const machine = (onOutcome: () => void) => {
    let asked = false;
    return {
      step: (input: { type: string }) => (input.type === 'outcome' ? onOutcome() : undefined),
      ready: () => ({ queries: asked ? [] : [question], verdict: null }),
      advance: () => void (asked = true),
    };
  };
  const answered = async (): Promise<QueryOutcome> => ({ ok: false, reason: 'timeout', detail: 'scripted' });

  it('a throw out of step ends the poll as an error, reported once', async () => {
    const errors: unknown[] = [];
    const verdict = await driveLookup(machine(() => { throw new Error('boom'); }), answered, { concurrency: 2, deadlineMs: 10_000, onError: (err) => errors.push(err) });
    assert.ok(!verdict.ok && verdict.reason === 'error' && verdict.detail.includes('boom'), JSON.stringify(verdict));
    assert.equal(errors.length, 1);
  });

  it('a throw out of the first step or of ask ends the poll too', async () => {
    const throwingStart = { step: () => { throw new Error('at start'); }, ready: () => ({ queries: [], verdict: null }), advance: () => {} };
    const first = await driveLookup(throwingStart, answered, { concurrency: 1, deadlineMs: 10_000 });
    assert.ok(!first.ok && first.reason === 'error' && first.detail.includes('at start'));
    let outcome: QueryOutcome | undefined;
    const recording = { ...machine(() => {}), step: (input: { type: string; outcome?: QueryOutcome }) => void (outcome = input.outcome ?? outcome) };
    const throwingAsk = (): Promise<QueryOutcome> => { throw new Error('sync throw in ask'); };
    const second = await driveLookup(recording, throwingAsk, { concurrency: 1, deadlineMs: 10_000 });
    assert.ok(!second.ok && second.detail === 'lookup stalled without a verdict');
    assert.ok(outcome && !outcome.ok && outcome.reason === 'error' && outcome.detail === 'sync throw in ask');
  });

  it('a poll whose question never settles ends at the deadline, and the question is aborted', async () => {
    let signal: AbortSignal | undefined;
    const hanging = (_q: unknown, s: AbortSignal) => ((signal = s), new Promise<QueryOutcome>(() => {}));
    const verdict = await driveLookup(machine(() => {}), hanging, { concurrency: 1, deadlineMs: 50 });
    assert.ok(!verdict.ok && verdict.reason === 'timeout' && /within 50 ms/.test(verdict.detail));
    assert.equal(signal?.aborted, true);
  });
});

describe('DnsDiscovery', () => {
  const servers: ScriptedDns[] = [];
  const discoveries: DnsDiscovery[] = [];
  after(async () => {
    await Promise.all(discoveries.map((d) => d.close()));
    await Promise.all(servers.map((s) => s.close()));
  });
  const setup = async (options: { tcp?: boolean; pollIntervalMs?: number } = {}) => {
    const s = await ScriptedDns.start(options);
    servers.push(s);
    const { log, lines } = capturingLogger();
    const discovery = new DnsDiscovery({ hostname: NAME, servers: [s.address], pollIntervalMs: options.pollIntervalMs ?? 100, fallbackPort: 9100, timeoutMs: 150, log });
    discoveries.push(discovery);
    return { s, discovery, lines };
  };
  /** Waits for `n` more polls than now. */
  const polls = async (discovery: DnsDiscovery, n: number) => {
    const target = discovery.state().polls + n;
    await waitFor(() => discovery.state().polls >= target, { timeoutMs: 10_000, what: `${n} more polls` });
  };

  it('keeps the last good set through every kind of failure, shrinks on a complete answer, and logs each change of error once', async () => {
    const { s, discovery, lines } = await setup({ tcp: true });
    const changes: string[][] = [];
    discovery.onChange((c) => changes.push(addresses(c)));
    s.udp = () => zone([['n1', 9101], ['n2', 9102], ['n3', 9103]]);
    await discovery.start();
    assert.deepEqual(addresses(discovery.candidates()), ['127.0.0.1:9101', '127.0.0.1:9102', '127.0.0.1:9103'], 'start waits for the first poll');
    const all = addresses(discovery.candidates());

    const failures: Array<[string, (q: dnsPacket.DecodedPacket) => Reply, string]> = [
      ['SERVFAIL', () => ({ kind: 'answer', rcode: SERVFAIL }), 'servfail'],
      ['NXDOMAIN', () => ({ kind: 'answer', rcode: NXDOMAIN }), 'nxdomain'],
      ['silence', () => ({ kind: 'silent' }), 'timeout'],
      ['TC without a TCP answer', () => ({ kind: 'answer', truncated: true }), 'truncated'],
      ['an empty answer', () => ({ kind: 'answer' }), 'empty'],
      ['garbage', () => ({ kind: 'raw', bytes: (q) => [Buffer.concat([Buffer.from([q.id! >> 8, q.id! & 0xff, 0x81, 0x80]), Buffer.alloc(30, 0xff)])] }), 'malformed'],
    ];
    for (const [what, reply, reason] of failures) {
      s.udp = reply;
      await polls(discovery, 3);
      const state = discovery.state();
      assert.deepEqual(addresses(state.candidates), all, `${what} keeps the set`);
      assert.ok(state.lastError?.startsWith(`${reason}:`), `${what}: lastError ${state.lastError}`);
      assert.ok((state.failures[reason] ?? 0) >= 3, `${what}: failures ${JSON.stringify(state.failures)}`);
      assert.equal(lines.filter((l) => l.level === 40 && l.msg.includes(`(${reason}:`)).length, 1, `${what} is logged once, not once per poll`);
    }
    assert.deepEqual(changes, [all], 'no onChange while failing');

    s.udp = () => zone([['n1', 9101]]);
    await waitFor(() => discovery.state().lastError === null, { timeoutMs: 5000, what: 'recovery' });
    assert.deepEqual(addresses(discovery.candidates()), ['127.0.0.1:9101'], 'a complete answer shrinks the set');
    await polls(discovery, 2);
    assert.deepEqual(changes, [all, ['127.0.0.1:9101']], 'onChange fires once per real change');
    assert.equal(lines.filter((l) => l.msg.includes('answers again')).length, 1);
    const state = discovery.state();
    assert.equal(state.lastAnswer?.complete, true);
    assert.deepEqual(state.records.map((r) => `${r.type} ${r.name} ${r.data}`), ['SRV _troupe._tcp.test.local 0 0 9101 n1.test.local', 'A n1.test.local 127.0.0.1']);
  });

  it('a failed poll is visible in state: lastFailedAnswer with its reason and records, next to the last good records', async () => {
    const { s, discovery } = await setup();
    s.udp = () => zone([['n1', 9101]]);
    await discovery.start();
    const good = discovery.state().records.map((r) => `${r.type} ${r.name} ${r.data}`);
    assert.equal(discovery.state().lastFailedAnswer, null);

    s.udp = () => ({ kind: 'answer', rcode: SERVFAIL });
    await polls(discovery, 1);
    let state = discovery.state();
    assert.equal(state.lastFailedAnswer?.reason, 'servfail');
    assert.match(state.lastFailedAnswer?.detail ?? '', /SERVFAIL for SRV/);
    assert.ok((state.lastFailedAnswer?.at ?? 0) >= (state.lastAnswer?.at ?? Infinity));
    assert.deepEqual(state.records.map((r) => `${r.type} ${r.name} ${r.data}`), good, 'records stay those of the last good answer');

    // An SRV answer whose only target cannot be resolved: the poll fails, and its SRV record is shown with the failure.
    s.udp = (q) => (q.questions?.[0]?.type === 'SRV' ? { kind: 'answer', answers: [srv('gone.test.local', 9109)] } : { kind: 'answer', rcode: SERVFAIL });
    await polls(discovery, 1);
    state = discovery.state();
    assert.equal(state.lastFailedAnswer?.reason, 'servfail');
    assert.deepEqual(state.lastFailedAnswer?.records.map((r) => `${r.type} ${r.name} ${r.data}`), ['SRV _troupe._tcp.test.local 0 0 9109 gone.test.local']);
    assert.deepEqual(state.records.map((r) => `${r.type} ${r.name} ${r.data}`), good);

    s.udp = () => ({ kind: 'answer', rcode: NXDOMAIN });
    await polls(discovery, 1);
    assert.equal(discovery.state().lastFailedAnswer?.reason, 'nxdomain');
    assert.deepEqual(addresses(discovery.candidates()), ['127.0.0.1:9101']);
  });

  it('finds a name that did not resolve at start, and a node that left and came back', async () => {
    const { s, discovery } = await setup();
    s.udp = () => ({ kind: 'answer', rcode: NXDOMAIN });
    await discovery.start(); // resolves: NXDOMAIN at start is not fatal
    assert.deepEqual(discovery.candidates(), []);
    assert.match(discovery.state().lastError ?? '', /^nxdomain:/);
    s.udp = () => zone([['n1', 9101], ['n2', 9102]]);
    await waitFor(() => discovery.candidates().length === 2, { timeoutMs: 5000, what: 'the name to resolve on a later poll' });
    s.udp = () => zone([['n1', 9101]]);
    await waitFor(() => discovery.candidates().length === 1, { timeoutMs: 5000, what: 'n2 to drop out' });
    s.udp = () => zone([['n1', 9101], ['n2', 9102]]);
    await waitFor(() => discovery.candidates().length === 2, { timeoutMs: 5000, what: 'n2 to be found again' });
  });

  it('a throw inside a poll is an error verdict: counted, logged once, polling goes on and close does not hang', async () => {
    const { s, discovery, lines } = await setup();
    s.udp = () => zone([['n1', 9101]]);
    await discovery.start();
    assert.deepEqual(addresses(discovery.candidates()), ['127.0.0.1:9101']);
    const original = DnsLookup.prototype.step;
    DnsLookup.prototype.step = function (this: DnsLookup, input) {
      if (input.type === 'outcome') throw new Error('injected step failure');
      return original.call(this, input);
    };
    try {
      await polls(discovery, 3);
      const state = discovery.state();
      assert.match(state.lastError ?? '', /^error: .*injected step failure/);
      assert.ok((state.failures.error ?? 0) >= 3, JSON.stringify(state.failures));
      assert.deepEqual(addresses(state.candidates), ['127.0.0.1:9101'], 'an error keeps the set');
      assert.equal(lines.filter((l) => l.level === 40 && l.msg.includes('injected step failure')).length, 1, 'warned once');
      assert.equal(lines.filter((l) => l.level === 50 && l.msg.includes('internal error')).length, 1, 'the stack is logged once');
    } finally {
      DnsLookup.prototype.step = original;
    }
    await waitFor(() => discovery.state().lastError === null, { timeoutMs: 5000, what: 'polls to succeed again' });
    await discovery.close();
  });

  it('a poll that hangs ends at its deadline as a timeout, and polling goes on', async () => {
    const s = await ScriptedDns.start();
    servers.push(s);
    s.udp = () => zone([['n1', 9101]]);
    const { log } = capturingLogger();
    const discovery = new DnsDiscovery({ hostname: NAME, servers: [s.address], pollIntervalMs: 100, fallbackPort: 9100, timeoutMs: 150, pollDeadlineMs: 200, log });
    discoveries.push(discovery);
    await discovery.start();
    const original = DnsClient.prototype.query;
    DnsClient.prototype.query = () => new Promise(() => {}); // never settles, ignores its signal
    try {
      await polls(discovery, 2);
      assert.match(discovery.state().lastError ?? '', /^timeout: the poll did not finish within 200 ms/);
      assert.deepEqual(addresses(discovery.candidates()), ['127.0.0.1:9101']);
    } finally {
      DnsClient.prototype.query = original;
    }
    await waitFor(() => discovery.state().lastError === null, { timeoutMs: 5000, what: 'polls to succeed again' });
    await discovery.close();
  });

  it('close stops polling and is idempotent; start after close does nothing', async () => {
    const { s, discovery } = await setup({ pollIntervalMs: 100 });
    const witness = await setup({ pollIntervalMs: 100 });
    s.udp = () => zone([['n1', 9101]]);
    witness.s.udp = s.udp;
    await discovery.start();
    await discovery.close();
    await discovery.close();
    const seen = s.udpQueries.length;
    await discovery.start();
    // A discovery left running is the clock: three of its polls later, the closed one has asked nothing.
    await witness.discovery.start();
    await polls(witness.discovery, 3);
    assert.equal(s.udpQueries.length, seen);
    assert.equal(discovery.state().queries, seen);
  });

  it('start never rejects: an unreachable server and a missing resolv.conf are errors in state', async () => {
    const { log } = capturingLogger();
    const unreachable = new DnsDiscovery({ hostname: NAME, servers: [`127.0.0.1:${await freePort()}`], pollIntervalMs: 100, fallbackPort: 9100, timeoutMs: 150, log });
    discoveries.push(unreachable);
    await unreachable.start();
    assert.match(unreachable.state().lastError ?? '', /^unreachable:/);

    const dir = mkdtempSync(join(tmpdir(), 'troupe-resolv-'));
    try {
      writeFileSync(join(dir, 'resolv.conf'), '# nothing useful\nsearch x\n');
      const fromFile = new DnsDiscovery({ hostname: NAME, pollIntervalMs: 100, fallbackPort: 9100, timeoutMs: 150, resolvConfPath: join(dir, 'resolv.conf'), startWaitMs: 100, log });
      discoveries.push(fromFile);
      await fromFile.start();
      await waitFor(() => fromFile.state().polls > 0, { timeoutMs: 5000, what: 'a poll' });
      assert.equal(fromFile.state().serversFrom, 'default');
      assert.deepEqual(fromFile.state().servers, ['127.0.0.1:53']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("applies resolv.conf's search domains and ndots when its servers are used, and not with CLUSTER_DNS_SERVER", async () => {
    const { log } = capturingLogger();
    const dir = mkdtempSync(join(tmpdir(), 'troupe-resolv-'));
    try {
      const path = join(dir, 'resolv.conf');
      writeFileSync(path, 'search default.svc.cluster.local svc.cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n');
      const fromFile = new DnsDiscovery({ hostname: '_cluster._tcp.troupe', pollIntervalMs: 100, fallbackPort: 9100, timeoutMs: 150, resolvConfPath: path, startWaitMs: 100, log });
      const configured = new DnsDiscovery({ hostname: '_cluster._tcp.troupe', servers: ['127.0.0.1:53'], pollIntervalMs: 100, fallbackPort: 9100, timeoutMs: 150, resolvConfPath: path, startWaitMs: 100, log });
      discoveries.push(fromFile, configured);
      await Promise.all([fromFile.start(), configured.start()]);
      await waitFor(() => fromFile.state().polls > 0 && configured.state().polls > 0, { timeoutMs: 5000, what: 'a poll of each' });
      assert.equal(fromFile.state().serversFrom, 'resolv.conf');
      assert.deepEqual(fromFile.state().names, ['_cluster._tcp.troupe.default.svc.cluster.local', '_cluster._tcp.troupe.svc.cluster.local', '_cluster._tcp.troupe']);
      assert.deepEqual(configured.state().names, ['_cluster._tcp.troupe']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('createDnsDiscovery takes its settings from the configuration', async () => {
    const { log } = capturingLogger();
    const config = { ...defaultConfig(), dnsHostname: NAME, dnsServers: ['127.0.0.1:5353'], dnsPollIntervalMs: 1000 };
    const discovery = createDnsDiscovery({ config, log, self: { name: 'n1@127.0.0.1', address: '127.0.0.1:9100', host: '127.0.0.1', port: 9100, generation: 1 } });
    assert.equal(discovery.mode, 'dns');
    assert.deepEqual(discovery.state().hostname, NAME);
    await discovery.close();
  });
});
