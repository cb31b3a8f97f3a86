/**
 * The SWIM membership core: who is in the cluster and in which state, as a
 * deterministic state machine (step / ready / advance, see ../ready.ts).
 *
 * Mechanism (SWIM, with memberlist's and Lifeguard's refinements):
 *
 * - Records (record.ts) are merged by precedence, a join-semilattice keyed
 *   by name. A record about ourselves that outranks our own is false by
 *   definition (only we raise our incarnation): we refute it by taking its
 *   incarnation + 1 and gossiping our record (SWIM §4.2). Records and
 *   messages of an older generation than known are dropped.
 * - Probing (probe.ts): every period one target; a ping, then after
 *   probeTimeoutMs k ping-reqs through random members and a second direct
 *   ping; no ack by the end of the period makes the target suspect. A
 *   suspect that does not refute by its local deadline (suspicion.ts,
 *   extended by the lag it last reported) is declared down.
 * - Dissemination: every record change is queued (gossip-queue.ts) and
 *   piggybacked on pings, acks and ping-reqs, and sent in gossip rounds to
 *   random live and recently down members. Push-pull syncs exchange full
 *   state on join, a few periods after joining, and every
 *   pushPullIntervalMs with one up and one down member.
 * - A node that hears from a member it believes suspect or down tells it
 *   so directly, so a wrongly accused node refutes without waiting for gossip.
 * - Stalls of our own event loop give our probes their time back
 *   (suspicion.ts), so a node that wakes late suspects nobody by mistake.
 * - Lifecycle of self: joining → up (first sync reply, no seeds, or
 *   joinTimeoutMs) → leaving (leave) → left (one gossip round later, sent
 *   directly to every live member, then leave-complete). A left core is
 *   inert: it answers nothing and asks for no wake-up.
 *
 * Each step handles its input first, then every deadline due at `now`.
 *
 * Invariants: our own record is never suspect or down in our view; a
 * removed (name, generation) never comes back; one event per observable
 * change of a member (state or generation), none for a re-merge.
 */

import { ConfigError } from '../../errors.js';
import type { ProtocolCore, Outbound, Ready } from '../ready.js';
import type { Random } from '../random.js';
import { validateSwimConfig, retransmitLimit, type SwimConfig } from './config.js';
import { GossipQueue } from './gossip-queue.js';
import { parseSwimMessage, type SwimMessage } from './messages.js';
import { nextSlot, pickRandom, Prober } from './probe.js';
import { memberView, MemberTable, type Member } from './member-table.js';
import { compareRecords, copyRecord, isLive, type MemberRecord, type MemberState } from './record.js';
import { floorDeadline, stallGrace, stallMs } from './suspicion.js';
import type { MemberEventType, MemberView, MembershipEvent, MembershipInput, MembershipStats } from './types.js';

export type { MemberState, MemberView, MembershipEvent, MembershipInput, MembershipStats, MemberEventType } from './types.js';
export type { SwimMessage } from './messages.js';
export type { SwimConfig } from './config.js';

/** Probe periods after joining at which the catch-up push-pull runs. */
const JOIN_CATCH_UP_PERIODS = 3;

const EVENT_OF: Readonly<Record<MemberState, MemberEventType>> = {
  joining: 'member-joining',
  up: 'member-up',
  suspect: 'member-suspect',
  down: 'member-down',
  leaving: 'member-leaving',
  left: 'member-left',
};

export class Membership implements ProtocolCore<MembershipInput, SwimMessage, MembershipEvent> {
  private readonly config: SwimConfig;
  private readonly random: Random;
  private me: MemberRecord;
  private selfLagMs = 0;
  private readonly table: MemberTable;
  private readonly queue = new GossipQueue();
  private readonly prober: Prober;
  private nextGossipAt: number;
  private nextPushPullAt: number;
  private joinDeadline: number | null;
  private leaveAt: number | null = null;
  private seeds: string[] = [];
  private removedNoticeSent = false;
  private outbox: Outbound<SwimMessage>[] = [];
  private events: MembershipEvent[] = [];
  private lastNow: number;
  private armedWakeAt: number | null = null;
  private readonly counters: MembershipStats = {
    probesSent: 0, probesFailed: 0, indirectProbesSent: 0, suspicionsRaised: 0, suspicionsRefuted: 0,
    messagesSent: 0, messagesReceived: 0, messagesDropped: 0, gossipSent: 0, syncsSent: 0,
  };

  constructor(config: SwimConfig, self: { name: string; address: string; generation: number }, random: Random, now: number) {
    const problem = validateSwimConfig(config);
    if (problem !== null) throw new ConfigError(`SwimConfig.${problem.field}`, config[problem.field], problem.rule); // a caller bug, not remote input
    this.config = { ...config };
    this.table = new MemberTable(config.suspicionTimeoutMs);
    this.random = random;
    this.me = { name: self.name, address: self.address, generation: self.generation, incarnation: 0, state: 'joining' };
    this.lastNow = now;
    this.prober = new Prober(config, random, now, this.counters, {
      live: () => this.table.live(),
      liveRecord: (name) => this.table.liveRecord(name),
      sendPing: (to, seq, target) => this.send(to, { type: 'ping', from: this.me, seq, target, gossip: this.piggyback() }),
      sendPingReq: (to, seq, target, targetAddress) => this.send(to, { type: 'ping-req', from: this.me, seq, target, targetAddress, gossip: this.piggyback() }),
      sendAck: (to, seq, about, lagMs) => this.send(to, { type: 'ack', from: this.me, seq, about, lagMs, gossip: this.piggyback() }),
      probeFailed: (target, generation, at) => this.suspect(target, generation, at),
    });
    // A random phase keeps nodes started together from gossiping in lockstep.
    this.nextGossipAt = now + random.int(config.gossipIntervalMs);
    this.nextPushPullAt = now + config.pushPullIntervalMs;
    this.joinDeadline = now + config.joinTimeoutMs;
  }

  step(input: MembershipInput, now: number): void {
    if (!(now >= this.lastNow)) now = this.lastNow; // monotonic time never goes back (and NaN is ignored)
    const stall = stallMs(now, this.armedWakeAt, this.config.lagToleranceMs);
    if (stall > 0) this.afterStall(now, stall);
    if (this.armedWakeAt !== null && now >= this.armedWakeAt) this.armedWakeAt = null; // that wake is consumed
    this.lastNow = now;
    switch (input?.type) {
      case 'tick':
        break;
      case 'message':
        this.receive(input.from, input.msg, now);
        break;
      case 'join':
        this.join(input.addresses, now);
        break;
      case 'leave':
        this.leave(now);
        break;
      case 'remove':
        this.remove(input.name, now);
        break;
      case 'local-lag':
        if (typeof input.lagMs === 'number' && Number.isFinite(input.lagMs) && input.lagMs >= 0) this.selfLagMs = Math.round(input.lagMs);
        else this.reject('local-lag', 'lagMs must be a finite number >= 0');
        break;
      case 'link-down':
        this.linkDown(input.address, now);
        break;
      default:
        this.reject(String((input as { type?: unknown } | null)?.type), 'unknown input type');
    }
    this.runTimers(now);
  }

  ready(): Ready<SwimMessage, MembershipEvent> {
    const wake = this.nextWakeAt();
    this.armedWakeAt = wake;
    return { messages: this.outbox.slice(), events: this.events.slice(), nextWakeAt: wake };
  }

  advance(ready: Ready<SwimMessage, MembershipEvent>): void {
    this.outbox.splice(0, ready.messages.length);
    this.events.splice(0, ready.events.length);
  }

  members(now: number): MemberView[] {
    const out: MemberView[] = [this.self()];
    for (const m of this.table.values()) {
      if (m.record.state !== 'removed') out.push(memberView(m, now));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  self(): MemberView {
    const { name, address, generation, incarnation, state } = this.me;
    return { name, address, generation, incarnation, state: state as MemberState, lastHeardAgoMs: null, lagMs: this.selfLagMs };
  }

  stats(): MembershipStats {
    return { ...this.counters };
  }

  // ---- inputs -------------------------------------------------------------

  private join(addresses: unknown, now: number): void {
    if (this.me.state === 'left' || this.me.state === 'leaving') return this.reject('join', `this node is ${this.me.state}; restart it (a new generation) to join again`);
    if (!Array.isArray(addresses)) return this.reject('join', 'addresses must be an array of strings');
    const seeds = [...new Set(addresses.filter((a): a is string => typeof a === 'string' && a.length > 0 && a !== this.me.address))];
    if (seeds.length === 0) {
      if (this.me.state === 'joining' && this.seeds.length === 0) this.becomeUp(now);
      return;
    }
    // Seeds accumulate and the join deadline stays where start-up put it: retried
    // seeds must not postpone a lone node's move to up.
    this.seeds = [...new Set([...this.seeds, ...seeds])];
    for (const address of seeds) this.sendSync('sync', address);
  }

  /**
   * A dropped link is how a crashed process usually shows first (its socket is
   * reset at once), but a busy node keeps its sockets and a partition drops
   * nothing, so this only moves the member to the front of the probe order:
   * the verdict still comes from a probe and the full suspicion timeout.
   */
  private linkDown(address: unknown, now: number): void {
    if (typeof address !== 'string') return this.reject('link-down', 'address must be a string');
    for (const m of this.table.values()) {
      if (m.record.address === address && m.record.name !== this.me.name && this.table.liveRecord(m.record.name) !== undefined) {
        this.prober.expedite(m.record.name, now);
        return;
      }
    }
  }

  private leave(now: number): void {
    if (this.me.state === 'leaving' || this.me.state === 'left') return this.reject('leave', `this node is already ${this.me.state}`);
    this.me = { ...this.me, state: 'leaving', incarnation: this.me.incarnation + 1 };
    this.queue.enqueue(this.me);
    this.joinDeadline = null;
    // One gossip round lets members see `leaving` before `left`.
    this.leaveAt = now + this.config.gossipIntervalMs;
  }

  private remove(name: unknown, now: number): void {
    if (typeof name !== 'string') return this.reject('remove', 'name must be a string');
    if (name === this.me.name) return this.reject('remove', 'cannot remove this node itself; use leave');
    const m = this.table.get(name);
    if (m === undefined || m.record.state === 'removed') return this.reject('remove', `no member named ${JSON.stringify(name)}`);
    if (m.record.state !== 'down' && m.record.state !== 'left') {
      return this.reject('remove', `member ${JSON.stringify(name)} is ${m.record.state}; only down or left members can be removed`);
    }
    this.apply({ ...m.record, state: 'removed' }, now);
  }

  private reject(input: string, reason: string): void {
    this.events.push({ type: 'rejected', input, reason });
  }

  // ---- messages -----------------------------------------------------------

  private receive(link: unknown, raw: unknown, now: number): void {
    this.counters.messagesReceived++;
    const msg = parseSwimMessage(raw);
    if (msg === null || typeof link !== 'string' || link.length === 0) {
      this.counters.messagesDropped++;
      return;
    }
    if (this.me.state === 'left') return; // gone: we answer nothing and believe nothing
    const from = msg.from;
    if (from.name === this.me.name) {
      this.applySelf(from, now);
      if (from.generation !== this.me.generation) this.counters.messagesDropped++;
      return; // our own message looped back (e.g. a seed list naming us under another address)
    }
    const known = this.table.get(from.name);
    if (known !== undefined && (known.record.generation > from.generation || (known.record.state === 'removed' && known.record.generation === from.generation))) {
      this.counters.messagesDropped++; // an older process of that name, or one removed for good
      return;
    }
    this.apply(from, now);
    const sender = this.table.get(from.name)!;
    sender.lastHeardAt = now;
    const records = msg.type === 'sync' || msg.type === 'sync-reply' ? msg.members : msg.gossip;
    for (const r of records) this.apply(r, now);
    this.accuseIfNeeded(sender, from, link, now);

    switch (msg.type) {
      case 'ping':
        if (msg.target !== this.me.name) {
          this.counters.messagesDropped++; // meant for another node at this address
          return;
        }
        this.send(link, { type: 'ack', from: this.me, seq: msg.seq, about: this.me.name, lagMs: this.selfLagMs, gossip: this.piggyback() });
        return;
      case 'ack': {
        const about = this.table.get(msg.about);
        if (about !== undefined) about.lagMs = msg.lagMs;
        if (!this.prober.onAck(msg.seq, msg.about, msg.lagMs, now)) this.counters.messagesDropped++; // late: that probe is over
        return;
      }
      case 'ping-req':
        if (msg.target === this.me.name) {
          this.send(link, { type: 'ack', from: this.me, seq: msg.seq, about: this.me.name, lagMs: this.selfLagMs, gossip: this.piggyback() });
        } else {
          this.prober.relay(link, msg.seq, msg.target, msg.targetAddress, now);
        }
        return;
      case 'gossip':
        return;
      case 'sync':
        this.sendSync('sync-reply', link);
        return;
      case 'sync-reply':
        if (this.me.state === 'joining') this.becomeUp(now);
        return;
    }
  }

  /** If we hold a suspect or down record of `sender` that beats what it says of itself, tell it (at most once per period). */
  private accuseIfNeeded(sender: Member, said: MemberRecord, link: string, now: number): void {
    const r = sender.record;
    if (r.state !== 'suspect' && r.state !== 'down') return;
    if (r.generation !== said.generation || compareRecords(r, said) <= 0) return;
    if (sender.accusedAt !== null && now - sender.accusedAt < this.config.probeIntervalMs) return;
    sender.accusedAt = now;
    this.send(link, { type: 'gossip', from: this.me, gossip: [copyRecord(r)] });
  }

  // ---- records ------------------------------------------------------------

  /** Merges one record (about anyone) into our view, queueing it for gossip and emitting an event when it changes. */
  private apply(incoming: MemberRecord, now: number): void {
    if (incoming.name === this.me.name) return this.applySelf(incoming, now);
    const change = this.table.merge(incoming, now);
    if (change === null) return;
    const { member, old } = change;
    const record = member.record;
    this.queue.enqueue(record);
    const newProcess = old === undefined || old.generation !== record.generation;
    if (isLive(record.state) && (newProcess || !isLive(old.state))) this.prober.added(record.name);
    if (!newProcess && old.state === record.state) return; // not observable: only the incarnation moved
    if (record.state !== 'removed') {
      this.events.push({ type: EVENT_OF[record.state], member: memberView(member, now) });
    } else if (old !== undefined && old.state !== 'removed') {
      this.events.push({ type: 'member-removed', member: memberView(member, now, old) });
    }
  }

  /** A record about ourselves: refute it if it outranks ours (only we may raise our incarnation). */
  private applySelf(r: MemberRecord, now: number): void {
    if (r.generation < this.me.generation || this.me.state === 'left') return;
    if (r.generation > this.me.generation || r.state === 'removed') {
      if (!this.removedNoticeSent) {
        this.removedNoticeSent = true;
        const why = r.state === 'removed' ? 'the cluster removed this node' : `a newer process (generation ${r.generation}) uses this node's name`;
        this.reject('message', `${why}; restart this node with a new generation to rejoin`);
      }
      return;
    }
    if (compareRecords(r, this.me) <= 0) return;
    if (this.me.state === 'leaving' && r.state === 'left') return;
    if (r.state === 'suspect' || r.state === 'down' || r.state === 'left') this.counters.suspicionsRefuted++;
    if (this.me.state === 'joining' && (r.state === 'up' || r.state === 'suspect' || r.state === 'down')) {
      // The cluster admitted this very process before (a shell reset rebuilt its core): it comes back up,
      // never as joining, which peers would report as a state going backwards.
      this.me = { ...this.me, incarnation: r.incarnation };
      this.becomeUp(now);
      return;
    }
    this.me = { ...this.me, incarnation: r.incarnation + 1 };
    this.queue.enqueue(this.me);
  }

  private becomeUp(now: number): void {
    this.me = { ...this.me, state: 'up', incarnation: this.me.incarnation + 1 };
    this.joinDeadline = null;
    this.queue.enqueue(this.me);
    this.events.push({ type: 'self-up' });
    // Our view is a snapshot of the seed's; changes in the next periods reach us only from
    // nodes that already know us. One early push-pull closes that window.
    this.nextPushPullAt = Math.min(this.nextPushPullAt, now + JOIN_CATCH_UP_PERIODS * this.config.probeIntervalMs);
  }

  private becomeLeft(): void {
    this.me = { ...this.me, state: 'left', incarnation: this.me.incarnation + 1 };
    this.leaveAt = null;
    this.prober.stop();
    this.table.suspicions.clear();
    for (const name of this.live()) {
      this.send(this.table.get(name)!.record.address, { type: 'gossip', from: this.me, gossip: [] });
    }
    this.events.push({ type: 'leave-complete' });
  }

  // ---- timers -------------------------------------------------------------

  private runTimers(now: number): void {
    if (this.me.state === 'left') return;
    if (this.joinDeadline !== null && now >= this.joinDeadline) {
      this.becomeUp(now);
      for (const address of this.seeds) this.sendSync('sync', address); // a late seed merges us in
    }
    if (this.leaveAt !== null && now >= this.leaveAt) return this.becomeLeft();
    for (const [name, deadline] of this.table.suspicions) {
      if (now < deadline) continue;
      this.table.suspicions.delete(name);
      const m = this.table.get(name);
      if (m !== undefined && m.record.state === 'suspect') this.apply({ ...m.record, state: 'down' }, now);
    }
    this.prober.tick(now);
    if (now >= this.nextGossipAt) {
      if (this.queue.size > 0) this.gossipRound(now);
      this.nextGossipAt = nextSlot(this.nextGossipAt, this.config.gossipIntervalMs, now);
    }
    if (now >= this.nextPushPullAt) {
      this.pushPullRound();
      this.nextPushPullAt = nextSlot(this.nextPushPullAt, this.config.pushPullIntervalMs, now);
    }
  }

  /** Our probe of `target` failed: suspect it, unless it is already suspect, gone, or another process now. */
  private suspect(target: string, generation: number, now: number): void {
    const m = this.table.get(target);
    if (m === undefined || m.record.generation !== generation || !isLive(m.record.state) || m.record.state === 'suspect') return;
    this.counters.suspicionsRaised++;
    this.apply({ ...m.record, state: 'suspect' }, now);
  }

  private gossipRound(now: number): void {
    const recentlyDown = this.down().filter((n) => {
      const at = this.table.get(n)!.downAt;
      return at !== null && now - at < this.config.gossipToTheDeadMs;
    });
    const candidates = recentlyDown.length === 0 ? this.live() : this.live().concat(recentlyDown);
    for (const name of pickRandom(candidates, this.config.gossipFanout, this.random)) {
      const gossip = this.piggyback();
      if (gossip.length === 0) return;
      this.send(this.table.get(name)!.record.address, { type: 'gossip', from: this.me, gossip });
    }
  }

  private pushPullRound(): void {
    const up = this.live().filter((n) => this.table.get(n)!.record.state === 'up');
    const targets = pickRandom(up, 1, this.random).concat(pickRandom(this.down(), 1, this.random));
    if (up.length === 0 && this.seeds.length > 0) this.sendSync('sync', this.seeds[this.random.int(this.seeds.length)]!);
    for (const name of targets) this.sendSync('sync', this.table.get(name)!.record.address);
  }

  /** After a stall of our event loop: give probes their time back, and queued input a chance before any deadline. */
  private afterStall(now: number, stall: number): void {
    const grace = stallGrace(this.config.probeTimeoutMs);
    this.prober.afterStall(now, stall, grace);
    for (const [name, deadline] of this.table.suspicions) this.table.suspicions.set(name, floorDeadline(deadline, now, grace));
    if (this.joinDeadline !== null) this.joinDeadline = floorDeadline(this.joinDeadline, now, grace);
    if (this.leaveAt !== null) this.leaveAt = floorDeadline(this.leaveAt, now, grace);
  }

  private nextWakeAt(): number | null {
    if (this.me.state === 'left') return null;
    let wake = Math.min(this.prober.wake(), this.nextPushPullAt);
    if (this.queue.size > 0) wake = Math.min(wake, this.nextGossipAt);
    if (this.joinDeadline !== null) wake = Math.min(wake, this.joinDeadline);
    if (this.leaveAt !== null) wake = Math.min(wake, this.leaveAt);
    for (const deadline of this.table.suspicions.values()) wake = Math.min(wake, deadline);
    return Math.max(wake, this.lastNow);
  }

  // ---- helpers ------------------------------------------------------------

  private send(to: string, msg: SwimMessage): void {
    this.outbox.push({ to, msg });
    this.counters.messagesSent++;
  }

  private sendSync(type: 'sync' | 'sync-reply', to: string): void {
    const members = [copyRecord(this.me)];
    for (const m of this.table.values()) members.push(m.record);
    this.send(to, { type, from: this.me, members });
    this.counters.syncsSent++;
  }

  private piggyback(): MemberRecord[] {
    const limit = retransmitLimit(this.config.retransmitMult, this.live().length + 1);
    const gossip = this.queue.take(this.config.maxPiggyback, limit);
    this.counters.gossipSent += gossip.length;
    return gossip;
  }

  private live(): string[] {
    return this.table.live();
  }

  private down(): string[] {
    return this.table.down();
  }
}
