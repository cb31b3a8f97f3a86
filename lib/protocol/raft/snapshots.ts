/**
 * Snapshots (thesis ch. 5): creating one from the shell's serialized state
 * machine and compacting the log behind it; sending it to a follower whose
 * next entry is compacted, in chunks, one in flight, resumed from the
 * follower's acknowledged offset (a lost chunk is re-sent on a heartbeat
 * tick); assembling and installing it on the follower.
 *
 * Thresholds (config.ts): snapshot-due fires once snapshotThresholdEntries
 * entries were applied since the last snapshot; compaction keeps
 * snapshotTrailingEntries entries behind it; chunks are snapshotChunkBytes.
 */

import type { SnapshotChunk } from './messages.js';
import type { Progress } from './progress.js';
import type { RaftCore } from './raft.js';

/** The shell applied through `index`: ask for a snapshot once enough entries accumulated. */
export function onApplied(r: RaftCore, index: number): void {
  if (!Number.isSafeInteger(index) || index <= r.appliedIndex) return;
  r.appliedIndex = Math.min(index, r.log.applying);
  const base = r.snapshot?.meta.index ?? r.log.offset().index;
  if (!r.snapshotDueSent && r.appliedIndex - base >= r.config.snapshotThresholdEntries) {
    r.snapshotDueSent = true;
    r.emit({ type: 'snapshot-due', index: r.appliedIndex });
  }
}

/** The shell serialized its state machine at applied index `index` (any role). */
export function snapshotCreated(r: RaftCore, index: number, data: Uint8Array): void {
  const refuse = (reason: string) => r.emit({ type: 'snapshot-refused', index, reason });
  const current = r.snapshot?.meta.index ?? r.log.offset().index;
  if (!Number.isSafeInteger(index) || !(data instanceof Uint8Array)) return refuse('index must be an integer and data a Uint8Array');
  if (index <= current) return refuse(`not newer than the snapshot at ${current}`);
  if (index > r.appliedIndex) return refuse(`beyond the applied index ${r.appliedIndex}`);
  const term = r.log.term(index);
  if (term === undefined) return refuse(`entry ${index} is not in the log`);
  r.snapshot = { meta: { index, term, membership: r.history.at(index) }, data };
  r.snapshotToPersist = r.snapshot;
  r.snapshotDueSent = false;
  const compact = Math.max(r.log.offset().index, index - r.config.snapshotTrailingEntries);
  if (compact > r.log.offset().index && compact <= r.log.persisted) {
    r.log.compact(compact);
    r.history.compact(compact);
    r.compactToPersist = compact;
  }
}

/** Sends the snapshot chunk at the follower's acknowledged offset (one chunk in flight). */
export function sendChunk(r: RaftCore, to: string, pr: Progress): void {
  const snap = r.snapshot;
  if (snap === null || pr.snapshot === null) return;
  if (pr.snapshot.index !== snap.meta.index) pr.snapshot = { index: snap.meta.index, acked: 0, awaiting: false }; // a newer snapshot replaced it
  const offset = pr.snapshot.acked;
  const chunk = snap.data.subarray(offset, offset + r.config.snapshotChunkBytes);
  r.send({ type: 'snapshot', group: r.group, term: r.term, from: r.id, to, meta: snap.meta, offset, total: snap.data.byteLength, chunk });
  pr.snapshot.awaiting = true;
}

/**
 * Assembles a snapshot from chunks sent in order; any gap or a different
 * snapshot makes us answer with where to resume (0 restarts). A snapshot at
 * or below our commit index is acknowledged without installing it.
 */
export function handleSnapshotChunk(r: RaftCore, m: SnapshotChunk): void {
  const ack = (offset: number) => r.send({ type: 'snapshot-response', group: r.group, term: r.term, from: r.id, to: m.from, index: m.meta.index, offset });
  const appendAck = (index: number) =>
    r.sendAfterPersist({ type: 'append-response', group: r.group, term: r.term, from: r.id, to: m.from, index, reject: false, rejectHint: 0, logTerm: 0 });
  if (m.meta.index <= r.log.committed) {
    r.incoming = null;
    appendAck(r.log.committed);
    return;
  }
  if (m.offset === 0) r.incoming = { meta: m.meta, total: m.total, chunks: [], received: 0 };
  const inc = r.incoming;
  const same = inc !== null && inc.meta.index === m.meta.index && inc.meta.term === m.meta.term && inc.total === m.total;
  if (!same || m.offset !== inc.received) {
    ack(same ? inc.received : 0);
    return;
  }
  inc.chunks.push(m.chunk.slice());
  inc.received += m.chunk.byteLength;
  if (inc.received < inc.total) {
    ack(inc.received);
    return;
  }
  r.incoming = null;
  const data = new Uint8Array(inc.total);
  let at = 0;
  for (const c of inc.chunks) {
    data.set(c, at);
    at += c.byteLength;
  }
  if (r.log.matchTerm(inc.meta.index, inc.meta.term)) {
    r.log.commitTo(inc.meta.index); // our log already holds the snapshot's point: keep it, just commit
  } else {
    r.restoreSnapshot({ meta: inc.meta, data });
  }
  appendAck(inc.meta.index);
}
