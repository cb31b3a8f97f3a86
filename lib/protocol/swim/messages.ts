/**
 * The SWIM wire messages and their defensive decoder.
 *
 * Messages are plain data (strings, numbers, arrays, plain objects) so they
 * pass through msgpack unchanged. Every message carries `from`, the sender's
 * own record (name, address, generation, incarnation, state): the receiver
 * merges it like any gossip, so merely hearing from a node teaches who it is
 * and which incarnation it is at. Gossip records ride on every probe message
 * (SWIM §4.1, infection-style dissemination).
 *
 *   ping        direct probe of `target` (a name; a node that is not the
 *               target does not answer, e.g. after an address was reused)
 *   ack         answer to a ping; `about` is the member whose liveness it
 *               proves (the sender, or the target of a relayed probe) and
 *               `lagMs` that member's last event-loop lag (Lifeguard)
 *   ping-req    ask the receiver to probe `target` at `targetAddress` and
 *               relay the ack under our `seq` (SWIM §3.1)
 *   gossip      records only (gossip rounds, leave notices, accusations)
 *   sync        full state of the sender (push-pull); answered by sync-reply
 *   sync-reply  full state of the replier
 *
 * `parseSwimMessage` never throws: anything malformed yields null, and the
 * core counts it as dropped. It copies only known fields, so extra keys and
 * odd prototypes never reach the core.
 */

import { RECORD_STATES, type MemberRecord, type RecordState } from './record.js';

export interface Ping {
  type: 'ping';
  from: MemberRecord;
  seq: number;
  target: string;
  gossip: MemberRecord[];
}

export interface Ack {
  type: 'ack';
  from: MemberRecord;
  seq: number;
  about: string;
  lagMs: number;
  gossip: MemberRecord[];
}

export interface PingReq {
  type: 'ping-req';
  from: MemberRecord;
  seq: number;
  target: string;
  targetAddress: string;
  gossip: MemberRecord[];
}

export interface Gossip {
  type: 'gossip';
  from: MemberRecord;
  gossip: MemberRecord[];
}

export interface Sync {
  type: 'sync';
  from: MemberRecord;
  members: MemberRecord[];
}

export interface SyncReply {
  type: 'sync-reply';
  from: MemberRecord;
  members: MemberRecord[];
}

export type SwimMessage = Ping | Ack | PingReq | Gossip | Sync | SyncReply;

/** Longest name or address accepted, in characters. */
export const MAX_STRING_LENGTH = 1024;
/** Most records accepted in one gossip list. */
export const MAX_GOSSIP_RECORDS = 1024;
/** Most records accepted in one full-state sync. */
export const MAX_SYNC_RECORDS = 100_000;

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(o: Obj, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

function str(o: Obj, key: string): string | null {
  const v = field(o, key);
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_STRING_LENGTH ? v : null;
}

function count(o: Obj, key: string): number | null {
  const v = field(o, key);
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

const STATES = new Set<string>(RECORD_STATES);

/** A record, or null when any field is missing or out of range. */
export function parseRecord(raw: unknown): MemberRecord | null {
  if (!isObject(raw)) return null;
  const name = str(raw, 'name');
  const address = str(raw, 'address');
  const generation = count(raw, 'generation');
  const incarnation = count(raw, 'incarnation');
  const state = field(raw, 'state');
  if (name === null || address === null || generation === null || incarnation === null) return null;
  if (typeof state !== 'string' || !STATES.has(state)) return null;
  return { name, address, generation, incarnation, state: state as RecordState };
}

function records(o: Obj, key: string, max: number): MemberRecord[] | null {
  const v = field(o, key);
  if (!Array.isArray(v) || v.length > max) return null;
  const out: MemberRecord[] = [];
  for (const item of v) {
    const r = parseRecord(item);
    if (r === null) return null;
    out.push(r);
  }
  return out;
}

/** A well-formed message, or null. Never throws. */
export function parseSwimMessage(raw: unknown): SwimMessage | null {
  try {
    return parse(raw);
  } catch {
    return null; // a hostile getter or proxy: treat as malformed
  }
}

function parse(raw: unknown): SwimMessage | null {
  if (!isObject(raw)) return null;
  const from = parseRecord(field(raw, 'from'));
  if (from === null || from.state === 'removed') return null;
  switch (field(raw, 'type')) {
    case 'ping': {
      const seq = count(raw, 'seq');
      const target = str(raw, 'target');
      const gossip = records(raw, 'gossip', MAX_GOSSIP_RECORDS);
      if (seq === null || target === null || gossip === null) return null;
      return { type: 'ping', from, seq, target, gossip };
    }
    case 'ack': {
      const seq = count(raw, 'seq');
      const about = str(raw, 'about');
      const lagMs = count(raw, 'lagMs');
      const gossip = records(raw, 'gossip', MAX_GOSSIP_RECORDS);
      if (seq === null || about === null || lagMs === null || gossip === null) return null;
      return { type: 'ack', from, seq, about, lagMs, gossip };
    }
    case 'ping-req': {
      const seq = count(raw, 'seq');
      const target = str(raw, 'target');
      const targetAddress = str(raw, 'targetAddress');
      const gossip = records(raw, 'gossip', MAX_GOSSIP_RECORDS);
      if (seq === null || target === null || targetAddress === null || gossip === null) return null;
      return { type: 'ping-req', from, seq, target, targetAddress, gossip };
    }
    case 'gossip': {
      const gossip = records(raw, 'gossip', MAX_GOSSIP_RECORDS);
      if (gossip === null) return null;
      return { type: 'gossip', from, gossip };
    }
    case 'sync':
    case 'sync-reply': {
      const members = records(raw, 'members', MAX_SYNC_RECORDS);
      if (members === null) return null;
      return { type: field(raw, 'type') as 'sync' | 'sync-reply', from, members };
    }
    default:
      return null;
  }
}
