/**
 * The follower's and candidates' half of the core: elections (pre-vote and
 * vote, and answering vote requests), AppendEntries with the conflict hint,
 * heartbeats, TimeoutNow and forwarded ReadIndex answers; snapshot chunks are
 * handed to snapshots.ts.
 *
 * Every acknowledgement goes through sendAfterPersist: it leaves only once
 * the entries, snapshot and hard state it vouches for are durable here.
 */

import type { Append, RaftMessage } from './messages.js';
import { voteResult } from './quorum.js';
import type { RaftCore } from './raft.js';
import { NotLeaderError } from './errors.js';
import { handleSnapshotChunk } from './snapshots.js';

/** Starts an election: a pre-vote round (§9.6), a real one, or a transfer's (skips pre-vote, may disrupt a lease). */
export function campaign(r: RaftCore, kind: 'pre-vote' | 'election' | 'transfer'): void {
  r.stats.electionsStarted++;
  const pre = kind === 'pre-vote';
  if (pre) r.becomePreCandidate();
  else r.becomeCandidate();
  const term = pre ? r.term + 1 : r.term;
  for (const to of r.membership.voters) {
    if (to === r.id) continue;
    r.send({
      type: pre ? 'request-pre-vote' : 'request-vote', group: r.group, term, from: r.id, to,
      lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm(), transfer: kind === 'transfer',
    });
  }
  if (pre) tally(r); // a single voter wins its pre-vote alone
}

function tally(r: RaftCore): void {
  const result = voteResult(r.membership.voters, r.votes);
  if (result === 'won') {
    if (r.role === 'pre-candidate') campaign(r, 'election');
    else r.becomeLeader();
  } else if (result === 'lost') {
    r.becomeFollower(r.term, null);
  }
}

/** RequestVote and pre-vote (§3.4, §9.6): grant if we may still vote in that term and the candidate's log is up to date. */
export function handleVoteRequest(r: RaftCore, m: Extract<RaftMessage, { type: 'request-vote' | 'request-pre-vote' }>): void {
  const pre = m.type === 'request-pre-vote';
  const canVote = r.vote === m.from || (r.vote === null && r.leader === null) || (pre && m.term > r.term);
  const type = pre ? 'pre-vote-response' : 'vote-response';
  if (canVote && r.log.isUpToDate(m.lastIndex, m.lastTerm)) {
    if (!pre) {
      r.vote = m.from;
      r.resetElectionDeadline();
    }
    r.sendAfterPersist({ type, group: r.group, term: m.term, from: r.id, to: m.from, reject: false });
  } else {
    r.sendAfterPersist({ type, group: r.group, term: r.term, from: r.id, to: m.from, reject: true });
  }
}

export function stepCandidate(r: RaftCore, m: RaftMessage): void {
  switch (m.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      // A leader of our term exists (for a pre-candidate: of the term we are still in).
      r.becomeFollower(m.term, m.from);
      stepFollower(r, m);
      return;
    case 'pre-vote-response':
    case 'vote-response': {
      const expected = r.role === 'pre-candidate' ? 'pre-vote-response' : 'vote-response';
      if (m.type !== expected) return;
      if (r.role === 'pre-candidate' && !m.reject && m.term !== r.term + 1) return; // an answer to an older round
      r.votes.set(m.from, !m.reject);
      tally(r);
      return;
    }
    case 'read-index-response':
      answerForwardedRead(r, m);
      return;
    default:
      r.stats.messagesDropped++; // timeout-now, leader-bound answers: not for a candidate
  }
}

export function stepFollower(r: RaftCore, m: RaftMessage): void {
  switch (m.type) {
    case 'append':
      heardFromLeader(r, m.from);
      handleAppend(r, m);
      return;
    case 'heartbeat':
      heardFromLeader(r, m.from);
      r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
      r.sendAfterPersist({ type: 'heartbeat-response', group: r.group, term: r.term, from: r.id, to: m.from, context: m.context });
      return;
    case 'snapshot':
      heardFromLeader(r, m.from);
      handleSnapshotChunk(r, m);
      return;
    case 'timeout-now':
      // §3.10: the leader brought us up to date and asks us to campaign at once.
      if (r.promotable()) campaign(r, 'transfer');
      return;
    case 'read-index-response':
      answerForwardedRead(r, m);
      return;
    case 'read-index':
      // Forwarded to us by a node that thinks we lead: say no, it will retry.
      r.send({ type: 'read-index-response', group: r.group, term: r.term, from: r.id, to: m.from, requestId: m.requestId, index: 0, reject: true });
      return;
    default:
      r.stats.messagesDropped++;
  }
}

function heardFromLeader(r: RaftCore, from: string): void {
  r.setLeader(from);
  r.leaderContactAt = r.now;
  r.resetElectionDeadline();
}

function answerForwardedRead(r: RaftCore, m: Extract<RaftMessage, { type: 'read-index-response' }>): void {
  if (m.reject) r.emit({ type: 'read-index-refused', requestId: m.requestId, error: new NotLeaderError(r.group, r.leader, r.term) });
  else r.pushReadState({ requestId: m.requestId, index: m.index });
}

function handleAppend(r: RaftCore, m: Append): void {
  const reply = (index: number, reject: boolean, rejectHint = 0, logTerm = 0) =>
    r.sendAfterPersist({ type: 'append-response', group: r.group, term: r.term, from: r.id, to: m.from, index, reject, rejectHint, logTerm });
  if (m.prevIndex < r.log.committed) {
    reply(r.log.committed, false); // everything up to our commit index matches any leader's log
    return;
  }
  const lastNew = r.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
  if (lastNew !== null) {
    reply(lastNew, false);
    return;
  }
  // The probe missed: hint at our last entry at or below it whose term is ≤ the leader's term there.
  const hint = r.log.findConflictByTerm(Math.min(m.prevIndex, r.log.lastIndex()), m.prevTerm);
  reply(m.prevIndex, true, hint.index, hint.term);
}
