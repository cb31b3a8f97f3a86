/**
 * What is durable on this node, and the replies that must wait for it
 * (thesis §3.8; etcd's msgsAfterAppend with async storage writes).
 *
 * Every Ready that carries a persist gets an id, increasing by one. The
 * shell steps `persisted { id }` once that write (and so every earlier one,
 * writes complete in order) is durable. For each id we remember the last
 * entry (index, term) it wrote; on the acknowledgement the log's persisted
 * cursor moves there only if the log still holds that entry with that term,
 * so an acknowledgement of entries overwritten since cannot count for their
 * replacements (the ABA race etcd fixed by tagging acks with the term).
 *
 * A reply that vouches for local state (a vote, an append or snapshot
 * acknowledgement) waits for the persist that will contain the current
 * state: the next id if something is not yet handed to the shell, else the
 * last id issued. It leaves the node when that id is acknowledged.
 */

import type { RaftLog } from './log.js';
import type { RaftMessage } from './messages.js';
import type { RaftPersist } from './ready.js';
import type { HardState } from './types.js';

export class Durability {
  /** Id of the next persist handed out. */
  nextId = 1;
  /** Highest id the shell acknowledged as durable. */
  durableId = 0;
  /** The hard state last handed to the shell for persisting. */
  handedHardState: HardState;
  private readonly records = new Map<number, { index: number; term: number }>();
  private held: { needId: number; msg: RaftMessage }[] = [];

  constructor(hardState: HardState) {
    this.handedHardState = { ...hardState };
  }

  /** The id whose acknowledgement makes the current state durable (`dirty`: state not yet handed out). */
  waitId(dirty: boolean): number {
    return dirty ? this.nextId : this.nextId - 1;
  }

  isDurable(id: number): boolean {
    return id <= this.durableId;
  }

  hold(needId: number, msg: RaftMessage): void {
    this.held.push({ needId, msg });
  }

  /** The shell took persist `p` (from advance): remember what it writes. */
  issued(p: RaftPersist, log: RaftLog): void {
    if (p.id !== this.nextId) return; // a stale Ready
    this.nextId++;
    if (p.hardState !== null) this.handedHardState = { ...p.hardState };
    const last = p.entries[p.entries.length - 1];
    if (last !== undefined && log.matchTerm(last.index, last.term)) {
      log.handedOff = Math.max(log.handedOff, last.index);
      this.records.set(p.id, { index: last.index, term: last.term });
    } else if (p.snapshot !== null) {
      this.records.set(p.id, { index: p.snapshot.meta.index, term: p.snapshot.meta.term });
    }
  }

  /** Persist `id` is durable: moves the log's persisted cursor; returns the replies that may leave now, in order. */
  acknowledge(id: number, log: RaftLog): RaftMessage[] {
    if (!Number.isSafeInteger(id) || id <= this.durableId || id >= this.nextId) return [];
    for (const [rid, rec] of this.records) {
      if (rid > id) continue;
      log.markPersisted(rec.index, rec.term);
      this.records.delete(rid);
    }
    this.durableId = id;
    const released = this.held.filter((h) => h.needId <= id).map((h) => h.msg);
    this.held = this.held.filter((h) => h.needId > id);
    return released;
  }
}
