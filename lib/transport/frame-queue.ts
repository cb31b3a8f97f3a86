/**
 * A bounded FIFO of outbound frames (one priority class of one link: see
 * link-queues.ts), and the batching of its frames into socket writes.
 *
 * Bounds: at most `limit` frames and at most `byteLimit` bytes (prefixes
 * included), whichever is met first. Policy when full: the new frame is
 * refused (the caller's `send` returns false and the transport counts it in
 * `framesDropped`, and in its channel's counters); frames already queued are
 * kept, so the queue stays in send order. Dropping the newest is what
 * membership wants (it gossips again next round) and what reliable layers
 * expect (they retry from their own log, not from ours). A frame larger than
 * `byteLimit` on its own is always refused.
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
import type { ChannelStats } from './transport.js';

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
  /** The channel counters of each item, parallel to `items`; a frame taken into a batch is counted sent there. */
  private owners: (ChannelStats | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;

  /** `limit` in frames, `byteLimit` in bytes on the wire (prefixes included). */
  constructor(readonly limit: number, readonly byteLimit = Number.POSITIVE_INFINITY) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Bytes the queued frames take on the wire, prefixes included. */
  get bytes(): number {
    return this.queuedBytes;
  }

  /**
   * Appends a body; false (and nothing queued) when the queue holds `limit` frames or the frame would take
   * it past `byteLimit`. `owner` counts the frame when it is taken into a batch, or its drop.
   */
  push(body: Uint8Array, owner?: ChannelStats): boolean {
    const size = FRAME_HEADER_BYTES + body.length;
    if (this.length >= this.limit || this.queuedBytes + size > this.byteLimit) {
      if (owner !== undefined) owner.framesDropped++;
      return false;
    }
    this.items.push(body);
    this.owners.push(owner);
    this.queuedBytes += size;
    return true;
  }

  /** Moves every frame of `other` behind ours, in order, while there is room; returns how many did not fit. */
  takeAllFrom(other: FrameQueue): number {
    let refused = 0;
    for (let i = other.head; i < other.items.length; i++) {
      if (!this.push(other.items[i]!, other.owners[i])) refused++;
    }
    other.clear();
    return refused;
  }

  /** Empties the queue; returns how many frames were in it. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.owners = [];
    this.head = 0;
    this.queuedBytes = 0;
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
    const owner = this.owners[this.head];
    const size = FRAME_HEADER_BYTES + body.length;
    this.queuedBytes -= size;
    if (owner !== undefined) {
      owner.framesSent++;
      owner.bytesSent += size;
    }
    this.items[this.head] = undefined;
    this.owners[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.owners = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.owners = this.owners.slice(this.head);
      this.head = 0;
    }
    return body;
  }
}
