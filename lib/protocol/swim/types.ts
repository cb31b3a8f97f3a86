/**
 * Inputs, outputs and views of the membership core (re-exported by
 * membership.ts, the module shells import).
 */

import type { SwimMessage } from './messages.js';
import type { MemberState } from './record.js';

export type { MemberState } from './record.js';

/** One member as this node sees it. */
export interface MemberView {
  name: string;
  /** Where the member's inter-node link listens (the `to` of messages sent to it). */
  address: string;
  /** Process generation given by the member's shell; larger on every restart. */
  generation: number;
  /** SWIM incarnation: raised only by the member itself, to refute suspicion. */
  incarnation: number;
  state: MemberState;
  /** Ms since a message from this member last reached this node directly; null for self or never heard directly. */
  lastHeardAgoMs: number | null;
  /** Event-loop lag, ms, the member last reported in an ack (our own for self). */
  lagMs: number;
}

export type MembershipInput =
  /** The timer armed for `nextWakeAt` fired (any time is fine: deadlines are absolute). */
  | { type: 'tick' }
  /** A message arrived on the link with the node at address `from`. `msg` is validated again by the core. */
  | { type: 'message'; from: string; msg: SwimMessage }
  /** Candidates or seeds to push-pull sync with; our own address is ignored. */
  | { type: 'join'; addresses: string[] }
  /** Graceful leave: leaving, then left, then the event leave-complete. */
  | { type: 'leave' }
  /** Forget a down or left member for good (a tombstone is gossiped); other states are rejected. */
  | { type: 'remove'; name: string }
  /** Event-loop lag measured by the shell, ms; carried in our acks. */
  | { type: 'local-lag'; lagMs: number }
  /** The shell's link to `address` dropped: a hint (never proof) that the member may have failed; it is probed next. */
  | { type: 'link-down'; address: string };

export type MemberEventType =
  | 'member-joining'
  | 'member-up'
  | 'member-suspect'
  | 'member-down'
  | 'member-leaving'
  | 'member-left'
  | 'member-removed';

export type MembershipEvent =
  /** Another member changed state (or appeared, or was replaced by a new generation). */
  | { type: MemberEventType; member: MemberView }
  /** This node moved from joining to up. */
  | { type: 'self-up' }
  /** Our `left` record is in this Ready's messages, addressed to every known live member: the shell may stop after sending them. */
  | { type: 'leave-complete' }
  /** An input was refused, or a condition the shell must act on (e.g. this node was removed by the cluster). */
  | { type: 'rejected'; input: string; reason: string };

/** Monotonic counters since the core was created. */
export interface MembershipStats {
  /** Direct pings sent as the prober. */
  probesSent: number;
  /** Probes that ended their period without any ack (each raised or kept a suspicion). */
  probesFailed: number;
  /** ping-req messages sent (k per probe whose direct ack timed out). */
  indirectProbesSent: number;
  /** Members this node marked suspect after its own failed probe. */
  suspicionsRaised: number;
  /** Times this node raised its incarnation to refute a suspect, down or left record about itself. */
  suspicionsRefuted: number;
  messagesSent: number;
  messagesReceived: number;
  /** Received messages that were malformed, from a stale generation, or stale replies (late acks). */
  messagesDropped: number;
  /** Membership records sent as gossip (piggybacked or in gossip rounds); full-state syncs not included. */
  gossipSent: number;
  /** Full-state sync messages sent (joins and push-pull). */
  syncsSent: number;
}
