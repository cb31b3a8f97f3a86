/**
 * The TCP transport against peers that misbehave: raw sockets sending
 * garbage or oversized lengths, peers with the wrong cookie, cluster or
 * protocol version, silent peers, peers that stop reading. Each time the
 * connection is closed, the event and the counter appear, one warning is
 * logged, and the node still exchanges messages with a good peer.
 */

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { encodeFrame, FrameDecoder } from '../../lib/transport/frame-codec.js';
import { Handshake, HANDSHAKE_CHANNEL, HANDSHAKE_MAX_FRAME_BYTES, PROTOCOL_VERSION, type HandshakeOutcome, type HandshakeOutput } from '../../lib/transport/handshake.js';
import { nodeHandshakeCrypto } from '../../lib/transport/node-crypto.js';
import type { HandshakeFailureReason, Transport, TransportEvent, TransportOptions } from '../../lib/transport/transport.js';
import { startTestTransport } from '../harness/transport-node.js';
import { waitFor } from '../harness/wait-for.js';

const DEADLINE_MS = 10_000;
const COOKIE = 'tcp-test-cookie';
const CLUSTER = 'tcp-test';

interface LogLine {
  level: number;
  msg: string;
  peer?: string;
  reason?: string;
}

interface Node {
  transport: Transport;
  address: string;
  port: number;
  events: TransportEvent[];
  logs: LogLine[];
  received: unknown[];
}

const transports: Transport[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(transports.splice(0).map((t) => t.stop()));
});

async function startNode(name: string, overrides: Partial<TransportOptions> = {}): Promise<Node> {
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const node = await startTestTransport(name, { clusterName: CLUSTER, cookie: COOKIE, backoff: { baseMs: 20, maxMs: 200 }, log, started: transports }, overrides);
  return { ...node, logs };
}

async function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<void>; remote: string }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  socket.resume(); // read (and ignore) what the node sends, so its close is seen
  const closed = once(socket, 'close').then(() => undefined);
  await once(socket, 'connect');
  return { socket, closed, remote: `127.0.0.1:${socket.localPort}` };
}

/** A peer that speaks the real protocol with the given settings, played by the test. */
async function protocolPeer(port: number, settings: { cookie?: string; clusterName?: string; version?: number; name?: string; generation?: number } = {}): Promise<{ socket: Socket; closed: Promise<void>; remote: string; outcome: HandshakeOutcome }> {
  const { socket, closed, remote } = await rawSocket(port);
  const handshake = new Handshake({
    role: 'initiator',
    clusterName: settings.clusterName ?? CLUSTER,
    cookie: settings.cookie ?? COOKIE,
    self: { name: settings.name ?? 'raw-peer', address: '127.0.0.1:1', generation: settings.generation ?? 1 },
    nonce: randomBytes(32),
    crypto: nodeHandshakeCrypto,
    ...(settings.version === undefined ? {} : { version: settings.version }),
  });
  const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  const outcome = await new Promise<HandshakeOutcome>((resolve) => {
    const apply = (out: HandshakeOutput): void => {
      for (const msg of out.send) socket.write(encodeFrame(HANDSHAKE_CHANNEL, msg));
      if (out.admission !== undefined) apply(handshake.step({ type: 'admit' }));
      if (out.outcome !== undefined) resolve(out.outcome);
    };
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (channel, payload) => {
      if (channel === HANDSHAKE_CHANNEL) apply(handshake.step({ type: 'message', msg: payload }));
    }));
    socket.on('close', () => apply(handshake.step({ type: 'abort', reason: 'closed', message: 'closed', notify: false })));
    apply(handshake.step({ type: 'start' }));
  });
  return { socket, closed, remote, outcome };
}

function header(length: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(length);
  return h;
}

/** The node still links to and exchanges messages with a well-behaved peer. */
async function assertStillServes(node: Node): Promise<void> {
  const good = await startNode('good');
  good.transport.send(node.address, 'swim', 'still there?');
  await waitFor(() => node.received.includes('still there?'), { timeoutMs: DEADLINE_MS, what: 'the node to receive from a good peer' });
  node.transport.send(good.address, 'swim', 'yes');
  await waitFor(() => good.received.includes('yes'), { timeoutMs: DEADLINE_MS, what: 'the good peer to receive from the node' });
}

async function assertHandshakeFailure(node: Node, remote: string, reason: HandshakeFailureReason): Promise<void> {
  const event = await waitFor(() => node.events.find((e) => e.type === 'handshake-failed'), { timeoutMs: DEADLINE_MS, what: `a ${reason} handshake-failed event` });
  assert.equal(event.type === 'handshake-failed' && event.reason, reason);
  assert.equal(event.type === 'handshake-failed' && event.remoteAddress, remote);
  assert.equal(node.transport.stats().handshakeFailures[reason], 1);
  const warnings = node.logs.filter((l) => l.level === 40 && l.peer === remote);
  assert.equal(warnings.length, 1, `one warning for ${remote}: ${JSON.stringify(node.logs)}`);
  assert.equal(warnings[0]!.reason, reason);
  assert.equal(node.transport.links().length, 0);
}

describe('tcp transport: misbehaving peers', () => {
  it('closes a connection that sends an undecodable frame (bad-frame)', async () => {
    const node = await startNode('node');
    const raw = await rawSocket(node.port);
    raw.socket.write(Buffer.concat([header(3), Buffer.from([0xc1, 0xc1, 0xc1])]));
    await raw.closed;
    await assertHandshakeFailure(node, raw.remote, 'bad-frame');
    await assertStillServes(node);
  });

  it('closes a connection that speaks another protocol (HTTP) on its length prefix', async () => {
    const node = await startNode('node');
    const raw = await rawSocket(node.port);
    raw.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await raw.closed;
    await assertHandshakeFailure(node, raw.remote, 'frame-too-large');
    await assertStillServes(node);
  });

  it('closes a connection that announces an oversized frame, without waiting for its body', async () => {
    const node = await startNode('node');
    const raw = await rawSocket(node.port);
    raw.socket.write(header(64 * 1024 * 1024));
    await raw.closed;
    await assertHandshakeFailure(node, raw.remote, 'frame-too-large');
    await assertStillServes(node);
  });

  it('refuses a peer with the wrong cookie, and tells it why', async () => {
    const node = await startNode('node');
    const peer = await protocolPeer(node.port, { cookie: 'guess' });
    assert.equal(peer.outcome.ok === false && peer.outcome.reason, 'bad-cookie');
    await peer.closed;
    await assertHandshakeFailure(node, peer.remote, 'bad-cookie');
    await assertStillServes(node);
  });

  it('refuses a peer of another cluster', async () => {
    const node = await startNode('node');
    const peer = await protocolPeer(node.port, { clusterName: 'other-cluster' });
    assert.equal(peer.outcome.ok === false && peer.outcome.reason, 'cluster-name');
    await peer.closed;
    await assertHandshakeFailure(node, peer.remote, 'cluster-name');
    await assertStillServes(node);
  });

  it('refuses a peer of another protocol version', async () => {
    const node = await startNode('node');
    const peer = await protocolPeer(node.port, { version: PROTOCOL_VERSION + 1 });
    assert.equal(peer.outcome.ok === false && peer.outcome.reason, 'protocol-version');
    await peer.closed;
    await assertHandshakeFailure(node, peer.remote, 'protocol-version');
    await assertStillServes(node);
  });

  it('closes a connection that stays silent past the handshake timeout', async () => {
    const node = await startNode('node', { handshakeTimeoutMs: 200 });
    const raw = await rawSocket(node.port);
    await raw.closed;
    await assertHandshakeFailure(node, raw.remote, 'timeout');
    await assertStillServes(node);
  });

  it('closes an established link whose peer sends an oversized frame, and counts it', async () => {
    const node = await startNode('node', { maxFrameBytes: 1024 });
    const peer = await protocolPeer(node.port);
    assert.equal(peer.outcome.ok, true);
    await waitFor(() => node.transport.links().length === 1, { timeoutMs: DEADLINE_MS, what: 'the link to come up' });
    peer.socket.write(header(1025));
    await peer.closed;
    const down = await waitFor(() => node.events.find((e) => e.type === 'link-down'), { timeoutMs: DEADLINE_MS, what: 'link-down' });
    assert.equal(down.type === 'link-down' && down.reason, 'frame-too-large');
    assert.equal(node.transport.stats().frameErrors['frame-too-large'], 1);
    assert.equal(node.logs.filter((l) => l.level === 40 && l.peer === '127.0.0.1:1').length, 1, 'one warning');
    await assertStillServes(node);
  });

  it('closes an established link whose peer sends garbage', async () => {
    const node = await startNode('node');
    const peer = await protocolPeer(node.port);
    assert.equal(peer.outcome.ok, true);
    peer.socket.write(encodeFrame('swim', 'fine'));
    peer.socket.write(Buffer.concat([header(2), Buffer.from([0x01, 0x02])]));
    await peer.closed;
    await waitFor(() => node.transport.stats().frameErrors['bad-frame'] === 1, { timeoutMs: DEADLINE_MS, what: 'the bad frame to be counted' });
    assert.deepEqual(node.received, ['fine']);
    await assertStillServes(node);
  });

  it('keeps a link up when a message handler throws', async () => {
    const node = await startNode('node');
    node.transport.onMessage('raft', () => {
      throw new Error('handler bug');
    });
    const good = await startNode('good');
    good.transport.send(node.address, 'raft', 'boom');
    good.transport.send(node.address, 'swim', 'after');
    await waitFor(() => node.received.includes('after'), { timeoutMs: DEADLINE_MS, what: 'the message after the throwing handler' });
    assert.equal(node.transport.stats().handlerErrors, 1);
    assert.equal(node.transport.links().length, 1);
  });

  it('drops frames when a peer stops reading and the queue fills, and keeps serving others', async () => {
    const node = await startNode('node', { maxQueuedFrames: 50 });
    const peer = await protocolPeer(node.port, { name: 'stalled' });
    assert.equal(peer.outcome.ok, true);
    peer.socket.pause();
    const big = new Uint8Array(64 * 1024);
    let accepted = 0;
    await waitFor(async () => {
      for (let i = 0; i < 50; i++) {
        if (!node.transport.send('127.0.0.1:1', 'swim', big)) return true;
        accepted++;
      }
      await new Promise((resolve) => setImmediate(resolve));
      return false;
    }, { timeoutMs: DEADLINE_MS, what: 'send to return false', intervalMs: 1 });
    assert.ok(node.transport.stats().framesDropped >= 1);
    assert.ok(accepted >= 50, `${accepted} frames accepted before the queue filled`);
    assert.equal(node.transport.links().find((l) => l.peer.name === 'stalled')?.queuedFrames, 50);
    await assertStillServes(node);
  });

  it('indexes a link by the advertised address and aliases the dialed one', async () => {
    const server = await startNode('b', { advertisedAddress: 'b.invalid:9100' });
    const client = await startNode('a');
    const dialed = `127.0.0.1:${server.port}`;
    client.transport.send(dialed, 'swim', 1);
    await waitFor(() => server.received.length === 1, { timeoutMs: DEADLINE_MS, what: 'the first message' });
    assert.deepEqual(client.transport.links().map((l) => l.peer.address), ['b.invalid:9100']);
    client.transport.send(dialed, 'swim', 2);
    client.transport.send('b.invalid:9100', 'swim', 3);
    await waitFor(() => server.received.length === 3, { timeoutMs: DEADLINE_MS, what: 'messages through both addresses' });
    assert.deepEqual(server.received, [1, 2, 3]);
    assert.equal(client.transport.links().length, 1);
    assert.equal(client.transport.stats().linksUp, 1);
  });

  it('recognises another spelling of its own address and never dials it again', async () => {
    const node = await startNode('self');
    const alias = `localhost:${node.port}`;
    assert.equal(node.transport.send(alias, 'swim', 'to myself'), true, 'queued: the alias is not known yet');
    await waitFor(() => node.logs.some((l) => l.msg.includes('is this node itself') && l.peer === alias), { timeoutMs: DEADLINE_MS, what: 'the self alias to be recognised' });
    const discarded = node.transport.stats().framesDiscarded;
    assert.equal(node.transport.send(alias, 'swim', 'again'), false, 'a known self alias is refused at once');
    assert.equal(node.transport.stats().framesDiscarded, discarded + 1);
    assert.deepEqual(node.received, [], 'nothing was delivered to itself');
    assert.equal(node.transport.links().length, 0);
    assert.ok(!node.logs.some((l) => l.level >= 40 && l.msg.includes('names must be unique')), 'not mistaken for a duplicate name');
  });

  it('gives up on an unreachable address after giveUpAfterMs, and tries again on the next send', async () => {
    const node = await startNode('node', { giveUpAfterMs: 300 });
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    node.transport.send(`127.0.0.1:${port}`, 'swim', 'lost');
    await waitFor(() => node.transport.stats().framesDiscarded === 1, { timeoutMs: DEADLINE_MS, what: 'the queued frame to be discarded' });
    const dialsAtGiveUp = node.transport.stats().dialFailures;
    assert.ok(dialsAtGiveUp >= 2, `redialled with backoff (${dialsAtGiveUp} dials)`);
    assert.ok(node.logs.some((l) => l.level === 40 && l.peer === `127.0.0.1:${port}`));
    node.transport.send(`127.0.0.1:${port}`, 'swim', 'again');
    await waitFor(() => node.transport.stats().dialFailures > dialsAtGiveUp, { timeoutMs: DEADLINE_MS, what: 'a new dial after the next send' });
  });
});

/** Sum of the handshake failures counted for `reasons`. */
function failuresOf(node: Node, reasons: HandshakeFailureReason[]): number {
  const counts = node.transport.stats().handshakeFailures;
  return reasons.reduce((sum, reason) => sum + counts[reason], 0);
}

function warningsAbout(node: Node, host: string): LogLine[] {
  return node.logs.filter((l) => l.level >= 40 && (l.peer ?? '').startsWith(`${host}:`));
}

describe('tcp transport: floods are counted in full and logged once per peer and reason', () => {
  it('a fuzzer sending garbage on many connections: every one counted, one line per reason', async () => {
    const node = await startNode('node');
    for (let i = 0; i < 40; i++) {
      const raw = await rawSocket(node.port);
      raw.socket.write(Buffer.concat([header(3), Buffer.from([0xc1, 0xc1, 0xc1])]));
      await raw.closed;
    }
    await waitFor(() => failuresOf(node, ['bad-frame', 'rate-limited']) === 40, { timeoutMs: DEADLINE_MS, what: 'all 40 connections counted' });
    const warnings = warningsAbout(node, '127.0.0.1');
    const reasons = warnings.map((l) => l.reason);
    assert.deepEqual([...new Set(reasons)].length, reasons.length, `at most one line per reason: ${JSON.stringify(warnings)}`);
    assert.ok(warnings.length >= 1 && warnings.length <= 2, `one or two lines, not 40: ${JSON.stringify(warnings)}`);
    await assertStillServes(node);
  });

  it('a client reconnecting as fast as it is closed is refused by rate, counted as rate-limited, logged once', async () => {
    const node = await startNode('node', { acceptRateLimit: { burst: 5, refillPerSecond: 1 } });
    for (let i = 0; i < 30; i++) {
      const raw = await rawSocket(node.port);
      raw.socket.write(Buffer.concat([header(3), Buffer.from([0xc1, 0xc1, 0xc1])]));
      await raw.closed;
    }
    await waitFor(() => failuresOf(node, ['rate-limited']) >= 20, { timeoutMs: DEADLINE_MS, what: 'connections past the burst refused as rate-limited' });
    const limited = node.logs.filter((l) => l.reason === 'rate-limited' && l.level >= 40);
    assert.equal(limited.length, 1, `one line for all rate-limited connections: ${JSON.stringify(limited)}`);
    const events = node.events.filter((e) => e.type === 'handshake-failed' && e.reason === 'rate-limited');
    assert.ok(events.length >= 20, 'each refusal is an event too');
  });

  it('refusals while too many handshakes are in progress count as overloaded and log once', async () => {
    const node = await startNode('node', { maxPendingHandshakes: 2 });
    const silent = [];
    for (let i = 0; i < 2; i++) silent.push(await rawSocket(node.port));
    const refused = [];
    for (let i = 0; i < 5; i++) {
      const raw = await rawSocket(node.port);
      refused.push(raw);
      await raw.closed;
    }
    await waitFor(() => failuresOf(node, ['overloaded']) === 5, { timeoutMs: DEADLINE_MS, what: 'five refusals counted as overloaded' });
    assert.equal(node.logs.filter((l) => l.reason === 'overloaded' && l.level >= 40).length, 1, 'one line');
    for (const raw of silent) raw.socket.destroy();
  });

  it('hellos claiming this node\'s name are refused, and logged once', async () => {
    const node = await startNode('node');
    for (let generation = 2; generation < 8; generation++) {
      const peer = await protocolPeer(node.port, { name: 'node', generation });
      assert.equal(peer.outcome.ok === false && peer.outcome.reason, 'duplicate');
      await peer.closed;
    }
    const warnings = node.logs.filter((l) => l.level >= 40 && l.msg.includes('names must be unique'));
    assert.equal(warnings.length, 1, `one line for six impostors: ${JSON.stringify(warnings)}`);
  });

  it('a node with the wrong cookie redialling: both sides count every failure, each logs it once', async () => {
    const node = await startNode('node');
    const intruder = await startNode('intruder', { cookie: 'not-the-cookie' });
    intruder.transport.send(node.address, 'swim', 'let me in');
    await waitFor(() => failuresOf(node, ['bad-cookie']) >= 8 && failuresOf(intruder, ['bad-cookie']) >= 8, {
      timeoutMs: DEADLINE_MS,
      what: 'eight refused redials counted on both sides',
    });
    const accepting = node.logs.filter((l) => l.level >= 40 && l.reason === 'bad-cookie');
    const dialing = intruder.logs.filter((l) => l.level >= 40 && l.reason === 'bad-cookie');
    assert.equal(accepting.length, 1, `the node logs the intruder once: ${JSON.stringify(accepting)}`);
    assert.equal(dialing.length, 1, `the intruder logs the refusal once: ${JSON.stringify(dialing)}`);
  });
});
