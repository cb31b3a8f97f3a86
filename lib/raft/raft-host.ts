/**
 * The multi-Raft host: one object per node that owns the RaftCore of every
 * group replica on the node and performs their Readys (the contract in
 * lib/protocol/raft/ready.ts) against the node's LMDB environment and the
 * transport. It is a reducer over `RaftHostMsg` (actors/raft-host-actor.ts
 * feeds it from a nact mailbox); its own continuations (the tick timer, the
 * end of a turn, a finished write) come back as messages through `post`.
 *
 * Mechanism:
 * - Turn batching. Stepping a group marks it dirty; at the end of the turn
 *   (`process`) the host takes the Ready of every dirty group, sends their
 *   messages, and writes the persists of all of them, and the applies of all
 *   of them, in ONE LMDB transaction, then waits for ONE flush (none when
 *   nothing in it must be synced: applies and commit indexes only), then steps
 *   `persisted` and `applied` for each (group commit across groups). Up to
 *   `maxWritesInFlight` batches are in flight: the next commits while the
 *   previous one's flush runs (lmdb-js overlapping sync), they complete in
 *   start order, and what arrives while all slots are taken forms the next.
 * - Apply. Each group's committed entries go to its StateMachine inside a
 *   child transaction that also records the group's applied index, so data
 *   and applied index commit together or not at all: a restart neither
 *   re-applies nor skips an entry. A state machine that throws rolls back its
 *   own group's apply and crashes the host (the supervisor rebuilds it from
 *   LMDB).
 * - Coalescing. All messages a turn produces for one peer node travel in one
 *   frame on the 'raft' channel (wire.ts), heartbeats as small tuples. One
 *   timer ticks every awake group in the same turn, so the heartbeats of all
 *   groups two nodes share leave in one frame per tick per peer.
 * - Quiescence (CockroachDB, RAFT-NOTES §10). A leader whose group is
 *   `quiescable()` for `quiesceAfterTicks` ticks, with no request pending,
 *   stops ticking it and sends each follower a heartbeat flagged quiesce; a
 *   follower that holds everything the leader committed stops ticking too.
 *   A quiesced group costs no timer and no message. It wakes (steps `wake`,
 *   ticks again) on a proposal or read at its leader, on any message other
 *   than a heartbeat response, or when membership reports its leader's node
 *   down or gone: then the followers wake and the first live voter campaigns
 *   at once, since a quiet leader's death is seen by no Raft timer.
 * - Time. `now` is monotonic ms; a tick steps at least one tick interval
 *   after the previous tick, so a timer that fires a fraction early cannot
 *   make every leader skip a heartbeat.
 */

import type { Database } from 'lmdb';
import { TroupeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Random } from '../protocol/random.js';
import { defaultRaftConfig, type RaftConfig } from '../protocol/raft/config.js';
import { NotLeaderError } from '../protocol/raft/errors.js';
import type { RaftMessage } from '../protocol/raft/messages.js';
import { RaftCore, type RaftEvent, type RaftPersist, type RaftReady } from '../protocol/raft/raft.js';
import type { Membership, MembershipChange, NodeId } from '../protocol/raft/types.js';
import { LmdbRaftStorage } from '../storage/lmdb-raft-storage.js';
import type { NodeStorage } from '../storage/node-storage.js';
import type { Transport } from '../transport/transport.js';
import { OutcomeUnknownError, UnknownGroupError, type Reply } from './requests.js';
import type { StateMachine, StateMachineFactory } from './state-machine.js';
import { decodeFrame, FrameBuilder, RAFT_CHANNEL } from './wire.js';
import { LatencyHistogram } from './latency-histogram.js';

/** Group descriptors ([ 'd', group ] → bootstrap membership) and applied indexes ([ 'a', group ] → index). */
export const RAFT_GROUPS_DB_NAME = 'troupe-raft-groups';

/** @default 2 ticks: one quiet tick to let the last commit index reach the followers, one to be sure nothing followed. */
export const DEFAULT_QUIESCE_AFTER_TICKS = 2;
/**
 * Write batches in flight at once. @default 3: the next batch commits while
 * the previous one's flush runs, so one fsync covers several batches and a
 * slow disk no longer serializes the node (batches still complete in order).
 */
export const DEFAULT_MAX_WRITES_IN_FLIGHT = 3;
/** Estimated bytes after which a peer's frame is sent within the turn: half the transport's default 8 MiB frame limit. */
export const MAX_FRAME_BYTES_ESTIMATE = 4 * 1024 * 1024;

export type MemberEventType = 'member-joining' | 'member-up' | 'member-suspect' | 'member-down' | 'member-leaving' | 'member-left' | 'member-removed';

export type RaftHostMsg =
  | { type: 'frame'; from: NodeId; address: string; payload: unknown }
  | { type: 'tick'; host: RaftHost }
  | { type: 'process'; host: RaftHost }
  | { type: 'written'; host: RaftHost; batch: BatchItem[]; error: unknown }
  | { type: 'propose'; group: string; data: Uint8Array; reply: Reply }
  | { type: 'read'; group: string; fn: (sm: StateMachine) => unknown; reply: Reply }
  | { type: 'create-group'; group: string; membership: Membership; stateMachine: StateMachine; campaign: boolean; reply: Reply<void> }
  /** One single-server membership change, settled (like a proposal) once it applies here. */
  | { type: 'change-membership'; group: string; change: MembershipChange; reply: Reply }
  /** Removes the group and all its data (log, hard state, state machine) from this node; settled once durable. */
  | { type: 'destroy-group'; group: string; reply: Reply<void> }
  | { type: 'campaign'; group: string }
  | { type: 'member-event'; event: MemberEventType; member: { name: string; address: string } }
  /** The link to a node went down: groups it leads wake and stand for election soon (`leader-lost`; membership confirms a death later). */
  | { type: 'link-down'; node: NodeId }
  /** Test hook: the handler throws, to exercise supervision. */
  | { type: 'crash' };

export interface RaftHostOptions {
  /** This node's name: its id in every group. */
  self: NodeId;
  storage: NodeStorage;
  transport: Transport;
  /** State machines of groups found in storage at open (createGroup brings its own). */
  stateMachineFor: StateMachineFactory;
  /** The address of a node, when known from membership; addresses learnt from inbound frames are used too. */
  addressOf?: (node: NodeId) => string | undefined;
  config?: Partial<RaftConfig>;
  random: Random;
  now?: () => number;
  log: Logger;
  quiesceAfterTicks?: number;
  /** @default DEFAULT_MAX_WRITES_IN_FLIGHT */
  maxWritesInFlight?: number;
  /** How the host's continuations reach its mailbox (the actor's dispatch). */
  post: (msg: RaftHostMsg) => void;
  /** Role, leader and membership changes of the groups, and their removal from a group (for the tables' control loop). Must not throw. */
  onGroupEvent?: (group: string, event: GroupEvent) => void;
  /** A group's applied index moved, durably (its state machine's writes are readable). Must not throw. */
  onGroupApplied?: (group: string, applied: number) => void;
}

/** The events of a group a host's owner may act on. */
export type GroupEvent = Extract<RaftEvent, { type: 'role-changed' | 'leader-changed' | 'membership-changed' | 'removed' }>;

export interface BatchItem {
  group: Group;
  persist: RaftPersist | null;
  apply: RaftReady['apply'];
  /** Filled in the transaction: [index, term, result] per data entry, and the applied index. */
  results?: [number, number, unknown][];
  applied?: number;
  error?: unknown;
}

interface Group {
  readonly id: string;
  readonly core: RaftCore;
  readonly storage: LmdbRaftStorage;
  readonly sm: StateMachine;
  quiesced: boolean;
  quiescableTicks: number;
  /** Applied index the state machine holds (committed). */
  applied: number;
  /** Applied index of the last write transaction that ran (batches still in flight included): where the next apply starts. */
  txnApplied: number;
  /** The core asked for a snapshot while batches in flight held applies beyond its applied index: taken once they are written. */
  snapshotDue: boolean;
  /** Proposals appended, by index: settled when that index applies. */
  readonly proposals: Map<number, { term: number; reply: Reply; startedAt: number }>;
  /** Reads with a read point, waiting for the applied index to reach it. */
  readonly reads: { index: number; fn: (sm: StateMachine) => unknown; reply: Reply }[];
}

export interface RaftHostStats {
  ticks: number;
  /** Write transactions of the host (one per batch) and the groups' persists they carried. */
  batches: number;
  /** Batches that waited for no flush (applies and commit indexes only). */
  unsyncedBatches: number;
  /** Most write batches in flight at once so far. */
  writesInFlightPeak: number;
  persists: number;
  framesSent: number;
  messagesSent: number;
  heartbeatsSent: number;
  framesReceived: number;
  malformed: number;
  unknownGroup: number;
  quiesced: number;
  woken: number;
  /** Proposals received (local or forwarded here). */
  proposals: number;
  /** Entries written to the log, over all groups (with `batches`: entries per fsync). */
  entriesPersisted: number;
  /** Leader changes seen by the groups' replicas here. */
  leaderChanges: number;
}

export class RaftHost {
  readonly stats: RaftHostStats = {
    ticks: 0, batches: 0, unsyncedBatches: 0, writesInFlightPeak: 0, persists: 0, framesSent: 0, messagesSent: 0, heartbeatsSent: 0, framesReceived: 0, malformed: 0, unknownGroup: 0, quiesced: 0, woken: 0,
    proposals: 0, entriesPersisted: 0, leaderChanges: 0,
  };
  /** Frames sent per peer node. */
  readonly framesTo = new Map<NodeId, number>();
  private readonly groups = new Map<string, Group>();
  private readonly awake = new Set<Group>();
  private readonly dirty = new Set<Group>();
  private readonly outbox = new Map<NodeId, { builder: FrameBuilder; bytes: number }>();
  private readonly requests = new Map<string, { group: Group; reply: Reply; startedAt: number; fn?: (sm: StateMachine) => unknown }>();
  /** Time from a proposal's arrival to its apply here, seconds (proposals that took effect). */
  readonly proposalLatency = new LatencyHistogram();
  /** Time from a batch's start to its commit and flush (etcd's WAL fsync duration, here for the whole batch), seconds. */
  readonly batchLatency = new LatencyHistogram();
  private readonly addresses = new Map<NodeId, string>();
  private readonly config: RaftConfig;
  private readonly maxWritesInFlight: number;
  private readonly descriptors: Database<unknown, (string | number)[]>;
  private readonly now: () => number;
  private lastNow = 0;
  private lastTickAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** Write batches started and not yet written; at most `maxWritesInFlight`. */
  private writesInFlight = 0;
  /** Settles once every batch started so far is written (their 'written' messages are posted in start order). */
  private writeTail: Promise<void> = Promise.resolve();
  private requestSeq = 0;
  private closed = false;

  constructor(private readonly opts: RaftHostOptions) {
    this.config = { ...defaultRaftConfig(), ...opts.config };
    this.maxWritesInFlight = Math.max(1, opts.maxWritesInFlight ?? DEFAULT_MAX_WRITES_IN_FLIGHT);
    this.descriptors = opts.storage.openDB(RAFT_GROUPS_DB_NAME, { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
    const clock = opts.now ?? (() => performance.now());
    this.now = () => (this.lastNow = Math.max(this.lastNow, clock()));
  }

  // ---- Groups ----

  /** Reopens every group stored on this node (at start, and after a crash). */
  openGroups(registry: ReadonlyMap<string, StateMachine> = new Map()): void {
    for (const { key, value } of this.descriptors.getRange({ start: ['d'], end: ['d', '\uffff'] })) {
      const group = key[1] as string;
      if (this.groups.has(group)) continue;
      const d = value as { membership: Membership };
      this.open(group, d.membership, registry.get(group) ?? this.opts.stateMachineFor(group));
    }
  }

  private open(id: string, membership: Membership, sm: StateMachine): Group {
    const storage = new LmdbRaftStorage(this.opts.storage, id);
    const stored = storage.load();
    const applied = (this.descriptors.get(['a', id]) as number | undefined) ?? 0;
    const core = new RaftCore(this.config, { id: this.opts.self, group: id, membership, ...stored, applied }, this.opts.random.fork(), this.now());
    const g: Group = { id, core, storage, sm, quiesced: false, quiescableTicks: 0, applied: 0, txnApplied: 0, snapshotDue: false, proposals: new Map(), reads: [] };
    g.applied = g.txnApplied = Math.max(applied, stored.snapshot?.meta.index ?? 0);
    this.groups.set(id, g);
    this.awake.add(g);
    this.dirty.add(g); // a restarted group may have committed entries to apply
    this.schedule();
    return g;
  }

  private createGroup(msg: Extract<RaftHostMsg, { type: 'create-group' }>): void {
    const existing = this.groups.get(msg.group);
    if (existing === undefined) {
      // Rare (a table or partition is created): a synchronous, flushed write keeps the descriptor ahead of any Raft state.
      this.opts.storage.root.transactionSync(() => this.descriptors.putSync(['d', msg.group], { membership: msg.membership, createdAt: Date.now() }));
      const g = this.open(msg.group, msg.membership, msg.stateMachine);
      if (msg.campaign) this.stepGroup(g, { type: 'campaign' });
    }
    msg.reply.resolve(undefined);
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /**
   * The membership the group was created with on this node (a replica added
   * later replays the log from it) and when this replica was created (wall
   * clock ms; 0 when not recorded).
   */
  bootstrap(group: string): { membership: Membership; createdAt: number } | null {
    const d = this.descriptors.get(['d', group]) as { membership: Membership; createdAt?: number } | undefined;
    return d === undefined ? null : { membership: d.membership, createdAt: d.createdAt ?? 0 };
  }

  /** Leader only: how far each peer's log matches the leader's (learners included), for promotion decisions. */
  replication(group: string): Map<NodeId, number> | null {
    const g = this.groups.get(group);
    if (g === undefined || g.core.role !== 'leader') return null;
    return new Map([...g.core.progress].map(([node, pr]) => [node, pr.match]));
  }

  /** Leader only: peers that have not answered since the last check-quorum round (about an election timeout). */
  silentPeers(group: string): Set<NodeId> | null {
    const g = this.groups.get(group);
    if (g === undefined || g.core.role !== 'leader') return null;
    return new Set([...g.core.progress].filter(([node, pr]) => node !== this.opts.self && !pr.recentActive).map(([node]) => node));
  }

  /** The state machine of a group this node holds (stale reads run on it directly). */
  stateMachine(group: string): StateMachine | null {
    return this.groups.get(group)?.sm ?? null;
  }

  private destroyGroup(msg: Extract<RaftHostMsg, { type: 'destroy-group' }>): void {
    const g = this.groups.get(msg.group);
    if (g !== undefined) this.forget(g, `raft group ${g.id} was destroyed on this node`);
    // A batch in flight may still write this group: destroy after it, so nothing of the group survives.
    const inFlight = this.writeTail;
    void inFlight.catch(() => {}).then(() => {
      try {
        this.opts.storage.root.transactionSync(() => {
          if (g !== undefined) g.storage.destroyInTransaction();
          else new LmdbRaftStorage(this.opts.storage, msg.group).destroyInTransaction();
          (g?.sm ?? this.detachedStateMachine(msg.group))?.destroyInTransaction?.();
          this.descriptors.removeSync(['d', msg.group]);
          this.descriptors.removeSync(['a', msg.group]);
        });
        msg.reply.resolve(undefined);
      } catch (err) {
        msg.reply.reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** The state machine of a group not open here (its data may remain from before a restart), or null if none can be made. */
  private detachedStateMachine(group: string): StateMachine | null {
    try {
      return this.opts.stateMachineFor(group);
    } catch {
      return null;
    }
  }

  /** Drops a group from the host: no more ticks, frames or batches; its pending requests fail. */
  private forget(g: Group, reason: string): void {
    this.groups.delete(g.id);
    this.awake.delete(g);
    this.dirty.delete(g);
    const fail = (reply: Reply, what: string): void => reply.reject(new OutcomeUnknownError(what, reason));
    for (const [id, r] of this.requests) {
      if (r.group !== g) continue;
      this.requests.delete(id);
      fail(r.reply, r.fn === undefined ? 'proposal' : 'read');
    }
    for (const p of g.proposals.values()) fail(p.reply, 'proposal');
    for (const r of g.reads) fail(r.reply, 'read');
    g.proposals.clear();
    g.reads.length = 0;
  }

  status(group: string): (ReturnType<RaftCore['status']> & { quiesced: boolean }) | null {
    const g = this.groups.get(group);
    return g === undefined ? null : { ...g.core.status(), quiesced: g.quiesced };
  }

  /** Whether the tick timer is armed (false once every group is quiescent). */
  ticking(): boolean {
    return this.timer !== undefined;
  }

  awakeGroups(): number {
    return this.awake.size;
  }

  // ---- The reducer ----

  handle(msg: RaftHostMsg): void {
    if (this.closed) {
      if ('reply' in msg) msg.reply.reject(new OutcomeUnknownError(msg.type, 'the raft host is stopped'));
      return;
    }
    switch (msg.type) {
      case 'frame':
        this.receive(msg.from, msg.address, msg.payload);
        break;
      case 'tick':
        if (msg.host === this) this.tick();
        break;
      case 'process':
        if (msg.host === this) this.process();
        break;
      case 'written':
        if (msg.host === this) this.written(msg.batch, msg.error);
        break;
      case 'propose':
      case 'read':
        this.request(msg);
        break;
      case 'create-group':
        this.createGroup(msg);
        break;
      case 'change-membership':
        this.request(msg);
        break;
      case 'destroy-group':
        this.destroyGroup(msg);
        break;
      case 'campaign': {
        const g = this.groups.get(msg.group);
        if (g !== undefined) this.wakeAnd(g, { type: 'campaign' });
        break;
      }
      case 'member-event':
        this.onMemberEvent(msg.event, msg.member);
        break;
      case 'link-down':
        for (const g of this.groups.values()) {
          if (g.core.role === 'leader' || g.core.leader !== msg.node) continue;
          this.wakeAnd(g, { type: 'leader-lost', leader: msg.node });
        }
        break;
      case 'crash':
        throw new Error('raft host crash requested (test hook)');
    }
  }

  private stepGroup(g: Group, input: Parameters<RaftCore['step']>[0]): void {
    g.core.step(input, this.now());
    this.dirty.add(g);
    this.schedule();
  }

  private wake(g: Group): void {
    if (!g.quiesced) return;
    g.quiesced = false;
    g.quiescableTicks = 0;
    this.stats.woken++;
    this.awake.add(g);
    g.core.step({ type: 'wake' }, this.now());
    this.dirty.add(g);
    this.armTimer();
  }

  private wakeAnd(g: Group, input: Parameters<RaftCore['step']>[0]): void {
    this.wake(g);
    this.stepGroup(g, input);
  }

  private quiesce(g: Group): void {
    g.quiesced = true;
    g.quiescableTicks = 0;
    this.awake.delete(g);
    this.stats.quiesced++;
  }

  // ---- Inputs ----

  private receive(from: NodeId, address: string, payload: unknown): void {
    this.stats.framesReceived++;
    this.addresses.set(from, address);
    const { messages, malformed } = decodeFrame(payload, from, this.opts.self);
    this.stats.malformed += malformed;
    for (const { msg, quiesce } of messages) {
      const g = this.groups.get(msg.group);
      if (g === undefined) {
        this.stats.unknownGroup++; // TODO(tables): a replica placed here but not created yet
        continue;
      }
      if (quiesce) {
        this.stepGroup(g, { type: 'message', msg });
        const s = g.core.status();
        // Stop ticking only when we hold everything the leader committed, under the same leader and term.
        const caughtUp = s.role === 'follower' && s.leader === msg.from && s.term === msg.term && s.commit === s.lastIndex && s.lastIndex === s.persisted;
        if (caughtUp && msg.type === 'heartbeat' && msg.commit === s.commit) this.quiesce(g);
        else this.wake(g);
      } else if (msg.type === 'heartbeat-response' && g.quiesced) {
        this.stepGroup(g, { type: 'message', msg }); // the answer to our quiesce heartbeat: no reason to wake
      } else {
        this.wakeAnd(g, { type: 'message', msg });
      }
    }
  }

  private request(msg: Extract<RaftHostMsg, { type: 'propose' | 'read' | 'change-membership' }>): void {
    if (msg.reply.settled) return;
    const g = this.groups.get(msg.group);
    if (g === undefined) return msg.reply.reject(new UnknownGroupError(msg.group));
    const requestId = `${++this.requestSeq}`;
    this.requests.set(requestId, { group: g, reply: msg.reply, startedAt: performance.now(), ...(msg.type === 'read' ? { fn: msg.fn } : {}) });
    if (msg.type === 'propose') this.stats.proposals++;
    // A quiesced follower is not woken: it refuses a proposal and forwards a read to its leader, which wakes.
    if (g.core.role === 'leader') this.wake(g);
    if (msg.type === 'propose') this.stepGroup(g, { type: 'propose', requestId, data: msg.data });
    else if (msg.type === 'change-membership') this.stepGroup(g, { type: 'change-membership', requestId, change: msg.change });
    else this.stepGroup(g, { type: 'read-index', requestId });
  }

  private onMemberEvent(event: MemberEventType, member: { name: string; address: string }): void {
    if (member.address !== '') this.addresses.set(member.name, member.address);
    if (event === 'member-up') {
      // A member back up may have restarted: quiet groups it belongs to probe it again (to catch it up, or to learn it lost its replica).
      for (const g of this.groups.values()) {
        const m = g.core.membership;
        if (g.quiesced && g.core.role === 'leader' && (m.voters.includes(member.name) || m.learners.includes(member.name))) this.wake(g);
      }
      return;
    }
    if (event !== 'member-down' && event !== 'member-left' && event !== 'member-removed') return;
    for (const g of this.groups.values()) {
      const s = g.core.status();
      if (s.role === 'leader' || s.leader !== member.name) continue;
      // A quiet group's leader is gone and no Raft timer runs to notice: wake, and let the first live voter campaign now.
      this.wake(g);
      const first = s.membership.voters.filter((v) => v !== member.name).sort()[0];
      if (first === this.opts.self) this.stepGroup(g, { type: 'campaign' });
    }
  }

  // ---- Ticks ----

  private armTimer(): void {
    if (this.timer !== undefined || this.awake.size === 0 || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.opts.post({ type: 'tick', host: this });
    }, this.config.heartbeatIntervalMs);
  }

  private tick(): void {
    this.stats.ticks++;
    const now = Math.max(this.now(), this.lastTickAt + this.config.heartbeatIntervalMs);
    this.lastNow = now;
    this.lastTickAt = now;
    const quiesceAfter = this.opts.quiesceAfterTicks ?? DEFAULT_QUIESCE_AFTER_TICKS;
    for (const g of this.awake) {
      g.core.step({ type: 'tick' }, now);
      this.dirty.add(g);
      if (g.core.role !== 'leader') continue;
      const idle = g.core.quiescable() && g.proposals.size === 0 && g.reads.length === 0 && !this.hasRequests(g);
      g.quiescableTicks = idle ? g.quiescableTicks + 1 : 0;
      if (g.quiescableTicks >= quiesceAfter) this.sendQuiesce(g);
    }
    this.process();
    this.armTimer();
  }

  private hasRequests(g: Group): boolean {
    for (const r of this.requests.values()) if (r.group === g && !r.reply.settled) return true;
    return false;
  }

  private sendQuiesce(g: Group): void {
    const s = g.core.status();
    for (const to of [...s.membership.voters, ...s.membership.learners]) {
      if (to === this.opts.self) continue;
      this.enqueue({ type: 'heartbeat', group: g.id, term: s.term, from: this.opts.self, to, commit: s.commit, context: 0 }, true);
    }
    this.quiesce(g);
  }

  // ---- Performing Readys ----

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.opts.post({ type: 'process', host: this }));
  }

  private process(): void {
    this.scheduled = false;
    if (this.writesInFlight >= this.maxWritesInFlight) return; // a write's completion processes what accumulated
    const batch: BatchItem[] = [];
    for (const g of this.dirty) {
      const rd = g.core.ready();
      g.core.advance(rd);
      for (const out of rd.messages) this.enqueue(out.msg, false);
      for (const ev of rd.events) this.onEvent(g, ev);
      for (const rs of rd.readStates) {
        const req = this.takeRequest(rs.requestId);
        if (req?.fn !== undefined) g.reads.push({ index: rs.index, fn: req.fn, reply: req.reply });
      }
      this.serveReads(g);
      if (rd.persist !== null || rd.apply.entries.length > 0 || rd.apply.snapshot !== null) batch.push({ group: g, persist: rd.persist, apply: rd.apply });
    }
    this.dirty.clear();
    this.flushOutbox();
    if (batch.length > 0) this.write(batch);
    this.armTimer();
  }

  private takeRequest(requestId: string): { group: Group; reply: Reply; startedAt: number; fn?: (sm: StateMachine) => unknown } | undefined {
    const req = this.requests.get(requestId);
    this.requests.delete(requestId);
    return req === undefined || req.reply.settled ? undefined : req;
  }

  private onEvent(g: Group, ev: RaftEvent): void {
    switch (ev.type) {
      case 'proposal-appended': {
        const req = this.takeRequest(ev.requestId);
        if (req !== undefined) g.proposals.set(ev.index, { term: ev.term, reply: req.reply, startedAt: req.startedAt });
        return;
      }
      case 'proposal-refused':
      case 'read-index-refused':
        this.takeRequest(ev.requestId)?.reply.reject(ev.error);
        return;
      case 'snapshot-due':
        this.snapshotIfSettled(g);
        return;
      case 'leader-changed':
        this.stats.leaderChanges++;
        this.opts.onGroupEvent?.(g.id, ev);
        return;
      case 'role-changed':
      case 'membership-changed':
      case 'removed':
        this.opts.onGroupEvent?.(g.id, ev);
        return;
      default:
        return;
    }
  }

  /**
   * Snapshots the state machine at the core's applied index, once no batch
   * in flight holds applies of the group beyond it (the state machine's
   * committed state is then exactly that index); until then it is due.
   */
  private snapshotIfSettled(g: Group): void {
    if (g.sm.snapshot === undefined) return;
    const applied = g.core.status().applied;
    g.snapshotDue = g.txnApplied !== applied || g.applied !== applied;
    if (!g.snapshotDue) g.core.step({ type: 'snapshot-created', index: applied, data: g.sm.snapshot() }, this.now());
  }

  /** The persists and applies of every group in this batch: one transaction, one flush. */
  private write(batch: BatchItem[]): void {
    this.stats.batches++;
    const storage = this.opts.storage;
    const committed = storage.transaction(() => {
      for (const item of batch) {
        try {
          if (item.persist !== null) {
            this.stats.persists++;
            this.stats.entriesPersisted += item.persist.entries.length;
            storage.atomically(() => item.group.storage.writeInTransaction(item.persist!));
          }
          if (item.apply.entries.length > 0 || item.apply.snapshot !== null) storage.atomically(() => this.applyInTransaction(item));
        } catch (err) {
          item.error = err; // rolled back with its child transaction; the host crashes once the batch is done
        }
      }
    });
    // A batch that only applies entries (and moves commit indexes) need not wait for the disk: what it applies is
    // already durable in the log, and a crash before the sync re-applies it (data and applied index commit together).
    // LMDB commits reach the disk in order, so a later synced batch covers this one.
    const mustSync = batch.some((item) => item.persist?.mustSync === true);
    if (!mustSync) this.stats.unsyncedBatches++;
    const startedAt = performance.now();
    this.writesInFlight++;
    this.stats.writesInFlightPeak = Math.max(this.stats.writesInFlightPeak, this.writesInFlight);
    const done = committed
      .then(() => (mustSync ? storage.flushed() : undefined))
      .then(() => this.batchLatency.observe((performance.now() - startedAt) / 1000));
    done.catch(() => {}); // observed below, after the batches before it
    // Batches are written in start order: LMDB commits and flushes in that order, and the cores hear it in that order.
    this.writeTail = this.writeTail.then(() => done).then(
      () => this.opts.post({ type: 'written', host: this, batch, error: null }),
      (error: unknown) => this.opts.post({ type: 'written', host: this, batch, error }),
    );
  }

  private applyInTransaction(item: BatchItem): void {
    const { group: g, apply } = item;
    const results: [number, number, unknown][] = [];
    let applied = g.txnApplied;
    if (apply.snapshot !== null) {
      if (g.sm.restore === undefined) throw new TroupeError('ERR_INTERNAL', `raft group ${g.id} received a snapshot, but its state machine cannot restore one`);
      g.sm.restore(apply.snapshot.data, apply.snapshot.meta.index);
      applied = apply.snapshot.meta.index;
    }
    for (const e of apply.entries) {
      if (e.index <= applied) continue;
      results.push([e.index, e.term, e.kind === 'data' ? g.sm.apply(e) : undefined]);
      applied = e.index;
    }
    this.descriptors.putSync(['a', g.id], applied);
    g.txnApplied = applied;
    item.results = results;
    item.applied = applied;
  }

  private written(batch: BatchItem[], error: unknown): void {
    this.writesInFlight--;
    if (error !== null) throw error; // the environment failed: crash, to be rebuilt from what is durable
    const failed = batch.find((item) => item.error !== undefined);
    if (failed !== undefined) throw failed.error;
    const now = this.now();
    for (const item of batch) {
      const g = item.group;
      if (this.groups.get(g.id) !== g) continue;
      if (item.persist !== null) g.core.step({ type: 'persisted', id: item.persist.id }, now);
      if (item.applied !== undefined) {
        g.applied = item.applied;
        for (const [index, term, result] of item.results ?? []) {
          const p = g.proposals.get(index);
          if (p === undefined) continue;
          g.proposals.delete(index);
          // The proposal took effect iff the entry applied at its index has its term.
          if (p.term === term) {
            p.reply.resolve(result);
            this.proposalLatency.observe((performance.now() - p.startedAt) / 1000);
          }
          else p.reply.reject(new NotLeaderError(g.id, g.core.leader, g.core.term));
        }
        g.core.step({ type: 'applied', index: item.applied }, now);
        if (g.snapshotDue) this.snapshotIfSettled(g);
        this.serveReads(g);
        this.opts.onGroupApplied?.(g.id, item.applied);
      }
      this.dirty.add(g);
    }
    this.process();
  }

  private serveReads(g: Group): void {
    if (g.reads.length === 0) return;
    const waiting = g.reads.splice(0);
    for (const r of waiting) {
      if (r.reply.settled) continue;
      if (r.index > g.applied) {
        g.reads.push(r);
        continue;
      }
      try {
        r.reply.resolve(r.fn(g.sm));
      } catch (err) {
        r.reply.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  // ---- Sending ----

  private enqueue(msg: RaftMessage, quiesce: boolean): void {
    // A heartbeat of a group quiesced in this turn must not undo the quiesce heartbeat that precedes it in the frame.
    if (msg.type === 'heartbeat' && this.groups.get(msg.group)?.quiesced === true) quiesce = true;
    let out = this.outbox.get(msg.to);
    if (out === undefined) {
      out = { builder: new FrameBuilder(), bytes: 0 };
      this.outbox.set(msg.to, out);
    }
    out.builder.add(msg, quiesce);
    this.stats.messagesSent++;
    if (msg.type === 'heartbeat') this.stats.heartbeatsSent++;
    out.bytes += 64 + (msg.type === 'append' ? msg.entries.reduce((n, e) => n + e.data.byteLength + 32, 0) : msg.type === 'snapshot' ? msg.chunk.byteLength : 0);
    if (out.bytes >= MAX_FRAME_BYTES_ESTIMATE) this.sendFrame(msg.to);
  }

  private flushOutbox(): void {
    for (const to of [...this.outbox.keys()]) this.sendFrame(to);
  }

  private sendFrame(to: NodeId): void {
    const out = this.outbox.get(to);
    this.outbox.delete(to);
    if (out === undefined) return;
    const address = this.opts.addressOf?.(to) ?? this.addresses.get(to);
    if (address === undefined) return; // unknown node: Raft retries once membership tells us where it is
    this.stats.framesSent++;
    this.framesTo.set(to, (this.framesTo.get(to) ?? 0) + 1);
    this.opts.transport.send(address, RAFT_CHANNEL, out.builder.frame());
  }

  // ---- Shutdown ----

  /**
   * Stops the timer and fails every pending request (a proposal's outcome is
   * unknown). Resolves once the write in flight, if any, has finished, so
   * the environment can be closed after it. Idempotent.
   */
  async close(reason = 'the raft host stopped', cause?: unknown): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      const fail = (reply: Reply, what: string): void => reply.reject(new OutcomeUnknownError(what, reason, cause === undefined ? {} : { cause }));
      for (const r of this.requests.values()) fail(r.reply, r.fn === undefined ? 'proposal' : 'read');
      this.requests.clear();
      for (const g of this.groups.values()) {
        for (const p of g.proposals.values()) fail(p.reply, 'proposal');
        for (const r of g.reads) fail(r.reply, 'read');
      }
    }
    await this.writeTail;
    for (const g of this.groups.values()) await g.storage.close();
  }
}
