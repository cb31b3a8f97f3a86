import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameError } from '../../../lib/errors.js';
import { encodeFrame, encodeFrameBody, FrameDecoder, FRAME_HEADER_BYTES, type FrameFailure } from '../../../lib/transport/frame-codec.js';

interface Decoded {
  channel: string;
  payload: unknown;
  frameBytes: number;
}

/** Feeds chunks in order; returns the frames and the failure, if any. */
function decodeAll(chunks: Uint8Array[], maxFrameBytes?: number): { frames: Decoded[]; failure: FrameFailure | null } {
  const decoder = new FrameDecoder(maxFrameBytes);
  const frames: Decoded[] = [];
  let failure: FrameFailure | null = null;
  for (const chunk of chunks) {
    failure = decoder.push(chunk, (channel, payload, frameBytes) => frames.push({ channel, payload, frameBytes }));
    if (failure !== null) break;
  }
  return { frames, failure };
}

/** msgpack decodes binary as Buffer; compare as plain bytes. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function header(length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(h.buffer).setUint32(0, length);
  return h;
}

const payloadArb = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 300 }),
  fc.array(fc.integer(), { maxLength: 20 }),
  fc.dictionary(fc.string().filter((k) => k !== '__proto__'), fc.oneof(fc.integer(), fc.string()), { maxKeys: 8 }),
);
const frameArb = fc.record({ channel: fc.string({ minLength: 1, maxLength: 12 }), payload: payloadArb });

describe('frame codec', () => {
  it('round-trips payloads of every msgpack kind', () => {
    const payloads: unknown[] = [0, -1, 2 ** 40, 1.5, 'text', '', true, null, new Uint8Array([1, 2, 3]), [1, 'a', [2]], { a: 1, b: { c: 'd' } }];
    for (const payload of payloads) {
      const frame = encodeFrame('swim', payload);
      const { frames, failure } = decodeAll([frame]);
      assert.equal(failure, null);
      assert.equal(frames.length, 1);
      assert.equal(frames[0]!.channel, 'swim');
      assert.equal(frames[0]!.frameBytes, frame.length);
      assert.deepEqual(normalize(frames[0]!.payload), normalize(payload));
    }
  });

  it('decodes any sequence of frames cut into chunks anywhere', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cutSeeds) => {
        const stream = concat(frames.map((f) => encodeFrame(f.channel, f.payload)));
        const cuts = [...new Set(cutSeeds.map((s) => s % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let start = 0;
        for (const cut of [...cuts, stream.length]) {
          chunks.push(stream.subarray(start, cut));
          start = cut;
        }
        const { frames: decoded, failure } = decodeAll(chunks);
        assert.equal(failure, null);
        assert.deepEqual(decoded.map((d) => ({ channel: d.channel, payload: normalize(d.payload) })), frames.map((f) => ({ channel: f.channel, payload: normalize(f.payload) })));
      }),
    );
  });

  it('decodes a stream delivered one byte at a time', () => {
    const stream = concat([encodeFrame('a', { x: 1 }), encodeFrame('b', 'two'), encodeFrame('c', new Uint8Array(1000))]);
    const chunks = Array.from(stream, (byte) => Uint8Array.of(byte));
    const { frames, failure } = decodeAll(chunks);
    assert.equal(failure, null);
    assert.deepEqual(frames.map((f) => f.channel), ['a', 'b', 'c']);
  });

  it('refuses an oversized length as soon as the prefix is in, without buffering the body', () => {
    const decoder = new FrameDecoder(1024);
    const prefix = header(1025);
    assert.equal(decoder.push(prefix.subarray(0, 2), () => assert.fail('no frame')), null);
    const failure = decoder.push(prefix.subarray(2), () => assert.fail('no frame'));
    assert.equal(failure?.reason, 'frame-too-large');
    assert.equal(decoder.bufferedBytes, 0);
    assert.deepEqual(decoder.push(new Uint8Array(4096), () => assert.fail('no frame')), failure, 'failure is sticky');
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('accepts a frame of exactly the maximum size', () => {
    const body = encodeFrameBody('c', 'x'.repeat(100));
    const { frames, failure } = decodeAll([encodeFrame('c', 'x'.repeat(100))], body.length);
    assert.equal(failure, null);
    assert.equal(frames.length, 1);
  });

  it('refuses a prefix of 0xffffffff with the default limit', () => {
    const { failure } = decodeAll([Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3)]);
    assert.equal(failure?.reason, 'frame-too-large');
  });

  const garbage: Array<[what: string, bytes: Uint8Array]> = [
    ['an empty frame', header(0)],
    ['a never-used msgpack byte', concat([header(1), Uint8Array.of(0xc1)])],
    ['truncated msgpack', concat([header(2), Uint8Array.of(0x92, 0xa2)])],
    ['trailing bytes after the value', concat([header(2), Uint8Array.of(0x01, 0x02)])],
    ['a value that is not an array', concat([header(1), Uint8Array.of(0x07)])],
    ['an array of one', concat([header(3), Uint8Array.of(0x91, 0xa1, 0x61)])],
    ['a non-string channel', concat([header(3), Uint8Array.of(0x92, 0x01, 0x02)])],
    ['an empty channel', concat([header(3), Uint8Array.of(0x92, 0xa0, 0x02)])],
  ];
  for (const [what, bytes] of garbage) {
    it(`fails on ${what} (bad-frame), and stays failed`, () => {
      const decoder = new FrameDecoder();
      const failure = decoder.push(bytes, () => assert.fail('no frame'));
      assert.equal(failure?.reason, 'bad-frame');
      assert.deepEqual(decoder.push(encodeFrame('a', 1), () => assert.fail('no frame after a failure')), failure);
    });
  }

  it('delivers the good frames before a bad one, and none after', () => {
    const stream = concat([encodeFrame('a', 1), header(1), Uint8Array.of(0xc1), encodeFrame('b', 2)]);
    const { frames, failure } = decodeAll([stream]);
    assert.equal(failure?.reason, 'bad-frame');
    assert.deepEqual(frames.map((f) => f.channel), ['a']);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const { failure } = decodeAll(chunks, 4096);
        assert.ok(failure === null || failure.reason === 'bad-frame' || failure.reason === 'frame-too-large');
      }),
    );
  });

  it('stops at halt(), called from a frame handler', () => {
    const decoder = new FrameDecoder();
    const seen: string[] = [];
    decoder.push(concat([encodeFrame('a', 1), encodeFrame('b', 2)]), (channel) => {
      seen.push(channel);
      decoder.halt();
    });
    assert.deepEqual(seen, ['a']);
  });

  it('lets a handler raise the limit for the frames that follow', () => {
    const decoder = new FrameDecoder(64);
    const big = 'y'.repeat(200);
    const seen: unknown[] = [];
    const failure = decoder.push(concat([encodeFrame('hello', 1), encodeFrame('data', big)]), (channel, payload) => {
      seen.push(payload);
      if (channel === 'hello') decoder.maxFrameBytes = 1024;
    });
    assert.equal(failure, null);
    assert.deepEqual(seen, [1, big]);
  });

  it('throws FrameError when encoding a body above the limit', () => {
    assert.throws(() => encodeFrameBody('raft', 'z'.repeat(2000), 1024), FrameError);
  });
});
