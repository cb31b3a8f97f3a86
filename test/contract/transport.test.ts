/**
 * The transport contract: one suite that every Transport implementation runs
 * (tcp over 127.0.0.1, memory over a MemoryHub). Waiting is by polling with
 * named deadlines; nothing asserts a duration.
 */

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino, { type Logger } from 'pino';
import { SeededRandom } from '../../lib/protocol/random.js';
import { createMemoryTransport, MemoryHub } from '../../lib/transport/memory-transport.js';
import { createTcpTransport } from '../../lib/transport/tcp-transport.js';
import type { PeerIdentity, Transport, TransportEvent, TransportOptions } from '../../lib/transport/transport.js';
import type { PortRange } from '../../lib/node-address.js';
import { waitFor } from '../harness/wait-for.js';

const DEADLINE_MS = 10_000;

export interface NodeSpec {
  name: string;
  generation?: number;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Listen on the first free port of this range instead of `port`. */
  range?: PortRange;
  cookie?: string;
  clusterName?: string;
  maxQueuedFrames?: number;
  maxQueuedBytes?: TransportOptions['maxQueuedBytes'];
}

/** What the suite needs from an implementation, per test. */
export interface TransportHarness {
  create(spec: NodeSpec): Transport;
  /** A port nothing listens on yet, to start a node there later; and the address to send to meanwhile. */
  reserveAddress(): Promise<{ address: string; port: number }>;
  /** The host the nodes listen on (what `scan` is asked about). */
  host: string;
}

export interface TestNode {
  transport: Transport;
  address: string;
  name: string;
  /** Received messages per channel, in order. */
  inbox: Map<string, Array<{ from: PeerIdentity; payload: unknown }>>;
  events: TransportEvent[];
}

function silentLog(): Logger {
  return pino({ level: 'silent' });
}

export function transportOptions(spec: NodeSpec, host: string): TransportOptions {
  return {
    self: { name: spec.name, generation: spec.generation ?? 1 },
    advertisedAddress: `${host}:${spec.port ?? 0}`,
    bindHost: host,
    port: spec.range ?? spec.port ?? 0,
    clusterName: spec.clusterName ?? 'contract',
    cookie: spec.cookie ?? 'contract-cookie',
    backoff: { baseMs: 20, maxMs: 200 },
    ...(spec.maxQueuedFrames === undefined ? {} : { maxQueuedFrames: spec.maxQueuedFrames }),
    ...(spec.maxQueuedBytes === undefined ? {} : { maxQueuedBytes: spec.maxQueuedBytes }),
    random: new SeededRandom(spec.name.length * 7919 + (spec.generation ?? 1)),
    log: silentLog(),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function transportContract(name: string, factory: () => TransportHarness): void {
  describe(`transport contract: ${name}`, () => {
    let harness: TransportHarness;
    let started: Transport[] = [];

    beforeEach(() => {
      harness = factory();
      started = [];
    });

    afterEach(async () => {
      await Promise.all(started.map((t) => t.stop()));
    });

    async function node(spec: NodeSpec, channels: string[] = ['swim', 'raft']): Promise<TestNode> {
      const transport = harness.create(spec);
      started.push(transport);
      const inbox: TestNode['inbox'] = new Map();
      for (const channel of channels) {
        inbox.set(channel, []);
        transport.onMessage(channel, (from, payload) => inbox.get(channel)!.push({ from, payload }));
      }
      const events: TransportEvent[] = [];
      transport.onEvent((event) => events.push(event));
      const { address } = await transport.start();
      return { transport, address, name: spec.name, inbox, events };
    }

    function received(n: TestNode, channel = 'swim'): unknown[] {
      return n.inbox.get(channel)!.map((m) => m.payload);
    }

    async function waitReceived(n: TestNode, count: number, channel = 'swim'): Promise<unknown[]> {
      return waitFor(() => received(n, channel).length >= count && received(n, channel), { timeoutMs: DEADLINE_MS, what: `${n.name} to receive ${count} messages on ${channel}` });
    }

    const sequence = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

    it('delivers messages in order on each link and channel, both ways at once', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b' });
      for (const i of sequence(2_000)) {
        assert.equal(a.transport.send(b.address, 'swim', { seq: i }), true);
        assert.equal(b.transport.send(a.address, 'swim', { seq: i }), true);
      }
      const expected = sequence(2_000).map((seq) => ({ seq }));
      assert.deepEqual(await waitReceived(b, 2_000), expected);
      assert.deepEqual(await waitReceived(a, 2_000), expected);
    });

    it('routes each channel to its handler and counts frames for a channel without one', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b' });
      a.transport.send(b.address, 'swim', 's1');
      a.transport.send(b.address, 'raft', 'r1');
      a.transport.send(b.address, 'actor', 'nobody listens');
      a.transport.send(b.address, 'swim', 's2');
      await waitReceived(b, 2, 'swim');
      assert.deepEqual(received(b, 'swim'), ['s1', 's2']);
      assert.deepEqual(await waitReceived(b, 1, 'raft'), ['r1']);
      await waitFor(() => b.transport.stats().framesUnrouted === 1, { timeoutMs: DEADLINE_MS, what: 'the unrouted frame to be counted' });
      assert.equal(b.inbox.get('swim')![0]!.from.name, 'a');
    });

    it('reports link-up with the peer identity on both sides, and lists the link', async () => {
      const a = await node({ name: 'a', generation: 3 });
      const b = await node({ name: 'b', generation: 5 });
      a.transport.send(b.address, 'swim', 'hello');
      await waitReceived(b, 1);
      const upAtA = await waitFor(() => a.events.find((e) => e.type === 'link-up'), { timeoutMs: DEADLINE_MS, what: 'link-up at a' });
      const upAtB = await waitFor(() => b.events.find((e) => e.type === 'link-up'), { timeoutMs: DEADLINE_MS, what: 'link-up at b' });
      assert.deepEqual(upAtA, { type: 'link-up', peer: { name: 'b', address: b.address, generation: 5 } });
      assert.deepEqual(upAtB, { type: 'link-up', peer: { name: 'a', address: a.address, generation: 3 } });
      const [linkAtA] = a.transport.links();
      assert.deepEqual(linkAtA?.peer, { name: 'b', address: b.address, generation: 5 });
      assert.equal(linkAtA?.direction, 'out');
      assert.equal(b.transport.links()[0]?.direction, 'in');
      assert.equal(received(b)[0], 'hello');
      assert.deepEqual(b.inbox.get('swim')![0]!.from, { name: 'a', address: a.address, generation: 3 });
    });

    it('ends a simultaneous dial with exactly one link and loses no queued frame', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b' });
      for (const i of sequence(100)) {
        a.transport.send(b.address, 'swim', i);
        b.transport.send(a.address, 'swim', i);
      }
      assert.deepEqual(await waitReceived(b, 100), sequence(100));
      assert.deepEqual(await waitReceived(a, 100), sequence(100));
      await waitFor(() => a.transport.links().length === 1 && b.transport.links().length === 1, { timeoutMs: DEADLINE_MS, what: 'one link on each side' });
      const [atA] = a.transport.links();
      const [atB] = b.transport.links();
      assert.notEqual(atA!.direction, atB!.direction, 'the same connection seen from its two ends');
      assert.ok(a.transport.stats().duplicatesClosed + b.transport.stats().duplicatesClosed >= 1, 'both sides dialed');
      assert.equal(a.events.filter((e) => e.type === 'link-up').length, 1);
      assert.equal(b.events.filter((e) => e.type === 'link-up').length, 1);
      for (const n of [a, b]) {
        assert.equal(n.events.filter((e) => e.type === 'handshake-failed').length, 0, 'a duplicate is not a failure');
        assert.equal(Object.values(n.transport.stats().handshakeFailures).reduce((x, y) => x + y, 0), 0);
      }
    });

    it('delivers frames queued before the peer was listening', async () => {
      const a = await node({ name: 'a' });
      const reserved = await harness.reserveAddress();
      for (const i of sequence(10)) assert.equal(a.transport.send(reserved.address, 'swim', i), true);
      const b = await node({ name: 'b', port: reserved.port });
      assert.equal(b.address, reserved.address);
      assert.deepEqual(await waitReceived(b, 10), sequence(10));
    });

    it('reconnects after the peer restarts, and reports the new generation', async () => {
      const a = await node({ name: 'a' });
      const reserved = await harness.reserveAddress();
      const b1 = await node({ name: 'b', port: reserved.port, generation: 1 });
      a.transport.send(b1.address, 'swim', 'before');
      await waitReceived(b1, 1);
      await b1.transport.stop();
      const down = await waitFor(() => a.events.find((e) => e.type === 'link-down'), { timeoutMs: DEADLINE_MS, what: 'link-down at a' });
      assert.equal(down.type === 'link-down' && down.peer.generation, 1);
      const b2 = await node({ name: 'b', port: reserved.port, generation: 2 });
      a.transport.send(reserved.address, 'swim', 'after');
      assert.deepEqual(await waitReceived(b2, 1), ['after']);
      const ups = await waitFor(() => {
        const list = a.events.filter((e) => e.type === 'link-up');
        return list.length === 2 && list;
      }, { timeoutMs: DEADLINE_MS, what: 'a second link-up at a' });
      assert.equal(ups[1]!.type === 'link-up' && ups[1]!.peer.generation, 2);
      assert.equal(a.transport.stats().reconnects, 1);
    });

    it('flushes queued frames when stopping', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b' });
      a.transport.send(b.address, 'swim', 'open');
      await waitReceived(b, 1);
      for (const i of sequence(500)) a.transport.send(b.address, 'swim', i);
      await a.transport.stop();
      assert.deepEqual((await waitReceived(b, 501)).slice(1), sequence(500));
    });

    it('stops idempotently, and refuses sends afterwards without throwing', async () => {
      const a = await node({ name: 'a' });
      await Promise.all([a.transport.stop(), a.transport.stop()]);
      await a.transport.stop();
      assert.equal(a.transport.send('127.0.0.1:1', 'swim', 'late'), false);
    });

    it('starts idempotently', async () => {
      const a = await node({ name: 'a' });
      assert.deepEqual(await a.transport.start(), { address: a.address, port: Number(a.address.split(':').pop()) });
    });

    it('queues for an unreachable address without throwing, and drops beyond the queue bound', async () => {
      const a = await node({ name: 'a', maxQueuedFrames: 5 });
      const nobody = await harness.reserveAddress();
      const results = sequence(8).map((i) => a.transport.send(nobody.address, 'swim', i));
      assert.deepEqual(results, [true, true, true, true, true, false, false, false]);
      assert.equal(a.transport.stats().framesDropped, 3);
      assert.equal(a.transport.send('not an address', 'swim', 1), false);
      assert.equal(a.transport.links().length, 0);
      assert.ok(!a.events.some((e) => e.type === 'link-up'));
    });

    it('refuses a node with another cookie, and keeps serving the others', async () => {
      const a = await node({ name: 'a' });
      const intruder = await node({ name: 'x', cookie: 'not-the-cookie' });
      const b = await node({ name: 'b' });
      intruder.transport.send(a.address, 'swim', 'let me in');
      const failed = await waitFor(() => a.events.find((e) => e.type === 'handshake-failed'), { timeoutMs: DEADLINE_MS, what: 'handshake-failed at a' });
      assert.equal(failed.type === 'handshake-failed' && failed.reason, 'bad-cookie');
      await waitFor(() => intruder.events.some((e) => e.type === 'handshake-failed'), { timeoutMs: DEADLINE_MS, what: 'handshake-failed at the intruder' });
      assert.ok(a.transport.stats().handshakeFailures['bad-cookie'] >= 1);
      b.transport.send(a.address, 'swim', 'member');
      assert.deepEqual(await waitReceived(a, 1), ['member']);
      assert.deepEqual(a.transport.links().map((l) => l.peer.name), ['b']);
    });

    it('takes the first free port of a range, and a scan of the range finds each node by its hello', async () => {
      const { port: first } = await harness.reserveAddress();
      const occupant = await node({ name: 'occupant', port: first });
      const ranged = await node({ name: 'ranged', range: { first, last: first + 8 } });
      const port = Number(ranged.address.split(':').pop());
      assert.ok(port > first && port <= first + 8, `port ${port} in (${first}, ${first + 8}]`);
      const scan = await occupant.transport.scan(harness.host, { first, last: first + 8 });
      assert.equal(scan.error, null);
      const found = scan.nodes.map((n) => ({ name: n.name, address: n.address, clusterName: n.clusterName })).sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(found, [
        { name: 'occupant', address: occupant.address, clusterName: 'contract' },
        { name: 'ranged', address: ranged.address, clusterName: 'contract' },
      ]);
      assert.equal(occupant.transport.stats().linksUp, 0, 'a scan admits nobody');
    });

    it('sends a high-priority frame ahead of a low-priority backlog queued before it', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b', }, ['swim', 'raft-snapshot']);
      a.transport.send(b.address, 'swim', 'open');
      await waitReceived(b, 1);
      const chunk = new Uint8Array(64 * 1024);
      const backlog = 200;
      for (const i of sequence(backlog)) assert.equal(a.transport.send(b.address, 'raft-snapshot', { i, chunk }), true);
      // Sent once the backlog is under way: the first chunk is in, the others are still queued at a.
      let backlogQueuedAtSend = -1;
      let chunksBeforeAck = -1;
      b.transport.onMessage('raft-snapshot', (from, payload) => {
        b.inbox.get('raft-snapshot')!.push({ from, payload });
        if (backlogQueuedAtSend >= 0) return;
        backlogQueuedAtSend = a.transport.links()[0]!.queued.low.frames;
        a.transport.send(b.address, 'swim', 'urgent');
      });
      b.transport.onMessage('swim', (from, payload) => {
        b.inbox.get('swim')!.push({ from, payload });
        if (payload === 'urgent') chunksBeforeAck = received(b, 'raft-snapshot').length;
      });
      await waitReceived(b, 2, 'swim');
      const chunks = (await waitReceived(b, backlog, 'raft-snapshot')) as Array<{ i: number }>;
      assert.ok(backlogQueuedAtSend > 0, 'the backlog was still queued when the swim frame was sent');
      assert.ok(chunksBeforeAck < backlog, `the swim frame arrived after ${chunksBeforeAck} of ${backlog} chunks`);
      assert.deepEqual(chunks.map((c) => c.i), sequence(backlog), 'the backlog keeps its order');
    });

    it('keeps order within each channel, whatever the classes interleaved', async () => {
      const a = await node({ name: 'a' }, ['swim', 'raft', 'raft-snapshot', 'misc']);
      const b = await node({ name: 'b' }, ['swim', 'raft', 'raft-snapshot', 'misc']);
      const channels = ['swim', 'raft', 'raft-snapshot', 'misc'];
      for (const i of sequence(1_000)) assert.equal(a.transport.send(b.address, channels[i % 4]!, { i, pad: new Uint8Array(i % 7 === 0 ? 20_000 : 10) }), true);
      for (const [k, channel] of channels.entries()) {
        const got = (await waitReceived(b, 250, channel)) as Array<{ i: number }>;
        assert.deepEqual(got.map((m) => m.i), sequence(250).map((j) => j * 4 + k), channel);
      }
    });

    it('drops beyond a class\'s byte budget, counts drops per channel, and keeps the other classes open', async () => {
      const a = await node({ name: 'a', maxQueuedBytes: { normal: 10_000 } });
      const nobody = await harness.reserveAddress();
      const kb3 = new Uint8Array(3_000);
      const results = sequence(5).map(() => a.transport.send(nobody.address, 'raft', kb3));
      assert.deepEqual(results, [true, true, true, false, false], 'three 3 kB frames fit in 10,000 bytes, a fourth does not');
      assert.equal(a.transport.send(nobody.address, 'misc', 'small'), true, 'an unlisted channel is normal, and room is left');
      assert.equal(a.transport.send(nobody.address, 'misc', kb3), false);
      assert.equal(a.transport.send(nobody.address, 'swim', kb3), true, 'the high class has its own budget');
      const stats = a.transport.stats();
      assert.equal(stats.framesDropped, 3);
      assert.equal(stats.channels['raft']!.framesDropped, 2);
      assert.equal(stats.channels['misc']!.framesDropped, 1);
      assert.equal(stats.channels['swim']!.framesDropped, 0);
    });

    it('counts frames and bytes sent and received per channel', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b' });
      for (const i of sequence(10)) a.transport.send(b.address, 'swim', i);
      for (const i of sequence(3)) a.transport.send(b.address, 'raft', { i, data: new Uint8Array(1_000) });
      await waitReceived(b, 10, 'swim');
      await waitReceived(b, 3, 'raft');
      const sent = a.transport.stats().channels;
      const got = b.transport.stats().channels;
      assert.equal(sent['swim']!.framesSent, 10);
      assert.equal(sent['raft']!.framesSent, 3);
      assert.ok(sent['raft']!.bytesSent > 3_000);
      assert.equal(got['swim']!.framesReceived, 10);
      assert.equal(got['raft']!.framesReceived, 3);
      assert.equal(got['raft']!.bytesReceived, sent['raft']!.bytesSent);
      assert.equal(got['swim']!.bytesReceived, sent['swim']!.bytesSent);
    });

    it('sends what the payload was at send time', async () => {
      const a = await node({ name: 'a' });
      const b = await node({ name: 'b' });
      const payload = { value: 'original' };
      a.transport.send(b.address, 'swim', payload);
      payload.value = 'changed';
      assert.deepEqual(await waitReceived(b, 1), [{ value: 'original' }]);
    });
  });
}

transportContract('tcp', () => ({
  host: '127.0.0.1',
  create: (spec) => createTcpTransport(transportOptions(spec, '127.0.0.1')),
  reserveAddress: async () => {
    const port = await freePort();
    return { address: `127.0.0.1:${port}`, port };
  },
}));

transportContract('memory', () => {
  const hub = new MemoryHub();
  let nextPort = 20_000;
  return {
    host: 'mem',
    create: (spec) => createMemoryTransport(hub, transportOptions(spec, 'mem')),
    reserveAddress: async () => {
      const port = nextPort++;
      return { address: `mem:${port}`, port };
    },
  };
});
