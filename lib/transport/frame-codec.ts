/**
 * Frames on an inter-node connection.
 *
 * Wire format: a 4-byte big-endian unsigned length L, then L bytes of
 * MessagePack encoding the array [channel, payload], where channel is a
 * non-empty string. 0 < L <= maxFrameBytes.
 *
 * The decoder is incremental: it accepts the byte stream in chunks of any
 * size and boundaries, and copies only when a frame straddles chunks (once
 * per such frame, so a frame split into n chunks costs O(L), not O(n·L)).
 * The length is checked as soon as the 4 prefix bytes are in, so a peer that
 * announces an oversized frame is refused before its body is buffered.
 *
 * Failure is sticky and returned as data, never thrown: once the decoder has
 * seen a bad frame, the stream position is lost and the connection must be
 * closed. Pure: no sockets, no clock, no node: imports.
 */

import { Packr, Unpackr } from 'msgpackr';
import { FrameError } from '../errors.js';
import type { FrameErrorReason } from './transport.js';
import { DEFAULT_MAX_FRAME_BYTES } from './transport.js';

export const FRAME_HEADER_BYTES = 4;

export interface FrameFailure {
  reason: FrameErrorReason;
  message: string;
}

/** Called once per decoded frame; `frameBytes` includes the prefix. */
export type FrameHandler = (channel: string, payload: unknown, frameBytes: number) => void;

// Records (msgpackr's shared-structure extension) need per-connection state on both ends; plain maps keep
// every frame self-describing.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/**
 * The MessagePack body of a frame. The result may be a view into a shared buffer that later calls do not
 * overwrite; copy it before mutating. Throws FrameError when the body exceeds `maxFrameBytes`.
 */
export function encodeFrameBody(channel: string, payload: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const body: Uint8Array = packr.pack([channel, payload]);
  if (body.length > maxFrameBytes) {
    throw new FrameError(`frame on channel ${JSON.stringify(channel)} is ${body.length} bytes, above the limit of ${maxFrameBytes}: split the payload`);
  }
  return body;
}

/** Writes the length prefix for a body of `length` bytes at `offset`. */
export function writeFrameHeader(target: Uint8Array, offset: number, length: number): void {
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
}

/** Copies prefix and body into `target` at `offset`; returns the offset after the frame. */
export function writeFrame(target: Uint8Array, offset: number, body: Uint8Array): number {
  writeFrameHeader(target, offset, body.length);
  target.set(body, offset + FRAME_HEADER_BYTES);
  return offset + FRAME_HEADER_BYTES + body.length;
}

/** A complete frame, prefix included, in a fresh buffer. */
export function encodeFrame(channel: string, payload: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const body = encodeFrameBody(channel, payload, maxFrameBytes);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  writeFrame(frame, 0, body);
  return frame;
}

function readUint32(source: Uint8Array, offset: number): number {
  return source[offset]! * 0x100_0000 + ((source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!);
}

function concat(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Decodes a frame body; returns null for anything that is not [non-empty string, payload]. */
function decodeBody(body: Uint8Array): { channel: string; payload: unknown } | null {
  let value: unknown;
  try {
    value = unpackr.unpack(body);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 2) return null;
  const channel: unknown = value[0];
  if (typeof channel !== 'string' || channel.length === 0) return null;
  return { channel, payload: value[1] };
}

export class FrameDecoder {
  /** Largest accepted body; may be changed between chunks or from inside a frame handler. */
  maxFrameBytes: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes that must be buffered before parsing can progress: the prefix, or the whole current frame. */
  private neededBytes = FRAME_HEADER_BYTES;
  private failure: FrameFailure | null = null;
  private halted = false;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Stops decoding: the frames left in the current chunk and later chunks are ignored. For use from a handler. */
  halt(): void {
    this.halted = true;
  }

  /**
   * Feeds one chunk; calls `onFrame` for each complete frame, in order. Returns null, or the failure that
   * ended the stream (also returned by every later call).
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): FrameFailure | null {
    if (this.failure !== null || this.halted) return this.failure;
    let source: Uint8Array;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.neededBytes) return null;
      source = this.pending.length === 1 ? this.pending[0]! : concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      source = chunk;
    }

    let offset = 0;
    this.neededBytes = FRAME_HEADER_BYTES;
    while (!this.halted) {
      const available = source.length - offset;
      if (available < FRAME_HEADER_BYTES) break;
      const length = readUint32(source, offset);
      if (length > this.maxFrameBytes) {
        return this.fail('frame-too-large', `frame length ${length} exceeds the limit of ${this.maxFrameBytes} bytes`);
      }
      if (length === 0) return this.fail('bad-frame', 'empty frame');
      const frameBytes = FRAME_HEADER_BYTES + length;
      if (available < frameBytes) {
        this.neededBytes = frameBytes;
        break;
      }
      const decoded = decodeBody(source.subarray(offset + FRAME_HEADER_BYTES, offset + frameBytes));
      if (decoded === null) return this.fail('bad-frame', 'frame body is not a MessagePack [channel, payload] array');
      offset += frameBytes;
      onFrame(decoded.channel, decoded.payload, frameBytes);
    }
    if (!this.halted && offset < source.length) {
      this.pending.push(offset === 0 ? source : source.subarray(offset));
      this.pendingBytes = source.length - offset;
    }
    return null;
  }

  private fail(reason: FrameErrorReason, message: string): FrameFailure {
    this.failure = { reason, message };
    this.pending = [];
    this.pendingBytes = 0;
    return this.failure;
  }
}
