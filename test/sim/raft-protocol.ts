/**
 * One Raft group's member on a simulated node, as a SimProtocol: a RaftCore,
 * its MemoryRaftStorage and a KvMachine, with a shell that performs each
 * Ready by the contract of lib/protocol/raft/ready.ts:
 *
 *   persist   written to storage at once, durable only when the node's disk
 *             finishes it (a seeded delay; writes finish in order, one disk
 *             per node shared by its groups); then `persisted` is stepped.
 *             A crash before that loses the write (storage.crash()).
 *   messages  sent through the network at once (the core holds back what
 *             depends on unpersisted state).
 *   apply     a snapshot restores the machine, entries are applied in
 *             order; `applied` is stepped; the machine and its applied
 *             index survive a crash together.
 *   reads     a read state is answered once applied ≥ its index.
 *   events    proposal outcomes answer clients; snapshot-due makes the
 *             shell serialize the machine and step snapshot-created.
 *
 * Client requests arrive through `request()`. A write is answered when the
 * entry at its (index, term) is applied, or refused when another entry is
 * applied at that index (then it definitely did not happen). Nothing is
 * answered on a crash: the client's deadline makes that outcome unknown.
 *
 * `ShellFault` breaks the shell on purpose, to show that the checker
 * catches a broken system: 'ack-before-commit' acknowledges a put as soon
 * as it is appended to the leader's log; 'local-reads' answers a get from
 * the local machine at once, on any node, without ReadIndex;
 * 'ack-before-persist' steps `persisted` as soon as a write is issued, so
 * votes and acknowledgements leave before the fsync a crash may undo.
 */

import type { Random } from '../../lib/protocol/random.js';
import type { RaftConfig } from '../../lib/protocol/raft/config.js';
import type { RaftMessage } from '../../lib/protocol/raft/messages.js';
import { RaftCore } from '../../lib/protocol/raft/raft.js';
import type { RaftEvent, RaftReady } from '../../lib/protocol/raft/ready.js';
import type { Entry, Membership } from '../../lib/protocol/raft/types.js';
import { MemoryRaftStorage } from '../../lib/storage/memory-raft-storage.js';
import type { SimPort, SimProtocol } from './host.js';
import { decodeCommand, encodeCommand, KvMachine, type KvCommand } from './kv-machine.js';
import type { KvInput, KvOutput } from './linearizability.js';

export type ShellFault = 'none' | 'ack-before-commit' | 'local-reads' | 'ack-before-persist';

export type KvReply =
  | { kind: 'ok'; output: KvOutput }
  /** Definitely not performed (not the leader, refused, or overwritten in the log); `leaderHint` names who leads, if known. */
  | { kind: 'refused'; leaderHint: string | null };

/**
 * A node's disk, shared by its groups, with group commit: one fsync at a
 * time, each taking a seeded delay; a write issued while an fsync runs
 * waits for the next one, which covers every write issued before it
 * starts. So writes complete in order, and a busy node pays one fsync per
 * batch rather than per write (TiKV's raft-engine, one LMDB commit).
 */
export class SimDisk {
  private busyUntil = 0;
  /** The fsync not yet started (writes issued now join it): [start, end]. */
  private next: { start: number; end: number } | null = null;
  constructor(private readonly random: Random, private readonly minMs: number, private readonly maxMs: number) {}

  /** When a write issued at `now` becomes durable. */
  completion(now: number): number {
    if (this.next !== null && this.next.start >= now) return this.next.end;
    const start = Math.max(this.busyUntil, now);
    this.busyUntil = start + this.minMs + this.random.int(this.maxMs - this.minMs + 1);
    this.next = { start, end: this.busyUntil };
    return this.busyUntil;
  }

  /** A crash: the queue of the old process is gone. */
  reset(): void {
    this.busyUntil = 0;
    this.next = null;
  }
}

/**
 * Checked after every Raft step, across all members of all groups:
 * at most one leader per term; an index committed anywhere keeps its term
 * (so its entry, by log matching); every node applies the same entry at
 * each index.
 */
export class RaftInvariants {
  private readonly leaders = new Map<string, string>();
  private readonly committed = new Map<string, number>();
  private readonly applied = new Map<string, string>();
  checks = 0;

  afterStep(core: RaftCore, from: number): string | null {
    this.checks++;
    if (core.role === 'leader') {
      const key = `${core.group}/${core.term}`;
      const prior = this.leaders.get(key);
      if (prior !== undefined && prior !== core.id) return `two leaders in ${core.group} term ${core.term}: ${prior} and ${core.id}`;
      this.leaders.set(key, core.id);
    }
    for (let i = Math.max(from, core.log.firstIndex()); i <= core.log.committed; i++) {
      const term = core.log.term(i);
      if (term === undefined) continue;
      const key = `${core.group}/${i}`;
      const known = this.committed.get(key);
      if (known !== undefined && known !== term) return `committed entry ${core.group}[${i}] changed term: ${known} then ${term} on ${core.id}`;
      this.committed.set(key, term);
    }
    return null;
  }

  onApply(group: string, node: string, entry: Entry): string | null {
    const key = `${group}/${entry.index}`;
    const what = `${entry.term}:${entry.kind}:${new TextDecoder().decode(entry.data)}`;
    const known = this.applied.get(key);
    if (known !== undefined && known !== what) return `${node} applied ${group}[${entry.index}] as ${what}, another node as ${known}`;
    this.applied.set(key, what);
    return null;
  }
}

export interface RaftMemberOptions {
  group: string;
  membership: Membership;
  config: RaftConfig;
  disk: SimDisk;
  random: () => Random;
  /** Address of a node id (Raft names nodes; the network routes addresses). */
  addressOf: (id: string) => string;
  invariants: RaftInvariants;
  fault: ShellFault;
  /** Delay before a reply reaches the client (lost if the node crashes first). */
  replyDelayMs: () => number;
  /**
   * Batch client requests: step each into the core at once but perform the
   * Ready once per millisecond, so the requests of that window share one
   * append and one disk write (what a shell does per event-loop turn).
   */
  batch: boolean;
}

interface PendingWrite {
  command: KvCommand;
  reply: (r: KvReply) => void;
  index?: number;
  term?: number;
}

export class RaftKvMember implements SimProtocol {
  readonly channel: string;
  core: RaftCore | null = null;
  readonly storage: MemoryRaftStorage;
  /** The state machine with its applied index: durable as a unit. */
  readonly kv = new KvMachine();
  private readonly writes = new Map<string, PendingWrite>();
  private readonly writeAt = new Map<number, string>();
  private readonly reads = new Map<string, { key: string; reply: (r: KvReply) => void }>();
  private readReady: { requestId: string; index: number }[] = [];
  private requests = 0;
  private batchDue = false;
  /** Committed index already checked by the invariants, per life. */
  private checkedCommit = 0;
  readonly stats = { proposals: 0, applied: 0, snapshotsCreated: 0, snapshotsRestored: 0, readsServed: 0 };

  constructor(readonly port: SimPort, private readonly options: RaftMemberOptions) {
    this.channel = `raft/${options.group}`;
    this.storage = new MemoryRaftStorage(options.group, { autoSync: false });
  }

  get id(): string {
    return this.port.node.name;
  }

  start(now: number): void {
    const stored = this.storage.load();
    // The stored snapshot may be newer than the machine if the node crashed between making it durable and applying it.
    if (stored.snapshot !== null && stored.snapshot.meta.index > this.kv.applied) {
      this.kv.restore(stored.snapshot.meta.index, stored.snapshot.data);
      this.stats.snapshotsRestored++;
    }
    this.core = new RaftCore(this.options.config, {
      id: this.id, group: this.options.group, membership: this.options.membership, hardState: stored.hardState, offset: stored.offset,
      entries: stored.entries, snapshot: stored.snapshot, applied: this.kv.applied,
    }, this.options.random(), now);
    this.checkedCommit = 0;
    this.drain(now, `start applied=${this.kv.applied} last=${this.core.log.lastIndex()} term=${this.core.term}`);
  }

  crash(): void {
    this.storage.crash();
    this.options.disk.reset();
    this.core = null;
    this.writes.clear();
    this.writeAt.clear();
    this.reads.clear();
    this.readReady = [];
    this.batchDue = false;
  }

  deliver(_from: string, msg: unknown, now: number): void {
    if (this.core === null) return;
    this.core.step({ type: 'message', msg: msg as RaftMessage }, now);
    this.drain(now, `${this.describe(msg)}<${(msg as RaftMessage).from}`);
  }

  tick(now: number): void {
    if (this.core === null) return;
    this.core.step({ type: 'tick' }, now);
    this.drain(now, 'tick');
  }

  describe(msg: unknown): string {
    const m = msg as RaftMessage;
    switch (m.type) {
      case 'append':
        return `append@${m.term}(${m.prevIndex}/${m.prevTerm}+${m.entries.length},c${m.commit})`;
      case 'append-response':
        return `append-response@${m.term}(${m.reject ? 'reject ' : ''}${m.index})`;
      case 'snapshot':
        return `snapshot@${m.term}(${m.meta.index},${m.offset}/${m.total})`;
      default:
        return `${m.type}@${m.term}`;
    }
  }

  /** A client's operation arrives at this node. */
  request(input: KvInput, reply: (r: KvReply) => void, now: number): void {
    const core = this.core!;
    const requestId = `${this.id}.${++this.requests}`;
    const answer = (r: KvReply) => this.port.later(now + this.options.replyDelayMs(), () => reply(r));
    if (input.op === 'get') {
      if (this.options.fault === 'local-reads') {
        answer({ kind: 'ok', output: { value: this.kv.get(input.key) } });
        return;
      }
      this.reads.set(requestId, { key: input.key, reply: (r) => this.port.later(this.nowOf() + this.options.replyDelayMs(), () => reply(r)) });
      core.step({ type: 'read-index', requestId }, now);
    } else {
      const command: KvCommand = { ...input, id: requestId };
      this.writes.set(requestId, { command, reply: (r) => this.port.later(this.nowOf() + this.options.replyDelayMs(), () => reply(r)) });
      this.stats.proposals++;
      core.step({ type: 'propose', requestId, data: encodeCommand(command) }, now);
    }
    if (!this.options.batch) {
      this.drain(now, `request ${requestId} ${input.op} ${input.key}`);
      return;
    }
    this.port.trace(`${this.options.group} request ${requestId} ${input.op} ${input.key} (batched)`);
    if (this.batchDue) return;
    this.batchDue = true;
    this.port.later(now + 1, () => {
      this.batchDue = false;
      if (this.core !== null) this.drain(this.core.now, 'batch');
    });
  }

  private nowOf(): number {
    return this.core?.now ?? 0;
  }

  /** Performs Readys until the core has nothing more to say. */
  private drain(now: number, what: string): void {
    const core = this.core!;
    let line = `${this.options.group} ${what} ->`;
    for (let guard = 0; ; guard++) {
      if (guard > 10_000) this.port.fail(`${this.id}/${this.options.group} never settled`);
      const rd = core.ready();
      if (isEmpty(rd)) {
        this.port.wakeAt(rd.nextWakeAt);
        line += ` wake=${rd.nextWakeAt}`;
        break;
      }
      if (rd.persist !== null) {
        const p = rd.persist;
        this.storage.write(p).catch(() => undefined); // a crash rejects it; the restart reads what is durable
        const id = p.id;
        this.port.later(this.options.disk.completion(now), () => this.persisted(id));
        line += ` persist#${id}(${p.entries.length}${p.snapshot ? ',snap' + p.snapshot.meta.index : ''}${p.hardState ? `,hs${p.hardState.term}/${p.hardState.vote}/${p.hardState.commit}` : ''})`;
      }
      for (const out of rd.messages) {
        line += ` ${this.describe(out.msg)}>${out.to}`;
        this.port.send(this.options.addressOf(out.to), out.msg);
      }
      if (rd.apply.snapshot !== null) {
        this.kv.restore(rd.apply.snapshot.meta.index, rd.apply.snapshot.data);
        this.stats.snapshotsRestored++;
        line += ` restore${rd.apply.snapshot.meta.index}`;
        // Writes whose index the snapshot skipped stay unanswered: their outcome is unknown here.
        for (const index of [...this.writeAt.keys()]) if (index <= this.kv.applied) this.writeAt.delete(index);
      }
      for (const e of rd.apply.entries) this.applyEntry(e);
      if (rd.apply.entries.length > 0) line += ` apply${rd.apply.entries[0]!.index}..${this.kv.applied}`;
      for (const rs of rd.readStates) this.readReady.push(rs);
      const snapshotDue = this.onEvents(rd.events);
      for (const e of rd.events) line += ` ${e.type}${'role' in e ? ':' + e.role : ''}${'term' in e ? '@' + e.term : ''}`;
      core.advance(rd);
      if (rd.persist !== null && this.options.fault === 'ack-before-persist') core.step({ type: 'persisted', id: rd.persist.id }, now);
      if (rd.apply.entries.length > 0 || rd.apply.snapshot !== null) core.step({ type: 'applied', index: this.kv.applied }, now);
      if (snapshotDue) {
        this.stats.snapshotsCreated++;
        core.step({ type: 'snapshot-created', index: this.kv.applied, data: this.kv.serialize() }, now);
      }
      this.serveReads();
    }
    this.port.trace(line);
    const broken = this.options.invariants.afterStep(core, this.checkedCommit + 1);
    if (broken !== null) this.port.fail(`raft invariant broken at t=${now}: ${broken}`);
    this.checkedCommit = core.log.committed;
  }

  private persisted(id: number): void {
    if (this.core === null) return;
    this.storage.sync();
    this.core.step({ type: 'persisted', id }, this.core.now);
    this.drain(this.core.now, `persisted#${id}`);
  }

  private applyEntry(e: Entry): void {
    const command = e.kind === 'data' ? decodeCommand(e.data) : null;
    if (e.index !== this.kv.applied + 1) this.port.fail(`${this.id}/${this.options.group} was handed entry ${e.index} to apply after ${this.kv.applied}`);
    const output = this.kv.apply(e.index, command);
    this.stats.applied++;
    const broken = this.options.invariants.onApply(this.options.group, this.id, e);
    if (broken !== null) this.port.fail(`raft invariant broken: ${broken}`);
    const requestId = this.writeAt.get(e.index);
    if (requestId === undefined) return;
    this.writeAt.delete(e.index);
    const w = this.writes.get(requestId);
    if (w === undefined) return;
    this.writes.delete(requestId);
    if (w.term !== e.term) {
      w.reply({ kind: 'refused', leaderHint: this.core?.leader ?? null }); // another entry took its index: it never happens
      return;
    }
    if (command?.id !== requestId) this.port.fail(`${this.id} applied ${this.options.group}[${e.index}]@${e.term} as ${command?.id}, but ${requestId} was appended there in that term`);
    w.reply({ kind: 'ok', output: output! });
  }

  /** Handles client-facing events; returns whether a snapshot is due. */
  private onEvents(events: RaftEvent[]): boolean {
    let snapshotDue = false;
    for (const e of events) {
      switch (e.type) {
        case 'proposal-appended': {
          const w = this.writes.get(e.requestId);
          if (w === undefined) break;
          if (this.options.fault === 'ack-before-commit' && w.command.op === 'put') {
            this.writes.delete(e.requestId);
            w.reply({ kind: 'ok', output: { ok: true } });
            break;
          }
          w.index = e.index;
          w.term = e.term;
          this.writeAt.set(e.index, e.requestId);
          break;
        }
        case 'proposal-refused': {
          const w = this.writes.get(e.requestId);
          if (w === undefined) break;
          this.writes.delete(e.requestId);
          w.reply({ kind: 'refused', leaderHint: 'leaderHint' in e.error ? e.error.leaderHint : null });
          break;
        }
        case 'read-index-refused': {
          const r = this.reads.get(e.requestId);
          if (r === undefined) break;
          this.reads.delete(e.requestId);
          r.reply({ kind: 'refused', leaderHint: 'leaderHint' in e.error ? e.error.leaderHint : null });
          break;
        }
        case 'snapshot-due':
          snapshotDue = true;
          break;
        default:
          break;
      }
    }
    return snapshotDue;
  }

  private serveReads(): void {
    if (this.readReady.length === 0) return;
    const waiting: { requestId: string; index: number }[] = [];
    for (const rs of this.readReady) {
      if (rs.index > this.kv.applied) {
        waiting.push(rs);
        continue;
      }
      const r = this.reads.get(rs.requestId);
      if (r === undefined) continue;
      this.reads.delete(rs.requestId);
      this.stats.readsServed++;
      r.reply({ kind: 'ok', output: { value: this.kv.get(r.key) } });
    }
    this.readReady = waiting;
  }
}

function isEmpty(rd: RaftReady): boolean {
  return rd.messages.length === 0 && rd.events.length === 0 && rd.readStates.length === 0 && rd.persist === null &&
    rd.apply.snapshot === null && rd.apply.entries.length === 0;
}
