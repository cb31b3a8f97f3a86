/**
 * The recent messages of one topic on one node, for resuming a stream
 * (`Last-Event-ID`): a ring bounded by a count and by bytes, numbered by a
 * sequence that grows across all topics of the node.
 *
 * Invariant: every message of the topic this node delivered with a number
 * above `coveredAfter` is held. It starts at the node's sequence when the
 * topic's feed was created (nothing of the topic before that was kept) and
 * moves up as the oldest messages are evicted. A resume from a number at or
 * above it is exact; from below, messages may be missing.
 */

export interface RecentMessage {
  seq: number;
  /** The message as JSON. */
  data: string;
}

export interface RecentLimits {
  maxMessages: number;
  maxBytes: number;
}

export class RecentMessages {
  private readonly items: RecentMessage[] = [];
  private bytes = 0;
  private coveredAfter: number;

  constructor(startSeq: number, private readonly limits: RecentLimits) {
    this.coveredAfter = startSeq;
  }

  /** Adds the newest message (numbers must grow); evicts the oldest beyond the limits, always keeping the newest. */
  append(message: RecentMessage): void {
    this.items.push(message);
    this.bytes += Buffer.byteLength(message.data);
    while (this.items.length > 1 && (this.items.length > this.limits.maxMessages || this.bytes > this.limits.maxBytes)) {
      const evicted = this.items.shift()!;
      this.bytes -= Buffer.byteLength(evicted.data);
      this.coveredAfter = evicted.seq;
    }
  }

  /** The messages numbered above `seq`, or null when some of them are no longer (or were never) held. */
  after(seq: number): RecentMessage[] | null {
    if (seq < this.coveredAfter) return null;
    return this.items.filter((m) => m.seq > seq);
  }

  all(): RecentMessage[] {
    return [...this.items];
  }
}
