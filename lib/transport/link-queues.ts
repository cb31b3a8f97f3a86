/**
 * The outbound queues of one link: one bounded FrameQueue per priority class
 * (channel-priority.ts), each with a frame and a byte budget.
 *
 * `takeBatch` takes from the highest class that has frames, so every batch
 * the writer asks for is the most urgent one available at that moment: a
 * frame queued after a backlog of a lower class goes out in the next batch.
 * A batch holds frames of one class only. Order within a class is send
 * order; the queues together are not FIFO.
 */

import { CHANNEL_PRIORITIES, type ChannelPriority } from './channel-priority.js';
import { DEFAULT_MAX_BATCH_BYTES, FrameQueue, type Batch } from './frame-queue.js';
import type { ChannelStats } from './transport.js';

export interface QueueBudget {
  /** At most this many frames. */
  frames: number;
  /** At most this many bytes, prefixes included. */
  bytes: number;
}

export class LinkQueues {
  private readonly queues: Record<ChannelPriority, FrameQueue>;

  constructor(budgets: Readonly<Record<ChannelPriority, QueueBudget>>) {
    this.queues = {
      high: new FrameQueue(budgets.high.frames, budgets.high.bytes),
      normal: new FrameQueue(budgets.normal.frames, budgets.normal.bytes),
      low: new FrameQueue(budgets.low.frames, budgets.low.bytes),
    };
  }

  /** Frames queued, all classes. */
  get length(): number {
    return this.queues.high.length + this.queues.normal.length + this.queues.low.length;
  }

  /** Bytes queued, all classes, prefixes included. */
  get bytes(): number {
    return this.queues.high.bytes + this.queues.normal.bytes + this.queues.low.bytes;
  }

  /** What one class holds. */
  queued(priority: ChannelPriority): { frames: number; bytes: number } {
    const queue = this.queues[priority];
    return { frames: queue.length, bytes: queue.bytes };
  }

  /** Appends to the class's queue; false when its frame or byte budget would be exceeded (see FrameQueue.push). */
  push(priority: ChannelPriority, body: Uint8Array, owner?: ChannelStats): boolean {
    return this.queues[priority].push(body, owner);
  }

  /**
   * A batch from the highest class with frames, down to `through` (see FrameQueue.takeBatch); null when those
   * classes are empty.
   */
  takeBatch(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES, through: ChannelPriority = 'low'): Batch | null {
    for (const priority of CHANNEL_PRIORITIES) {
      const queue = this.queues[priority];
      if (queue.length > 0) return queue.takeBatch(maxBatchBytes);
      if (priority === through) break;
    }
    return null;
  }

  /** Moves each class of `other` behind ours, in order, while there is room; returns how many frames did not fit. */
  takeAllFrom(other: LinkQueues): number {
    let refused = 0;
    for (const priority of CHANNEL_PRIORITIES) refused += this.queues[priority].takeAllFrom(other.queues[priority]);
    return refused;
  }

  /** Empties every class; returns how many frames there were. */
  clear(): number {
    let n = 0;
    for (const priority of CHANNEL_PRIORITIES) n += this.queues[priority].clear();
    return n;
  }
}
