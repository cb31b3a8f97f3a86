/**
 * The broadcast queue: membership changes waiting to be gossiped.
 *
 * Every change of a record is queued under the member's name; a newer
 * record for the same name supersedes the queued one (and starts again at
 * zero transmissions), so the queue holds at most one record per member.
 * Records are handed out fewest-transmitted first, up to a limit per
 * message, and dropped once sent `limit` times, where the limit is
 * retransmitLimit(mult, n) for the current cluster size n (memberlist's
 * TransmitLimitedQueue). Within one transmit count, older entries go first.
 *
 * Entries are kept in buckets by transmit count, so taking k records costs
 * O(k + buckets) whatever the queue length.
 */

import { copyRecord, type MemberRecord } from './record.js';

interface Entry {
  record: MemberRecord;
  transmits: number;
}

export class GossipQueue {
  /** buckets[t]: entries sent t times, in insertion order. */
  private readonly buckets: Map<string, Entry>[] = [];
  private readonly byName = new Map<string, Entry>();

  /** Queues `record`, replacing any queued record of the same member. */
  enqueue(record: MemberRecord): void {
    const old = this.byName.get(record.name);
    if (old !== undefined) this.bucket(old.transmits).delete(record.name);
    const entry: Entry = { record: copyRecord(record), transmits: 0 };
    this.byName.set(record.name, entry);
    this.bucket(0).set(record.name, entry);
  }

  /**
   * Up to `max` records for one message, fewest-transmitted first; each
   * counts as one transmission, and a record sent `limit` times leaves the
   * queue.
   */
  take(max: number, limit: number): MemberRecord[] {
    const out: Entry[] = [];
    for (let t = 0; t < this.buckets.length && out.length < max; t++) {
      const bucket = this.buckets[t]!;
      for (const entry of bucket.values()) {
        if (out.length >= max) break;
        out.push(entry);
      }
    }
    for (const entry of out) {
      const name = entry.record.name;
      this.bucket(entry.transmits).delete(name);
      entry.transmits++;
      if (entry.transmits >= limit) this.byName.delete(name);
      else this.bucket(entry.transmits).set(name, entry);
    }
    return out.map((e) => e.record);
  }

  /** Drops the queued record of `name`, if any. */
  remove(name: string): void {
    const entry = this.byName.get(name);
    if (entry === undefined) return;
    this.bucket(entry.transmits).delete(name);
    this.byName.delete(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /** The queued record of `name` and its transmissions so far, for tests. */
  peek(name: string): { record: MemberRecord; transmits: number } | undefined {
    const entry = this.byName.get(name);
    return entry === undefined ? undefined : { record: entry.record, transmits: entry.transmits };
  }

  private bucket(t: number): Map<string, Entry> {
    while (this.buckets.length <= t) this.buckets.push(new Map());
    return this.buckets[t]!;
  }
}
