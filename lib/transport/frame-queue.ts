/**
 * The bounded outbound queue of one link, and the batching of its frames
 * into socket writes.
 *
 * Policy when full: the new frame is refused (the caller's `send` returns
 * false and the transport counts it in `framesDropped`); frames already
 * queued are kept, so the queue stays in send order. Dropping the newest is
 * what membership wants (it gossips again next round) and what reliable
 * layers expect (they retry from their own log, not from ours).
 *
 * Batching: `takeBatch` moves as many queued frames as fit in `maxBatchBytes`
 * into one buffer with their length prefixes, so frames produced in one
 * event-loop turn cost one write and, with TCP_NODELAY, as few packets as
 * their size allows. A frame larger than the batch goes out as its own prefix
 * and body, without a copy.
 *
 * The queue holds encoded bodies, so a payload mutated after `send` does not
 * change what is sent.
 */

import { FRAME_HEADER_BYTES, writeFrame, writeFrameHeader } from './frame-codec.js';

/** @default 64 KiB: large enough that the per-write overhead is negligible, small enough to interleave links fairly. */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;

/** Head removals after which the backing array is compacted. */
const COMPACT_AFTER = 1024;

export interface Batch {
  /** One chunk (concatenated small frames) or two (prefix and body of one large frame). */
  chunks: Uint8Array[];
  frames: number;
  /** Bytes on the wire, prefixes included. */
  bytes: number;
}

export class FrameQueue {
  private items: (Uint8Array | undefined)[] = [];
  private head = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends a body; false (and nothing queued) when the queue holds `limit` frames. */
  push(body: Uint8Array): boolean {
    if (this.length >= this.limit) return false;
    this.items.push(body);
    return true;
  }

  /** Moves every frame of `other` behind ours, in order, while there is room; returns how many did not fit. */
  takeAllFrom(other: FrameQueue): number {
    let refused = 0;
    for (let i = other.head; i < other.items.length; i++) {
      if (!this.push(other.items[i]!)) refused++;
    }
    other.clear();
    return refused;
  }

  /** Empties the queue; returns how many frames were in it. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    return n;
  }

  /** Removes frames from the head into one write (see the module comment); null when empty. */
  takeBatch(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES): Batch | null {
    if (this.length === 0) return null;
    const first = this.items[this.head]!;
    if (FRAME_HEADER_BYTES + first.length > maxBatchBytes) {
      this.shift();
      const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      writeFrameHeader(header, 0, first.length);
      return { chunks: [header, first], frames: 1, bytes: FRAME_HEADER_BYTES + first.length };
    }
    let bytes = 0;
    let end = this.head;
    while (end < this.items.length) {
      const size = FRAME_HEADER_BYTES + this.items[end]!.length;
      if (bytes + size > maxBatchBytes) break;
      bytes += size;
      end++;
    }
    const out = Buffer.allocUnsafe(bytes);
    let offset = 0;
    const frames = end - this.head;
    for (let i = 0; i < frames; i++) offset = writeFrame(out, offset, this.shift());
    return { chunks: [out], frames, bytes };
  }

  private shift(): Uint8Array {
    const body = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return body;
  }
}
