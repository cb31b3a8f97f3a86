/**
 * The failure detector's probing (SWIM §3, §4.3): one probe per period,
 * direct ping, then indirect ping-reqs; and the relays this node runs for
 * other probers.
 *
 * A probe of target T starts every probeIntervalMs with ping{seq} to T. If
 * no ack{seq} about T has arrived by probeTimeoutMs, k random live members
 * get ping-req{seq, T} (they ping T and relay its ack under our seq) and T
 * gets a second direct ping (memberlist's fallback probe: one lost packet on
 * the direct path then needs no relay to cover for it). No ack by the end of
 * the period: the host marks T suspect. Acks that arrive late are stale.
 *
 * Targets are chosen round-robin over a shuffled list of the live members:
 * every member is probed once per pass, so a failed member is found within
 * at most one pass of any prober (strong completeness in bounded time,
 * SWIM §4.3), and on average within about one period by some prober. A
 * member that appears mid-pass is inserted at a random position of the rest
 * of the pass; members that stopped being live are skipped when reached.
 * The list is reshuffled at the start of every pass.
 */

import { shuffle, type Random } from '../random.js';
import type { SwimConfig } from './config.js';
import type { MemberRecord } from './record.js';
import { shiftProbeDeadline } from './suspicion.js';

/** One probe of one target, started by this node. Deadlines are absolute ms. */
export interface Probe {
  target: string;
  generation: number;
  address: string;
  seq: number;
  /** Until then we wait for the direct ack; then the indirect probe starts. */
  ackDeadline: number;
  /** End of the probe period: no ack by then makes the target suspect. */
  periodEnd: number;
  indirectSent: boolean;
  acked: boolean;
}

/** A probe this node runs on behalf of a ping-req: the ack for `seq` is relayed to `requester`. */
export interface Relay {
  requester: string;
  requesterSeq: number;
  target: string;
  expiresAt: number;
}

export class ProbeOrder {
  private order: string[] = [];
  private index = 0;

  constructor(private readonly random: Random) {}

  /**
   * The next target for which `eligible` holds, starting a new shuffled pass
   * over `live()` when the current pass is done; null when nobody is eligible.
   */
  next(live: () => readonly string[], eligible: (name: string) => boolean): string | null {
    for (let pass = 0; pass < 2; pass++) {
      while (this.index < this.order.length) {
        const name = this.order[this.index++]!;
        if (eligible(name)) return name;
      }
      this.order = shuffle([...live()], this.random);
      this.index = 0;
    }
    return null;
  }

  /** A new live member joins the current pass at a random position among the members still to be probed. */
  add(name: string): void {
    const at = this.index + this.random.int(this.order.length - this.index + 1);
    this.order.splice(at, 0, name);
  }
}

/**
 * Up to `k` distinct items of `items` for which `accept` holds, drawn
 * uniformly. Rejection sampling when the list is large compared to k, a
 * partial shuffle of a copy otherwise.
 */
export function pickRandom<T>(items: readonly T[], k: number, random: Random, accept: (item: T) => boolean = () => true): T[] {
  if (k <= 0 || items.length === 0) return [];
  if (items.length > 4 * k) {
    const chosen = new Set<number>();
    const out: T[] = [];
    for (let attempts = 0; out.length < k && attempts < 8 * k; attempts++) {
      const i = random.int(items.length);
      if (chosen.has(i)) continue;
      chosen.add(i);
      if (accept(items[i]!)) out.push(items[i]!);
    }
    if (out.length === k) return out;
    // Too many rejections: fall through to the exact method, keeping what we have.
    const rest = items.filter((item, i) => !chosen.has(i) && accept(item));
    return out.concat(pickRandom(rest, k - out.length, random));
  }
  const pool = items.filter(accept);
  const out: T[] = [];
  for (let i = 0; i < pool.length && out.length < k; i++) {
    const j = i + random.int(pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
    out.push(pool[i]!);
  }
  return out;
}

/** What the prober needs from the membership core. */
export interface ProbeHost {
  /** Names of live members (probe targets and relay candidates). */
  live(): readonly string[];
  /** The record of a live member, or undefined. */
  liveRecord(name: string): MemberRecord | undefined;
  sendPing(to: string, seq: number, target: string): void;
  sendPingReq(to: string, seq: number, target: string, targetAddress: string): void;
  sendAck(to: string, seq: number, about: string, lagMs: number): void;
  /** No ack for the probe of `target` at `generation` by the end of its period. */
  probeFailed(target: string, generation: number, now: number): void;
}

export interface ProbeCounters {
  probesSent: number;
  probesFailed: number;
  indirectProbesSent: number;
}

export class Prober {
  private probe: Probe | null = null;
  private readonly relays = new Map<number, Relay>();
  private seq = 0;
  private nextProbeAt: number;
  private readonly order: ProbeOrder;
  /** A member to probe before the round-robin order resumes (see expedite). */
  private urgent: string | null = null;
  private lastExpediteAt = -Infinity;

  constructor(
    private readonly config: Pick<SwimConfig, 'probeIntervalMs' | 'probeTimeoutMs' | 'indirectProbes'>,
    private readonly random: Random,
    now: number,
    private readonly counters: ProbeCounters,
    private readonly host: ProbeHost,
  ) {
    this.order = new ProbeOrder(random.fork());
    this.nextProbeAt = now + random.int(config.probeIntervalMs); // a random phase: nodes started together do not probe in lockstep
  }

  /** Runs the probe deadlines due at `now` and starts the next probe when its period begins. */
  tick(now: number): void {
    const probe = this.probe;
    if (probe !== null && !probe.acked && !probe.indirectSent && now >= probe.ackDeadline) {
      probe.indirectSent = true;
      this.host.sendPing(probe.address, probe.seq, probe.target);
      for (const name of pickRandom(this.host.live(), this.config.indirectProbes, this.random, (n) => n !== probe.target)) {
        const via = this.host.liveRecord(name);
        if (via === undefined) continue;
        this.host.sendPingReq(via.address, probe.seq, probe.target, probe.address);
        this.counters.indirectProbesSent++;
      }
    }
    if (probe !== null && now >= probe.periodEnd) {
      this.probe = null;
      if (!probe.acked) {
        this.counters.probesFailed++;
        this.host.probeFailed(probe.target, probe.generation, now);
      }
    }
    for (const [seq, relay] of this.relays) if (relay.expiresAt <= now) this.relays.delete(seq);
    if (this.probe === null && now >= this.nextProbeAt) {
      this.nextProbeAt = nextSlot(this.nextProbeAt, this.config.probeIntervalMs, now);
      const urgent = this.urgent;
      this.urgent = null;
      const target = urgent !== null && this.host.liveRecord(urgent) !== undefined ? urgent : this.order.next(() => this.host.live(), (n) => this.host.liveRecord(n) !== undefined);
      if (target === null) return;
      const r = this.host.liveRecord(target)!;
      const seq = ++this.seq;
      this.probe = {
        target, generation: r.generation, address: r.address, seq,
        ackDeadline: now + this.config.probeTimeoutMs, periodEnd: this.nextProbeAt, indirectSent: false, acked: false,
      };
      this.counters.probesSent++;
      this.host.sendPing(r.address, seq, target);
    }
  }

  /** An ack for `seq` proving `about` alive: completes our probe or is relayed. False when it is stale (late or unknown). */
  onAck(seq: number, about: string, lagMs: number, now: number): boolean {
    const probe = this.probe;
    if (probe !== null && probe.seq === seq && probe.target === about) {
      probe.acked = true;
      return true;
    }
    const relay = this.relays.get(seq);
    if (relay !== undefined && relay.target === about && relay.expiresAt > now) {
      this.relays.delete(seq);
      this.host.sendAck(relay.requester, relay.requesterSeq, about, lagMs);
      return true;
    }
    return false;
  }

  /** A ping-req from `requester`: ping `target` under our own seq and remember where the ack goes. */
  relay(requester: string, requesterSeq: number, target: string, targetAddress: string, now: number): void {
    const seq = ++this.seq;
    this.relays.set(seq, { requester, requesterSeq, target, expiresAt: now + this.config.probeIntervalMs });
    this.host.sendPing(targetAddress, seq, target);
  }

  /**
   * Probe `name` next — at once unless a probe is still waiting for its ack. At most one
   * expedited probe per period, so a flapping link cannot raise the probe rate.
   */
  expedite(name: string, now: number): void {
    // A probe of `name` still waiting for its ack will judge it anyway; an acked one says nothing about now.
    if ((this.probe?.target === name && !this.probe.acked) || now - this.lastExpediteAt < this.config.probeIntervalMs) return;
    this.lastExpediteAt = now;
    this.urgent = name;
    // A probe that already has its ack is over in all but name: start the next one now.
    if (this.probe?.acked) this.probe = null;
    if (this.probe === null) this.nextProbeAt = Math.min(this.nextProbeAt, now);
  }

  /** A member became live (or is a new process): probe it in this pass. */
  added(name: string): void {
    this.order.add(name);
  }

  /** After a stall of `stall` ms detected at `now`: the running probe and relays get their time back (suspicion.ts). */
  afterStall(now: number, stall: number, grace: number): void {
    const probe = this.probe;
    if (probe !== null) {
      probe.ackDeadline = shiftProbeDeadline(probe.ackDeadline, stall, now, grace);
      probe.periodEnd = shiftProbeDeadline(probe.periodEnd, stall, now, grace);
      this.nextProbeAt = probe.periodEnd;
    }
    for (const relay of this.relays.values()) relay.expiresAt = shiftProbeDeadline(relay.expiresAt, stall, now, grace);
  }

  /** The earliest time the prober needs a tick. */
  wake(): number {
    let wake = this.nextProbeAt;
    const probe = this.probe;
    if (probe !== null) {
      wake = Math.min(wake, probe.periodEnd);
      if (!probe.acked && !probe.indirectSent) wake = Math.min(wake, probe.ackDeadline);
    }
    return wake;
  }

  /** Abandons the running probe and relays (we left). */
  stop(): void {
    this.probe = null;
    this.relays.clear();
  }
}

/** The next slot of a periodic timer that fired at `now`: one period on, or a period from now if we fell behind. */
export function nextSlot(slot: number, periodMs: number, now: number): number {
  const next = slot + periodMs;
  return next > now ? next : now + periodMs;
}
