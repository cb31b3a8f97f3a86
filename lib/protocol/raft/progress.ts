/**
 * What a leader knows of each follower's log, and how fast it may send
 * (etcd's progress tracker, design.md):
 *
 *   probe      the leader does not know where the follower's log matches: at
 *              most one append in flight, re-sent on the next heartbeat
 *              response; `next` backs off on each rejection using the
 *              follower's hint (thesis §3.5), about one round trip per term.
 *   replicate  matched: appends are pipelined, `next` moves optimistically
 *              past each sent batch, up to maxInflightAppends messages and
 *              maxInflightBytes of payload in flight (the Inflights window).
 *   snapshot   the entries the follower needs are compacted: no appends;
 *              snapshot chunks go one at a time until it is installed.
 *
 * Invariants: match < next; match only grows (a follower's durable log never
 * loses a matched entry in the same term); `recentActive` says whether the
 * follower answered since the last check-quorum round.
 */

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** Appends in flight to one follower, in send order: the last index and payload bytes of each. */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(private readonly maxCount: number, private readonly maxBytes: number) {}

  add(lastIndex: number, bytes: number): void {
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every append whose last index is ≤ `index` (the follower acknowledged through it). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && this.lastIndexes[n]! <= index) {
      this.bytes -= this.sizes[n]!;
      n++;
    }
    this.lastIndexes.splice(0, n);
    this.sizes.splice(0, n);
  }

  /** Frees the oldest append (it was presumably lost). */
  freeFirst(): void {
    if (this.lastIndexes.length === 0) return;
    this.bytes -= this.sizes[0]!;
    this.lastIndexes.shift();
    this.sizes.shift();
  }

  full(): boolean {
    return this.lastIndexes.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  count(): number {
    return this.lastIndexes.length;
  }

  reset(): void {
    this.lastIndexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe: an append is in flight; no other is sent until a response or the next heartbeat. */
  probeSent = false;
  /** Answered (any message in the current term) since the last check-quorum round. */
  recentActive = false;
  /** In snapshot: the snapshot being sent and the bytes the follower acknowledged. */
  snapshot: { index: number; acked: number; awaiting: boolean } | null = null;
  readonly inflights: Inflights;

  constructor(next: number, public isLearner: boolean, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  /** True when nothing may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it (the follower holds it now).
    const from = this.state === 'snapshot' && this.snapshot !== null ? Math.max(this.match, this.snapshot.index) : this.match;
    this.state = 'probe';
    this.next = from + 1;
    this.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.reset();
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.reset();
    this.snapshot = { index, acked: 0, awaiting: false };
  }

  private reset(): void {
    this.probeSent = false;
    this.inflights.reset();
    if (this.state !== 'snapshot') this.snapshot = null;
  }

  /** An append through `lastIndex` was sent (with `bytes` of payload). */
  sentAppend(lastIndex: number, bytes: number, entries: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** The follower holds entries through `index`. Returns whether match grew. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the probe at `rejected`; `hint` is the highest index the
   * leader believes may match (from the follower's hint). Returns false when
   * the rejection is stale (an answer to an older probe, etcd MaybeDecrTo).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1; // the caller falls back to probe
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }
}
