/**
 * The leader's half of the core: stepLeader (answers from followers),
 * replication (appends and heartbeats; a follower that needs compacted
 * entries gets the snapshot through snapshots.ts), the commit rule, and the
 * client requests (proposals, ReadIndex, transfer, membership changes; a
 * follower refuses them or forwards a read to its leader).
 *
 * Sends are deferred: a step marks what changed, and `flushLeader` (run by
 * ready()) sends one append per follower with everything that accumulated,
 * so proposals made in one event-loop turn share one append (batching),
 * while up to maxInflightAppends appends stay in flight (pipelining).
 */

import { checkChange } from './configuration.js';
import { NotLeaderError, ProposalDroppedError } from './errors.js';
import type { AppendResponse, RaftMessage } from './messages.js';
import { Progress } from './progress.js';
import { quorumIndex, hasQuorum } from './quorum.js';
import type { RaftCore } from './raft.js';
import type { RaftInput } from './ready.js';
import { sendChunk } from './snapshots.js';
import { entrySize, type Entry } from './types.js';

type ClientRequest = Extract<RaftInput, { type: 'propose' | 'read-index' | 'transfer-leader' | 'change-membership' }>;

export function stepLeader(r: RaftCore, m: RaftMessage): void {
  const pr = r.progress.get(m.from);
  switch (m.type) {
    case 'append-response':
      if (pr === undefined) return;
      pr.recentActive = true;
      onAppendResponse(r, pr, m);
      return;
    case 'heartbeat-response':
      if (pr === undefined) return;
      pr.recentActive = true;
      pr.probeSent = false; // a live follower: probe again
      // Appends sent before this heartbeat should have been answered by now (links are FIFO): if the
      // follower still lags, lost appends may have stalled the pipeline. Let one more through; a gap
      // makes the follower reject it, and the rejection moves us back to probing (etcd does the same).
      if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
      if (pr.match < r.log.lastIndex()) sendAppend(r, m.from, pr, true);
      if (m.context > 0) {
        r.readOnly.ack(m.from, m.context);
        releaseReads(r);
      }
      return;
    case 'snapshot-response':
      if (pr === undefined) return;
      pr.recentActive = true;
      if (pr.state === 'snapshot' && pr.snapshot !== null && pr.snapshot.index === m.index && r.snapshot !== null) {
        pr.snapshot.acked = Math.min(m.offset, r.snapshot.data.byteLength);
        pr.snapshot.awaiting = false;
        if (pr.snapshot.acked < r.snapshot.data.byteLength) sendChunk(r, m.from, pr);
      }
      return;
    case 'read-index':
      if (pr !== undefined) pr.recentActive = true;
      readIndex(r, m.requestId, m.from);
      return;
    default:
      // Another leader in our term cannot exist (election safety); vote answers and the rest are stale.
      r.stats.messagesDropped++;
  }
}

function onAppendResponse(r: RaftCore, pr: Progress, m: AppendResponse): void {
  if (m.reject) {
    // Skip every index where our term is above the follower's hint term: about one probe per divergent term.
    const hint = m.logTerm > 0 ? r.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from, pr, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) {
    if (wasPaused && pr.state !== 'snapshot') sendAppend(r, m.from, pr, false);
    return;
  }
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && (pr.match >= (pr.snapshot?.index ?? 0) || pr.match + 1 >= r.log.firstIndex())) pr.becomeProbe();
  else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
  maybeCommit(r);
  if (r.transfer !== null && r.transfer.to === m.from && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

/**
 * Commits the highest index a majority of voters holds durably, if its term
 * is the current one (thesis §3.6.2, figure 8: an older-term entry on a
 * majority can still be overwritten; it commits only under a current one).
 */
export function maybeCommit(r: RaftCore): boolean {
  const before = r.log.committed;
  const index = quorumIndex(r.membership.voters, (id) => (id === r.id ? r.log.persisted : (r.progress.get(id)?.match ?? 0)));
  if (index <= before || r.log.term(index) !== r.term) return false;
  r.log.commitTo(index);
  for (let i = before + 1; i <= index; i++) {
    const e = r.log.entry(i);
    if (e !== undefined && e.term === r.term) r.uncommittedBytes = Math.max(0, r.uncommittedBytes - entrySize(e));
  }
  r.commitBroadcastDue = true;
  if (r.log.term(before) !== r.term) {
    // First commit of this term: reads that waited for it can be served now (etcd pendingReadIndexMessages).
    const waiting = r.waitingReads;
    r.waitingReads = [];
    for (const w of waiting) readIndex(r, w.requestId, w.from);
  }
  return true;
}

/** Sends the next append to `to` unless its progress is paused; empty ones only when `allowEmpty` (probes, commit updates). */
export function sendAppend(r: RaftCore, to: string, pr: Progress, allowEmpty: boolean): void {
  if (pr.isPaused()) return;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) {
    // The entries this follower needs are compacted: send the snapshot (thesis §5.3).
    if (r.snapshot === null) throw new Error(`raft invariant: log compacted to ${r.log.offset().index} without a snapshot`);
    pr.becomeSnapshot(r.snapshot.meta.index);
    r.stats.snapshotsSent++;
    sendChunk(r, to, pr);
    return;
  }
  const last = r.log.lastIndex();
  const entries: Entry[] = pr.next <= last ? r.log.slice(pr.next, last + 1, r.config.maxBytesPerAppend) : [];
  if (entries.length === 0 && !allowEmpty) return;
  const bytes = entries.reduce((sum, e) => sum + entrySize(e), 0);
  r.send({ type: 'append', group: r.group, term: r.term, from: r.id, to, prevIndex, prevTerm, entries, commit: r.log.committed });
  pr.sentAppend(prevIndex + entries.length, bytes, entries.length);
}

function sendTimeoutNow(r: RaftCore, to: string): void {
  r.send({ type: 'timeout-now', group: r.group, term: r.term, from: r.id, to });
}

function broadcastHeartbeat(r: RaftCore): void {
  const context = r.readOnly.pendingContext();
  for (const [to, pr] of r.progress) {
    // Cap the commit at what the follower is known to hold: a heartbeat has no consistency check.
    r.send({ type: 'heartbeat', group: r.group, term: r.term, from: r.id, to, commit: Math.min(pr.match, r.log.committed), context });
  }
}

/** Run by ready(): one append per follower with everything pending, and a heartbeat round if a read waits for one. */
export function flushLeader(r: RaftCore): void {
  const allowEmpty = r.commitBroadcastDue;
  r.commitBroadcastDue = false;
  for (const [to, pr] of r.progress) sendAppend(r, to, pr, allowEmpty);
  if (r.readHeartbeatDue) {
    r.readHeartbeatDue = false;
    broadcastHeartbeat(r);
  }
}

/** The leader's deadlines: heartbeats (and retries of silent probes and chunks), check-quorum, transfer timeout. */
export function leaderTick(r: RaftCore): void {
  if (r.now >= r.heartbeatDeadline) {
    r.heartbeatDeadline = r.now + r.config.heartbeatIntervalMs;
    broadcastHeartbeat(r);
    r.readHeartbeatDue = false;
    for (const [to, pr] of r.progress) {
      if (pr.state === 'snapshot' && pr.snapshot?.awaiting === true) sendChunk(r, to, pr); // the chunk or its ack was lost
    }
  }
  if (r.config.checkQuorum && r.now >= r.checkQuorumDeadline) {
    r.checkQuorumDeadline = r.now + r.config.electionTimeoutMinMs;
    const active = hasQuorum(r.membership.voters, (id) => id === r.id || r.progress.get(id)?.recentActive === true);
    for (const pr of r.progress.values()) pr.recentActive = false;
    if (!active) {
      r.becomeFollower(r.term, null); // §6.2: no majority heard us for an election timeout
      return;
    }
  }
  if (r.transfer !== null && r.now >= r.transfer.deadline) {
    r.emit({ type: 'transfer-aborted', to: r.transfer.to });
    r.transfer = null;
  }
}

/** The leader adopted a new membership: track new members, forget removed ones, step down if it left. */
export function onLeaderMembership(r: RaftCore): void {
  const members = new Set([...r.membership.voters, ...r.membership.learners]);
  for (const id of members) {
    if (id === r.id) continue;
    const pr = r.progress.get(id);
    const learner = r.membership.learners.includes(id);
    if (pr === undefined) r.progress.set(id, new Progress(r.log.lastIndex() + 1, learner, r.config.maxInflightAppends, r.config.maxInflightBytes));
    else pr.isLearner = learner;
  }
  for (const id of [...r.progress.keys()]) if (!members.has(id)) r.progress.delete(id);
  if (r.transfer !== null && !r.membership.voters.includes(r.transfer.to)) {
    r.emit({ type: 'transfer-aborted', to: r.transfer.to });
    r.transfer = null;
  }
  if (!r.membership.voters.includes(r.id)) {
    // §4.2.2: a leader that removed itself steps down once the change is committed. Followers hear the commit first.
    for (const [to, pr] of r.progress) sendAppend(r, to, pr, true);
    r.becomeFollower(r.term, null);
    return;
  }
  maybeCommit(r); // a smaller quorum may commit more
  releaseReads(r);
}

/** Leadership lost: abort a transfer, refuse the reads in progress (their callers retry at the new leader). */
export function dropLeaderState(r: RaftCore): void {
  r.progress.clear();
  if (r.transfer !== null) r.emit({ type: 'transfer-aborted', to: r.transfer.to });
  r.transfer = null;
  const error = new NotLeaderError(r.group, null, r.term);
  for (const read of [...r.waitingReads, ...r.readOnly.drain()]) {
    if (read.from === r.id) r.emit({ type: 'read-index-refused', requestId: read.requestId, error });
    else r.send({ type: 'read-index-response', group: r.group, term: r.term, from: r.id, to: read.from, requestId: read.requestId, index: 0, reject: true });
  }
  r.waitingReads = [];
  r.uncommittedBytes = 0;
}

function releaseReads(r: RaftCore): void {
  for (const read of r.readOnly.release(r.membership.voters)) answerRead(r, read.requestId, read.from, read.index);
}

function answerRead(r: RaftCore, requestId: string, from: string, index: number): void {
  if (from === r.id) r.pushReadState({ requestId, index });
  else r.send({ type: 'read-index-response', group: r.group, term: r.term, from: r.id, to: from, requestId, index, reject: false });
}

function readIndex(r: RaftCore, requestId: string, from: string): void {
  if (r.log.term(r.log.committed) !== r.term) {
    r.waitingReads.push({ requestId, from });
    return;
  }
  if (r.membership.voters.length === 1 && r.membership.voters[0] === r.id) {
    answerRead(r, requestId, from, r.log.committed); // a single voter is its own quorum
    return;
  }
  r.readOnly.add(requestId, from, r.log.committed, r.id);
  r.readHeartbeatDue = true;
}

function notLeader(r: RaftCore): NotLeaderError {
  return new NotLeaderError(r.group, r.leader, r.term);
}

function appendOwn(r: RaftCore, entry: Omit<Entry, 'index' | 'term'>): Entry {
  const e: Entry = { ...entry, index: r.log.lastIndex() + 1, term: r.term };
  r.log.truncateAndAppend([e]);
  return e;
}

/** Client requests: proposals, reads, transfers, membership changes. */
export function handleClientRequest(r: RaftCore, input: ClientRequest): void {
  switch (input.type) {
    case 'propose': {
      const refuse = (error: NotLeaderError | ProposalDroppedError) => {
        r.stats.proposalsRefused++;
        r.emit({ type: 'proposal-refused', requestId: input.requestId, error });
      };
      if (r.role !== 'leader') return refuse(notLeader(r));
      if (!(input.data instanceof Uint8Array)) return refuse(new ProposalDroppedError(r.group, 'invalid', 'data must be a Uint8Array'));
      if (r.transfer !== null) return refuse(new ProposalDroppedError(r.group, 'transferring', `leadership is moving to ${r.transfer.to}`));
      const size = input.data.byteLength;
      if (r.uncommittedBytes > 0 && r.uncommittedBytes + size > r.config.maxUncommittedBytes) {
        return refuse(new ProposalDroppedError(r.group, 'uncommitted-limit', `${r.uncommittedBytes} bytes await commit (limit ${r.config.maxUncommittedBytes})`));
      }
      const e = appendOwn(r, { kind: 'data', data: input.data });
      r.uncommittedBytes += size;
      r.emit({ type: 'proposal-appended', requestId: input.requestId, index: e.index, term: e.term });
      maybeCommit(r);
      return;
    }
    case 'read-index':
      if (r.role === 'leader') readIndex(r, input.requestId, r.id);
      else if (r.leader !== null && r.role === 'follower') r.send({ type: 'read-index', group: r.group, term: r.term, from: r.id, to: r.leader, requestId: input.requestId });
      else r.emit({ type: 'read-index-refused', requestId: input.requestId, error: notLeader(r) });
      return;
    case 'transfer-leader': {
      const to = input.to;
      if (r.role !== 'leader') return r.emit({ type: 'transfer-refused', to, error: notLeader(r) });
      if (to === r.id) return;
      if (!r.membership.voters.includes(to)) return r.emit({ type: 'transfer-refused', to, error: new ProposalDroppedError(r.group, 'invalid', `${to} is not a voter (learners cannot lead)`) });
      if (r.transfer !== null) {
        if (r.transfer.to === to) return;
        r.emit({ type: 'transfer-aborted', to: r.transfer.to });
      }
      r.transfer = { to, deadline: r.now + r.config.electionTimeoutMinMs };
      const pr = r.progress.get(to)!;
      if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
      else sendAppend(r, to, pr, false);
      return;
    }
    case 'change-membership': {
      const refuse = (error: NotLeaderError | ProposalDroppedError) => r.emit({ type: 'proposal-refused', requestId: input.requestId, error });
      if (r.role !== 'leader') return refuse(notLeader(r));
      if (r.transfer !== null) return refuse(new ProposalDroppedError(r.group, 'transferring', `leadership is moving to ${r.transfer.to}`));
      if (r.configIndex < r.pendingConfigIndex) {
        return refuse(new ProposalDroppedError(r.group, 'config-pending', `the change or first entry at ${r.pendingConfigIndex} is not yet committed; one change at a time`));
      }
      const problem = checkChange(r.membership, input.change);
      if (problem !== null) return refuse(new ProposalDroppedError(r.group, 'invalid', problem));
      if (input.change.type === 'remove' && input.change.node === r.id && r.membership.voters.length === 2) {
        // The other voter adopts the change only once it learns the commit; if that news is lost with us,
        // it needs our vote forever (the two-voter wedge in etcd's README). Hand leadership over first.
        return refuse(new ProposalDroppedError(r.group, 'invalid', 'a leader of two voters cannot remove itself: transfer leadership to the other voter first'));
      }
      if (input.change.type === 'promote') {
        const match = r.progress.get(input.change.node)?.match ?? 0;
        if (match < r.log.committed) {
          return refuse(new ProposalDroppedError(r.group, 'learner-behind', `${input.change.node} holds entries through ${match}, the commit index is ${r.log.committed}`));
        }
      }
      const e = appendOwn(r, { kind: 'config', data: new Uint8Array(0), change: { ...input.change } });
      r.pendingConfigIndex = e.index;
      r.emit({ type: 'proposal-appended', requestId: input.requestId, index: e.index, term: e.term });
      maybeCommit(r);
      return;
    }
  }
}
