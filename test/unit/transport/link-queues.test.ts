import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelPriority, type ChannelPriority } from '../../../lib/transport/channel-priority.js';
import { FrameDecoder, encodeFrameBody } from '../../../lib/transport/frame-codec.js';
import { LinkQueues } from '../../../lib/transport/link-queues.js';

function queues(frames = 100, bytes = 1 << 20): LinkQueues {
  return new LinkQueues({ high: { frames, bytes }, normal: { frames, bytes }, low: { frames, bytes } });
}

/** Channels of the frames in each batch taken, down to `through`. */
function batches(q: LinkQueues, through: ChannelPriority = 'low', maxBatchBytes = 64 * 1024): string[][] {
  const out: string[][] = [];
  for (let batch = q.takeBatch(maxBatchBytes, through); batch !== null; batch = q.takeBatch(maxBatchBytes, through)) {
    const channels: string[] = [];
    const decoder = new FrameDecoder();
    for (const chunk of batch.chunks) decoder.push(chunk, (channel) => channels.push(channel));
    out.push(channels);
  }
  return out;
}

describe('channelPriority', () => {
  const table: Array<[string, Record<string, ChannelPriority>, ChannelPriority]> = [
    ['swim', {}, 'high'],
    ['rpc', {}, 'high'],
    ['raft', {}, 'normal'],
    ['raft-snapshot', {}, 'low'],
    ['something-new', {}, 'normal'],
    ['toString', {}, 'normal'],
    ['raft', { raft: 'high' }, 'high'],
    ['custom', { custom: 'low' }, 'low'],
  ];
  for (const [channel, overrides, expected] of table) {
    it(`${channel} with ${JSON.stringify(overrides)} is ${expected}`, () => assert.equal(channelPriority(channel, overrides), expected));
  }
});

describe('LinkQueues', () => {
  it('takes the highest class first, one class per batch, each in its own order', () => {
    const q = queues();
    q.push('low', encodeFrameBody('l', 1));
    q.push('normal', encodeFrameBody('n', 1));
    q.push('low', encodeFrameBody('l', 2));
    q.push('high', encodeFrameBody('h', 1));
    q.push('normal', encodeFrameBody('n', 2));
    assert.equal(q.length, 5);
    assert.deepEqual(batches(q), [['h'], ['n', 'n'], ['l', 'l']]);
    assert.equal(q.length, 0);
    assert.equal(q.bytes, 0);
  });

  it('lets a frame queued later overtake a backlog of a lower class', () => {
    const q = queues();
    for (let i = 0; i < 5; i++) q.push('low', encodeFrameBody('l', new Uint8Array(40_000)));
    assert.notEqual(q.takeBatch(), null);
    q.push('high', encodeFrameBody('h', 'ack'));
    assert.deepEqual(batches(q), [['h'], ['l'], ['l'], ['l'], ['l']]);
  });

  it('takes nothing below `through`', () => {
    const q = queues();
    q.push('normal', encodeFrameBody('n', 1));
    q.push('low', encodeFrameBody('l', 1));
    assert.deepEqual(batches(q, 'high'), []);
    q.push('high', encodeFrameBody('h', 1));
    assert.deepEqual(batches(q, 'high'), [['h']]);
    assert.deepEqual(batches(q, 'normal'), [['n']]);
    assert.deepEqual(q.queued('low').frames, 1);
  });

  it('bounds each class on its own', () => {
    const q = queues(2);
    assert.equal(q.push('low', encodeFrameBody('l', 1)), true);
    assert.equal(q.push('low', encodeFrameBody('l', 2)), true);
    assert.equal(q.push('low', encodeFrameBody('l', 3)), false);
    assert.equal(q.push('high', encodeFrameBody('h', 1)), true);
    assert.deepEqual(q.queued('low'), { frames: 2, bytes: q.bytes - q.queued('high').bytes });
  });

  it('moves another link\'s queues behind its own, class by class', () => {
    const a = queues(2);
    const b = queues(2);
    a.push('normal', encodeFrameBody('a', 1));
    b.push('normal', encodeFrameBody('b', 1));
    b.push('normal', encodeFrameBody('b', 2));
    b.push('high', encodeFrameBody('b', 3));
    assert.equal(a.takeAllFrom(b), 1);
    assert.equal(b.length, 0);
    assert.deepEqual(batches(a), [['b'], ['a', 'b']]);
  });
});
