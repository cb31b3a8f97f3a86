import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { SeededRandom } from '../../../lib/protocol/random.js';
import { ChunkReassembler, sendChunked, splitIntoChunks, type ReassemblyResult } from '../../../lib/transport/chunked-transfer.js';
import { createMemoryTransport, MemoryHub } from '../../../lib/transport/memory-transport.js';
import type { Transport } from '../../../lib/transport/transport.js';
import { waitFor } from '../../harness/wait-for.js';

function payloadOf(bytes: number): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, i) => (i * 31) & 0xff);
}

function feed(r: ChunkReassembler, from: string, chunks: unknown[]): ReassemblyResult[] {
  return chunks.map((c) => r.accept(from, c));
}

describe('splitIntoChunks', () => {
  const table: Array<[number, number, number[]]> = [
    [0, 10, [0]],
    [1, 10, [1]],
    [10, 10, [10]],
    [25, 10, [10, 10, 5]],
  ];
  for (const [bytes, chunkBytes, sizes] of table) {
    it(`${bytes} bytes in chunks of ${chunkBytes} → ${JSON.stringify(sizes)}`, () => {
      const chunks = splitIntoChunks('t', payloadOf(bytes), chunkBytes);
      assert.deepEqual(chunks.map((c) => c.data.byteLength), sizes);
      assert.ok(chunks.every((c, i) => c.index === i && c.count === sizes.length && c.total === bytes));
    });
  }
});

describe('ChunkReassembler', () => {
  it('reassembles chunks in order, transfers from several peers at once', () => {
    const r = new ChunkReassembler();
    const a = splitIntoChunks('x', payloadOf(1_000), 300);
    const b = splitIntoChunks('x', payloadOf(500), 300);
    assert.deepEqual(r.accept('p1', a[0]), { type: 'partial' });
    assert.deepEqual(r.accept('p2', b[0]), { type: 'partial' });
    assert.equal(r.bytesHeld, 1_500);
    const doneB = r.accept('p2', b[1]);
    assert.deepEqual(doneB, { type: 'complete', id: 'x', payload: payloadOf(500) });
    const results = feed(r, 'p1', a.slice(1));
    assert.deepEqual(results.at(-1), { type: 'complete', id: 'x', payload: payloadOf(1_000) });
    assert.equal(r.bytesHeld, 0);
  });

  it('refuses a transfer beyond its byte budget, and takes it once there is room', () => {
    const r = new ChunkReassembler(1_000);
    const big = splitIntoChunks('big', payloadOf(800), 400);
    const other = splitIntoChunks('other', payloadOf(300), 400);
    assert.equal(r.accept('p', big[0]).type, 'partial');
    assert.deepEqual(r.accept('p', other[0]), { type: 'rejected', id: 'other', reason: 'over-budget' });
    assert.equal(r.accept('p', big[1]).type, 'complete');
    assert.equal(r.accept('p', other[0]).type, 'complete');
  });

  it('abandons a transfer with a missing chunk, and ignores its later chunks', () => {
    const r = new ChunkReassembler();
    const chunks = splitIntoChunks('t', payloadOf(1_000), 250);
    const results = feed(r, 'p', [chunks[0], chunks[2], chunks[3]]);
    assert.deepEqual(results, [
      { type: 'partial' },
      { type: 'rejected', id: 't', reason: 'out-of-order' },
      { type: 'rejected', id: 't', reason: 'unknown-transfer' },
    ]);
    assert.equal(r.bytesHeld, 0);
  });

  it('abandons every transfer of a peer whose link went down', () => {
    const r = new ChunkReassembler();
    r.accept('p', splitIntoChunks('a', payloadOf(100), 50)[0]);
    r.accept('p', splitIntoChunks('b', payloadOf(100), 50)[0]);
    r.accept('q', splitIntoChunks('a', payloadOf(100), 50)[0]);
    assert.equal(r.abortFrom('p'), 2);
    assert.equal(r.bytesHeld, 100);
    assert.deepEqual(r.accept('p', splitIntoChunks('a', payloadOf(100), 50)[1]), { type: 'rejected', id: 'a', reason: 'unknown-transfer' });
  });

  it('rejects malformed chunks without throwing', () => {
    const r = new ChunkReassembler();
    const table: unknown[] = [null, 'x', { id: 't' }, { id: 't', index: -1, count: 1, total: 1, data: new Uint8Array(1) }, { id: 't', index: 0, count: 1, total: 1, data: 'x' }];
    for (const msg of table) assert.deepEqual(r.accept('p', msg), { type: 'rejected', id: null, reason: 'malformed' });
    assert.deepEqual(r.accept('p', { id: 't', index: 0, count: 1, total: 2, data: new Uint8Array(5) }), { type: 'rejected', id: 't', reason: 'malformed' });
    assert.equal(r.bytesHeld, 0);
  });
});

describe('sendChunked over a transport', () => {
  const started: Transport[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((t) => t.stop()));
  });

  function node(hub: MemoryHub, name: string): Transport {
    const t = createMemoryTransport(hub, {
      self: { name, generation: 1 }, advertisedAddress: 'mem:0', bindHost: 'mem', port: 0, clusterName: 'c', cookie: 'chunk-cookie',
      random: new SeededRandom(1), log: pino({ level: 'silent' }),
    });
    started.push(t);
    return t;
  }

  it('delivers a payload of many chunks whole, without a drop', async () => {
    const hub = new MemoryHub();
    const a = node(hub, 'a');
    const b = node(hub, 'b');
    const r = new ChunkReassembler();
    const done: Uint8Array[] = [];
    b.onMessage('raft-snapshot', (from, msg) => {
      const result = r.accept(from.address, msg);
      if (result.type === 'complete') done.push(result.payload);
    });
    await a.start();
    const { address } = await b.start();
    const payload = payloadOf(5 * 1024 * 1024 + 17);
    await sendChunked(a, address, 'raft-snapshot', 'snap-1', payload, { chunkBytes: 256 * 1024 });
    await waitFor(() => done.length === 1, { timeoutMs: 10_000, what: 'the payload to be reassembled' });
    assert.deepEqual(done[0], payload);
    assert.equal(a.stats().channels['raft-snapshot']!.framesDropped, 0);
    assert.equal(a.stats().channels['raft-snapshot']!.framesSent, 21);
  });

  it('rejects when aborted', async () => {
    const hub = new MemoryHub();
    const a = node(hub, 'a');
    await a.start();
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(sendChunked(a, 'mem:1', 'raft-snapshot', 't', payloadOf(10), { signal: controller.signal }), { name: 'AbortError' });
  });
});
