/**
 * The 'raft' transport channel between two nodes: one frame per node pair
 * per event-loop turn, carrying every Raft message of every group the pair
 * shares that the turn produced (coalescing, CockroachDB's "Scaling Raft").
 *
 * Heartbeats and heartbeat responses dominate idle traffic, so they travel
 * as tuples without sender and addressee (the link names both):
 *
 *   hb   [group, term, commit, context, quiesce]   quiesce 1: the leader stops ticking the group, and so may the follower
 *   hbr  [group, term, context]
 *   m    other Raft messages, whole (the core validates them again)
 *
 * The sender is the transport's authenticated peer name, never a field of
 * the frame. `decodeFrame` never throws: malformed parts are dropped and
 * counted by the caller.
 */

import type { Heartbeat, HeartbeatResponse, RaftMessage } from '../protocol/raft/messages.js';
import type { NodeId } from '../protocol/raft/types.js';

export const RAFT_CHANNEL = 'raft';

export type HeartbeatTuple = [group: string, term: number, commit: number, context: number, quiesce: 0 | 1];
export type HeartbeatResponseTuple = [group: string, term: number, context: number];

export interface RaftFrame {
  hb?: HeartbeatTuple[];
  hbr?: HeartbeatResponseTuple[];
  m?: RaftMessage[];
}

/** Collects the messages of one turn for one peer. */
export class FrameBuilder {
  readonly hb: HeartbeatTuple[] = [];
  readonly hbr: HeartbeatResponseTuple[] = [];
  readonly m: RaftMessage[] = [];

  add(msg: RaftMessage, quiesce = false): void {
    if (msg.type === 'heartbeat') this.hb.push([msg.group, msg.term, msg.commit, msg.context, quiesce ? 1 : 0]);
    else if (msg.type === 'heartbeat-response') this.hbr.push([msg.group, msg.term, msg.context]);
    else this.m.push(msg);
  }

  frame(): RaftFrame {
    const f: RaftFrame = {};
    if (this.hb.length > 0) f.hb = this.hb;
    if (this.hbr.length > 0) f.hbr = this.hbr;
    if (this.m.length > 0) f.m = this.m;
    return f;
  }
}

export interface DecodedMessage {
  msg: RaftMessage;
  /** A heartbeat whose leader quiesces the group. */
  quiesce: boolean;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isGroup = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** The messages of a frame from `from` to `self`; `malformed` counts what was dropped. */
export function decodeFrame(raw: unknown, from: NodeId, self: NodeId): { messages: DecodedMessage[]; malformed: number } {
  const messages: DecodedMessage[] = [];
  let malformed = 0;
  if (typeof raw !== 'object' || raw === null) return { messages, malformed: 1 };
  const f = raw as Record<string, unknown>;
  if (Array.isArray(f.hb)) {
    for (const t of f.hb as unknown[]) {
      if (!Array.isArray(t) || !isGroup(t[0]) || !isIndex(t[1]) || !isIndex(t[2]) || !isIndex(t[3])) { malformed++; continue; }
      const msg: Heartbeat = { type: 'heartbeat', group: t[0], term: t[1], from, to: self, commit: t[2], context: t[3] };
      messages.push({ msg, quiesce: t[4] === 1 });
    }
  }
  if (Array.isArray(f.hbr)) {
    for (const t of f.hbr as unknown[]) {
      if (!Array.isArray(t) || !isGroup(t[0]) || !isIndex(t[1]) || !isIndex(t[2])) { malformed++; continue; }
      const msg: HeartbeatResponse = { type: 'heartbeat-response', group: t[0], term: t[1], from, to: self, context: t[2] };
      messages.push({ msg, quiesce: false });
    }
  }
  if (Array.isArray(f.m)) {
    for (const m of f.m as unknown[]) {
      const obj = m as Record<string, unknown> | null;
      if (typeof obj !== 'object' || obj === null || !isGroup(obj.group)) { malformed++; continue; }
      // The link names the sender; the core rejects a message not addressed to it.
      messages.push({ msg: { ...(obj as unknown as RaftMessage), from }, quiesce: false });
    }
  }
  return { messages, malformed };
}
