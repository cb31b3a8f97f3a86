import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameDecoder } from '../../../lib/transport/frame-codec.js';
import { encodeFrameBody } from '../../../lib/transport/frame-codec.js';
import { FrameQueue } from '../../../lib/transport/frame-queue.js';
import { emptyChannelStats } from '../../../lib/transport/transport.js';

function drain(queue: FrameQueue, maxBatchBytes: number): { writes: number; payloads: unknown[] } {
  const decoder = new FrameDecoder();
  const payloads: unknown[] = [];
  let writes = 0;
  for (let batch = queue.takeBatch(maxBatchBytes); batch !== null; batch = queue.takeBatch(maxBatchBytes)) {
    writes++;
    let bytes = 0;
    for (const chunk of batch.chunks) {
      bytes += chunk.length;
      assert.equal(decoder.push(chunk, (_channel, payload) => payloads.push(payload)), null);
    }
    assert.equal(bytes, batch.bytes);
  }
  return { writes, payloads };
}

describe('FrameQueue', () => {
  it('refuses frames beyond its bound and keeps the ones it holds', () => {
    const queue = new FrameQueue(3);
    for (let i = 0; i < 3; i++) assert.equal(queue.push(encodeFrameBody('c', i)), true);
    assert.equal(queue.push(encodeFrameBody('c', 3)), false);
    assert.equal(queue.length, 3);
    assert.deepEqual(drain(queue, 1024).payloads, [0, 1, 2]);
  });

  it('batches small frames into few writes, in order', () => {
    const queue = new FrameQueue(10_000);
    for (let i = 0; i < 5_000; i++) queue.push(encodeFrameBody('c', i));
    const { writes, payloads } = drain(queue, 64 * 1024);
    assert.equal(payloads.length, 5_000);
    assert.deepEqual(payloads.slice(0, 3), [0, 1, 2]);
    assert.equal(payloads[4_999], 4_999);
    assert.ok(writes <= 2, `${writes} writes`);
    assert.equal(queue.length, 0);
  });

  it('sends a frame larger than a batch on its own, between batches', () => {
    const queue = new FrameQueue(10);
    queue.push(encodeFrameBody('c', 'a'));
    queue.push(encodeFrameBody('c', 'b'.repeat(5_000)));
    queue.push(encodeFrameBody('c', 'c'));
    const { writes, payloads } = drain(queue, 1024);
    assert.equal(writes, 3);
    assert.deepEqual(payloads, ['a', 'b'.repeat(5_000), 'c']);
  });

  it('refuses a frame that would exceed its byte budget, and counts sends and drops for the frame\'s channel', () => {
    const body = encodeFrameBody('c', new Uint8Array(1_000));
    const size = body.length + 4;
    const queue = new FrameQueue(100, 3 * size);
    const counters = emptyChannelStats();
    for (let i = 0; i < 3; i++) assert.equal(queue.push(body, counters), true);
    assert.equal(queue.bytes, 3 * size);
    assert.equal(queue.push(body, counters), false);
    assert.equal(queue.push(encodeFrameBody('c', new Uint8Array(5 * size)), counters), false, 'larger than the whole budget');
    assert.equal(counters.framesDropped, 2);
    assert.equal(drain(queue, 64 * 1024).payloads.length, 3);
    assert.equal(queue.bytes, 0);
    assert.deepEqual(counters, { framesSent: 3, bytesSent: 3 * size, framesDropped: 2, framesReceived: 0, bytesReceived: 0 });
  });

  it('moves another queue behind its own, up to its bound', () => {
    const a = new FrameQueue(4);
    const b = new FrameQueue(10);
    a.push(encodeFrameBody('c', 1));
    for (let i = 2; i <= 6; i++) b.push(encodeFrameBody('c', i));
    assert.equal(a.takeAllFrom(b), 2);
    assert.equal(b.length, 0);
    assert.deepEqual(drain(a, 1024).payloads, [1, 2, 3, 4]);
  });
});
