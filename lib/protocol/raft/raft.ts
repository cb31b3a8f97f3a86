/**
 * The Raft core of one group: a deterministic state machine (step / ready /
 * advance, see ./ready.ts) with no clock, timer, socket, disk or unseeded
 * randomness. The shell persists, sends, applies and ticks; the simulator
 * runs the same core on a virtual clock.
 *
 * Mechanism (section numbers are Ongaro's thesis, "Consensus: Bridging
 * Theory and Practice", 2014):
 *
 * - Roles are swapped step functions (stepLeader in leader.ts, stepFollower
 *   and stepCandidate in follower.ts); every message first passes the term
 *   rules here (§3.3): a higher term makes us a follower, a lower one is
 *   dropped (or answered so a stale leader learns the term).
 * - Election (§3.4) with a timeout drawn from the injected Random in
 *   [electionTimeoutMinMs, electionTimeoutMaxMs); pre-vote first (§9.6), so
 *   a node back from a partition raises no term unless a majority would
 *   elect it; check-quorum (§6.2): a leader steps down when a majority has
 *   not answered for an election timeout, and a follower that has heard its
 *   leader within that time ignores vote requests (§4.2.3) unless they are a
 *   transfer's (§3.10).
 * - Replication (§3.5) per follower in probe / replicate / snapshot state
 *   (progress.ts): pipelined appends up to a window, many proposals per
 *   append (sends are deferred to ready()), and back-off by the follower's
 *   (index, term) hint, about one round trip per divergent term.
 * - Commit (§3.6): an index held durably by a majority of voters, and of the
 *   current term (the figure-8 rule, §3.6.2); a new leader appends an empty
 *   entry to commit its term. The leader counts itself only through what its
 *   own storage acknowledged (§10.2.1); followers acknowledge appends only
 *   after their fsync (§3.8, messages are held back until `persisted`).
 *   Nothing is applied before it is durable locally.
 * - ReadIndex (§6.4, read-only.ts); no lease reads (so no clock assumption).
 * - Leader transfer (§3.10): proposals refused, target brought up to date,
 *   TimeoutNow, aborted after an election timeout.
 * - Membership one server at a time with learners (§4.1, configuration.ts);
 *   a leader that removes itself steps down once the change commits (§4.2.2).
 * - Snapshots (§5): the shell serializes the state machine when asked
 *   (snapshot-due); the log is compacted leaving snapshotTrailingEntries;
 *   a follower whose next entry is compacted gets the snapshot in chunks.
 *
 * Invariants (checked by the tests at every step): at most one leader per
 * term; a committed entry never changes; entries are applied in index order,
 * each once, only when committed and durable locally; term and vote are
 * durable before any message that depends on them leaves the node.
 *
 * Multi-Raft: every message carries its group, and heartbeats carry only
 * (group, term, commit, context), so the shell can coalesce them per node
 * pair; `nextWakeAt` is the only timer a group needs, so a shell quiesces
 * an idle group by not ticking it (when `quiescable()`), and steps `wake`
 * when it ticks it again (lib/raft/raft-host.ts).
 */

import { ConfigError } from '../../errors.js';
import { Durability } from './durability.js';
import type { Outbound, ProtocolCore } from '../ready.js';
import type { Random } from '../random.js';
import { validateRaftConfig, type RaftConfig } from './config.js';
import { applyChange, ConfigHistory, isMember } from './configuration.js';
import { dropLeaderState, handleClientRequest, stepLeader, flushLeader, leaderTick, onLeaderMembership, maybeCommit } from './leader.js';
import { stepCandidate, stepFollower, campaign, handleVoteRequest } from './follower.js';
import { RaftLog } from './log.js';
import { onApplied, snapshotCreated } from './snapshots.js';
import { parseRaftMessage, type RaftMessage } from './messages.js';
import { Progress } from './progress.js';
import { ReadOnlyQueue } from './read-only.js';
import type { RaftEvent, RaftInput, RaftReady, RaftStats, ReadState } from './ready.js';
import { copyMembership, EMPTY_HARD_STATE, type Entry, type HardState, type Membership, type NodeId, type Role, type Snapshot } from './types.js';

export type { RaftInput, RaftEvent, RaftReady, RaftPersist, ReadState, RaftStats } from './ready.js';
export type { RaftConfig } from './config.js';
export type { RaftMessage } from './messages.js';

/** What a node restores from its RaftStorage (all durable), or the bootstrap membership of a new group. */
export interface RaftInit {
  id: NodeId;
  group: string;
  /**
   * Membership of a new group (the same on every initial member); a snapshot's
   * membership wins. A node joining an existing group starts with the group's
   * current membership, which does not list it: it never campaigns, and learns
   * its own addition from the log or a snapshot.
   */
  membership: Membership;
  hardState?: HardState;
  /** Index and term of the last compacted entry (0, 0 for a log never compacted). */
  offset?: { index: number; term: number };
  entries?: Entry[];
  snapshot?: Snapshot | null;
  /** The state machine's durable applied index (≥ the snapshot's index if it restored one). */
  applied?: number;
}

export class RaftCore implements ProtocolCore<RaftInput, RaftMessage, RaftEvent> {
  // Fields are shared with leader.ts and follower.ts (the role step functions); shells use the methods.
  readonly id: NodeId;
  readonly group: string;
  readonly config: RaftConfig;
  readonly random: Random;
  term: number;
  vote: NodeId | null;
  leader: NodeId | null = null;
  role: Role = 'follower';
  readonly log: RaftLog;
  membership: Membership;
  readonly history: ConfigHistory;
  /** Config entries are adopted through this index. */
  configIndex: number;
  /** Leader: index of the last membership change it appended (or its first entry); the next waits for its adoption. */
  pendingConfigIndex = 0;
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  electionDeadline = 0;
  heartbeatDeadline = 0;
  checkQuorumDeadline = 0;
  /** When this node last heard from its leader (append, heartbeat, snapshot): the check-quorum lease. */
  leaderContactAt: number | null = null;
  transfer: { to: NodeId; deadline: number } | null = null;
  /** Leader: payload bytes appended in its term and not yet committed. */
  uncommittedBytes = 0;
  readonly readOnly = new ReadOnlyQueue();
  /** Leader: read requests waiting for the first commit of its term. */
  waitingReads: { requestId: string; from: NodeId }[] = [];
  /** Leader: a read was queued, so the next ready() sends a heartbeat round with its context. */
  readHeartbeatDue = false;
  /** Leader: the commit index moved, so followers get (possibly empty) appends carrying it. */
  commitBroadcastDue = false;
  /** The latest snapshot this node holds (created here or installed from a leader). */
  snapshot: Snapshot | null;
  snapshotDueSent = false;
  /** Follower: the snapshot being received in chunks. */
  incoming: { meta: Snapshot['meta']; total: number; chunks: Uint8Array[]; received: number } | null = null;
  appliedIndex: number;
  now: number;
  readonly stats: RaftStats = {
    messagesReceived: 0, messagesDropped: 0, votesIgnoredInLease: 0, messagesSent: 0, proposalsRefused: 0,
    electionsStarted: 0, snapshotsSent: 0, snapshotsInstalled: 0,
  };

  // Output buffers and persistence bookkeeping.
  private outbox: Outbound<RaftMessage>[] = [];
  private events: RaftEvent[] = [];
  private readStates: ReadState[] = [];
  snapshotToPersist: Snapshot | null = null;
  compactToPersist: number | null = null;
  private snapshotToApply: { snapshot: Snapshot; needId: number } | null = null;
  private readonly durability: Durability;

  constructor(config: RaftConfig, init: RaftInit, random: Random, now: number) {
    const problem = validateRaftConfig(config);
    if (problem !== null) throw new ConfigError(`RaftConfig.${problem.field}`, config[problem.field], problem.rule);
    this.config = { ...config };
    this.id = init.id;
    this.group = init.group;
    this.random = random;
    this.now = now;
    const hs = init.hardState ?? EMPTY_HARD_STATE;
    this.term = hs.term;
    this.vote = hs.vote;
    this.durability = new Durability(hs);
    this.snapshot = init.snapshot ?? null;
    const offset = init.offset ?? (this.snapshot === null ? { index: 0, term: 0 } : { index: this.snapshot.meta.index, term: this.snapshot.meta.term });
    const base = this.snapshot?.meta.index ?? offset.index;
    // What the state machine applied was committed, even if the commit index in the hard state (written without fsync) lags.
    this.log = new RaftLog({ offsetIndex: offset.index, offsetTerm: offset.term, entries: init.entries ?? [], committed: Math.max(hs.commit, base, init.applied ?? 0), applied: init.applied ?? base });
    this.appliedIndex = this.log.applying;
    this.membership = copyMembership(this.snapshot?.meta.membership ?? init.membership);
    this.configIndex = this.snapshot?.meta.index ?? 0;
    this.history = new ConfigHistory(this.configIndex, this.membership);
    this.adoptCommittedConfig();
    this.resetElectionDeadline();
  }

  // ---- The ProtocolCore shape ----

  step(input: RaftInput, now: number): void {
    if (now >= this.now) this.now = now; // monotonic time never goes back (and NaN is ignored)
    switch (input?.type) {
      case 'tick':
        break;
      case 'message':
        this.receive(input.msg);
        break;
      case 'persisted':
        this.onPersisted(input.id);
        break;
      case 'applied':
        onApplied(this, input.index);
        break;
      case 'campaign':
        if (this.role !== 'leader' && this.promotable()) campaign(this, this.config.preVote ? 'pre-vote' : 'election');
        break;
      case 'wake':
        this.wake();
        break;
      case 'leader-lost':
        this.leaderLost(input.leader);
        break;
      case 'propose':
      case 'read-index':
      case 'transfer-leader':
      case 'change-membership':
        handleClientRequest(this, input);
        break;
      case 'snapshot-created':
        snapshotCreated(this, input.index, input.data);
        break;
      default:
        break; // an unknown input is a shell bug the type system already refuses; ignore it rather than crash the group
    }
    this.adoptCommittedConfig();
    this.fireDeadlines();
  }

  ready(): RaftReady {
    if (this.role === 'leader') flushLeader(this);
    const entries = this.log.unstable();
    const hs = this.hardState();
    const handed = this.durability.handedHardState;
    const hsChanged = hs.term !== handed.term || hs.vote !== handed.vote;
    const commitChanged = hs.commit !== handed.commit;
    const dirty = entries.length > 0 || hsChanged || this.snapshotToPersist !== null || this.compactToPersist !== null;
    const persist = dirty || commitChanged
      ? {
          id: this.durability.nextId,
          hardState: hsChanged || commitChanged ? hs : null,
          entries,
          snapshot: this.snapshotToPersist,
          compactThrough: this.compactToPersist,
          mustSync: entries.length > 0 || hsChanged || this.snapshotToPersist !== null,
        }
      : null;
    const snapshotToApply = this.snapshotToApply !== null && this.durability.isDurable(this.snapshotToApply.needId) ? this.snapshotToApply.snapshot : null;
    return {
      messages: this.outbox.slice(),
      events: this.events.slice(),
      readStates: this.readStates.slice(),
      persist,
      apply: { snapshot: snapshotToApply, entries: this.snapshotToApply !== null && snapshotToApply === null ? [] : this.log.toApply() },
      nextWakeAt: this.nextWakeAt(),
    };
  }

  advance(ready: RaftReady): void {
    this.outbox.splice(0, ready.messages.length);
    this.events.splice(0, ready.events.length);
    this.readStates.splice(0, ready.readStates.length);
    const p = ready.persist;
    if (p !== null && p.id === this.durability.nextId) {
      this.durability.issued(p, this.log);
      if (p.snapshot === this.snapshotToPersist) this.snapshotToPersist = null;
      if (p.compactThrough === this.compactToPersist) this.compactToPersist = null;
    }
    if (ready.apply.snapshot !== null && this.snapshotToApply?.snapshot === ready.apply.snapshot) this.snapshotToApply = null;
    const lastApplied = ready.apply.entries[ready.apply.entries.length - 1];
    if (lastApplied !== undefined) this.log.applying = Math.max(this.log.applying, lastApplied.index);
  }

  // ---- Views ----

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  status(): { id: NodeId; group: string; role: Role; term: number; leader: NodeId | null; commit: number; lastIndex: number; persisted: number; applied: number; membership: Membership } {
    return {
      id: this.id, group: this.group, role: this.role, term: this.term, leader: this.leader, commit: this.log.committed,
      lastIndex: this.log.lastIndex(), persisted: this.log.persisted, applied: this.appliedIndex, membership: copyMembership(this.membership),
    };
  }

  /**
   * Whether the group is idle and caught up, so a multi-Raft shell may stop
   * ticking it (quiescence, RAFT-NOTES §10): this node leads, every entry is
   * committed, applied here and durable on every follower, and no read,
   * transfer or snapshot is in flight. The core does not stop on its own:
   * the shell stops ticking the group, tells the followers to do the same,
   * and steps `wake` before it ticks the group again.
   */
  quiescable(): boolean {
    if (this.role !== 'leader' || this.transfer !== null || this.readOnly.size() > 0 || this.waitingReads.length > 0) return false;
    const last = this.log.lastIndex();
    if (this.log.committed !== last || this.log.persisted !== last || this.appliedIndex !== last) return false;
    for (const pr of this.progress.values()) if (pr.match !== last || pr.state !== 'replicate') return false;
    return true;
  }

  /** A voter of its own configuration: only such a node campaigns. */
  promotable(): boolean {
    return this.membership.voters.includes(this.id);
  }

  /** See the `wake` input: the time a quiesced group spent unticked counts for none of its timers. */
  private leaderLost(leader: NodeId): void {
    if (this.role === 'leader' || this.leader !== leader) return;
    this.leaderContactAt = null;
    const soon = this.now + this.random.int(Math.max(1, Math.floor((this.config.electionTimeoutMaxMs - this.config.electionTimeoutMinMs) / 4)));
    this.electionDeadline = Math.min(this.electionDeadline, soon);
  }

  private wake(): void {
    if (this.role === 'leader') {
      this.heartbeatDeadline = this.now;
      this.checkQuorumDeadline = this.now + this.config.electionTimeoutMinMs;
    } else {
      this.resetElectionDeadline();
    }
  }

  // ---- Transitions ----

  becomeFollower(term: number, leader: NodeId | null): void {
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    const wasLeader = this.role === 'leader';
    this.setRole('follower');
    this.setLeader(leader);
    this.votes.clear();
    if (wasLeader) dropLeaderState(this);
    this.resetElectionDeadline();
  }

  becomePreCandidate(): void {
    // Clear the known leader (etcd#8334): a pre-candidate that still believes in one refuses its peers' pre-votes.
    this.setRole('pre-candidate');
    this.setLeader(null);
    this.votes = new Map([[this.id, true]]); // a pre-vote changes no state, so it counts at once
    this.resetElectionDeadline();
  }

  becomeCandidate(): void {
    this.term++;
    this.vote = this.id;
    this.setRole('candidate');
    this.setLeader(null);
    this.votes = new Map();
    this.resetElectionDeadline();
    // Our own vote counts only once term and vote are durable: sent to ourselves after the persist.
    this.sendAfterPersist({ type: 'vote-response', group: this.group, term: this.term, from: this.id, to: this.id, reject: false });
  }

  becomeLeader(): void {
    this.setRole('leader');
    this.setLeader(this.id);
    this.progress = new Map();
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.membership.voters, ...this.membership.learners]) {
      if (id !== this.id) this.progress.set(id, new Progress(next, this.membership.learners.includes(id), this.config.maxInflightAppends, this.config.maxInflightBytes));
    }
    this.uncommittedBytes = 0;
    this.transfer = null;
    const noop: Entry = { index: next, term: this.term, kind: 'noop', data: new Uint8Array(0) };
    this.log.truncateAndAppend([noop]);
    // Membership changes wait for this entry: a leader learns what is committed only by committing in its term.
    this.pendingConfigIndex = noop.index;
    this.heartbeatDeadline = this.now + this.config.heartbeatIntervalMs;
    this.checkQuorumDeadline = this.now + this.config.electionTimeoutMinMs;
    maybeCommit(this); // a single voter commits as soon as its own write is durable
  }

  private setRole(role: Role): void {
    if (this.role === role) return;
    this.role = role;
    this.events.push({ type: 'role-changed', role, term: this.term });
  }

  setLeader(leader: NodeId | null): void {
    if (leader !== null) this.leaderContactAt = this.now;
    if (this.leader === leader) return;
    this.leader = leader;
    this.events.push({ type: 'leader-changed', leader, term: this.term });
  }

  resetElectionDeadline(): void {
    const spread = this.config.electionTimeoutMaxMs - this.config.electionTimeoutMinMs;
    this.electionDeadline = this.now + this.config.electionTimeoutMinMs + this.random.int(spread);
  }

  /** Inside the check-quorum lease: a leader was heard (or we lead) within the minimum election timeout. */
  inLease(): boolean {
    if (!this.config.checkQuorum || this.leader === null) return false;
    if (this.role === 'leader') return true;
    return this.leaderContactAt !== null && this.now < this.leaderContactAt + this.config.electionTimeoutMinMs;
  }

  // ---- Outputs ----

  emit(event: RaftEvent): void {
    this.events.push(event);
  }

  pushReadState(state: ReadState): void {
    this.readStates.push(state);
  }

  send(msg: RaftMessage): void {
    this.stats.messagesSent++;
    this.outbox.push({ to: msg.to, msg });
  }

  /**
   * Sends `msg` once everything this node has written so far is durable:
   * the replies whose content a crash could otherwise contradict (votes,
   * append and snapshot acknowledgements, thesis §3.8). Sent at once when
   * nothing is pending.
   */
  sendAfterPersist(msg: RaftMessage): void {
    const hs = this.durability.handedHardState;
    const dirty = this.log.handedOff < this.log.lastIndex() || this.term !== hs.term || this.vote !== hs.vote || this.snapshotToPersist !== null;
    const needId = this.durability.waitId(dirty);
    if (!this.durability.isDurable(needId)) this.durability.hold(needId, msg);
    else if (msg.to === this.id) this.ownVote(msg);
    else this.send(msg);
  }

  /** Installs a snapshot received from the leader (the log does not hold its point). */
  restoreSnapshot(snapshot: Snapshot): void {
    this.log.restore(snapshot.meta.index, snapshot.meta.term);
    this.snapshot = snapshot;
    this.snapshotToPersist = snapshot;
    this.compactToPersist = null;
    this.snapshotToApply = { snapshot, needId: this.durability.nextId };
    this.appliedIndex = snapshot.meta.index;
    this.snapshotDueSent = false;
    this.membership = copyMembership(snapshot.meta.membership);
    this.configIndex = snapshot.meta.index;
    this.history.reset(snapshot.meta.index, this.membership);
    this.stats.snapshotsInstalled++;
    this.emit({ type: 'membership-changed', index: snapshot.meta.index, membership: copyMembership(this.membership) });
    if (!isMember(this.membership, this.id)) this.emit({ type: 'removed', index: snapshot.meta.index });
  }

  // ---- Inputs ----

  private receive(raw: unknown): void {
    this.stats.messagesReceived++;
    const m = parseRaftMessage(raw);
    if (m === null || m.group !== this.group || m.to !== this.id || m.from === this.id) {
      this.stats.messagesDropped++;
      return;
    }
    if (m.term > this.term) {
      if ((m.type === 'request-vote' || m.type === 'request-pre-vote') && !m.transfer && this.inLease()) {
        this.stats.votesIgnoredInLease++; // §4.2.3: a removed or partitioned node cannot disrupt a live leader
        return;
      }
      if (m.type === 'request-pre-vote' || (m.type === 'pre-vote-response' && !m.reject)) {
        // A pre-vote raises no term: neither asking nor granting changes state.
      } else {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      this.stats.messagesDropped++;
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader (perhaps isolated by a partition) learns our term and steps down.
        this.send({ type: 'append-response', group: this.group, term: this.term, from: this.id, to: m.from, index: 0, reject: true, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'request-pre-vote') {
        this.sendAfterPersist({ type: 'pre-vote-response', group: this.group, term: this.term, from: this.id, to: m.from, reject: true });
      }
      return;
    }

    if (m.type === 'request-vote' || m.type === 'request-pre-vote') {
      handleVoteRequest(this, m);
      return;
    }
    if (this.role === 'leader') stepLeader(this, m);
    else if (this.role === 'follower') stepFollower(this, m);
    else stepCandidate(this, m);
  }

  private onPersisted(id: number): void {
    for (const msg of this.durability.acknowledge(id, this.log)) {
      if (msg.to === this.id) this.ownVote(msg);
      else this.send(msg);
    }
    if (this.role === 'leader') maybeCommit(this);
  }

  private ownVote(msg: RaftMessage): void {
    if (this.role !== 'candidate' || msg.term !== this.term) return;
    stepCandidate(this, msg);
  }

  /** Adopts membership changes that are committed and durable here, in log order. */
  private adoptCommittedConfig(): void {
    const limit = this.log.applyLimit();
    for (let i = Math.max(this.configIndex, this.log.offset().index) + 1; i <= limit; i++) {
      const e = this.log.entry(i)!;
      if (e.kind !== 'config' || e.change === undefined) continue;
      const wasMember = isMember(this.membership, this.id);
      this.membership = applyChange(this.membership, e.change);
      this.history.add(i, this.membership);
      this.emit({ type: 'membership-changed', index: i, membership: copyMembership(this.membership) });
      if (wasMember && !isMember(this.membership, this.id)) this.emit({ type: 'removed', index: i });
      if (this.role === 'leader') onLeaderMembership(this);
      else if (!this.promotable() && this.role !== 'follower') this.becomeFollower(this.term, null);
    }
    if (limit > this.configIndex) this.configIndex = limit;
  }

  private fireDeadlines(): void {
    if (this.role === 'leader') {
      leaderTick(this);
      return;
    }
    if (this.now >= this.electionDeadline) {
      if (this.promotable()) campaign(this, this.config.preVote ? 'pre-vote' : 'election');
      else this.resetElectionDeadline();
    }
  }

  private nextWakeAt(): number | null {
    if (this.role === 'leader') {
      let at = Math.min(this.heartbeatDeadline, this.config.checkQuorum ? this.checkQuorumDeadline : Infinity);
      if (this.transfer !== null) at = Math.min(at, this.transfer.deadline);
      return at;
    }
    return this.promotable() ? this.electionDeadline : null;
  }
}
