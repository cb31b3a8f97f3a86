/**
 * The Raft wire messages of one group and their defensive decoder.
 *
 * Every message names its group, term, sender and addressee (node ids), so
 * the shell can route it to the group's core and coalesce messages of many
 * groups between one pair of nodes. Heartbeats carry only (group, term,
 * commit, context): what a node-pair heartbeat must repeat per group.
 *
 *   append              AppendEntries (thesis §3.5): entries after (prevIndex, prevTerm), and the commit index
 *   append-response     accepted up to `index`, or rejected the probe at `index` with a hint:
 *                       (rejectHint, logTerm) is the follower's last entry at or below the probe whose term is ≤ the probe's (§3.5 optimisation)
 *   heartbeat           empty append without a consistency check; `commit` is capped at what the follower is known to hold
 *   heartbeat-response  echoes `context`, the ReadIndex round it confirms (thesis §6.4)
 *   request-pre-vote    would you vote for me at `term` (our term + 1)? (thesis §9.6; no state changes)
 *   request-vote        RequestVote (thesis §3.4); `transfer` is a leader transfer's permission to disrupt (§3.10)
 *   pre-vote-response / vote-response   granted or not
 *   snapshot            one chunk of InstallSnapshot (thesis §5.3): bytes [offset, offset + chunk.length) of `total`
 *   snapshot-response   bytes of snapshot `index` received in order so far (where the leader resumes)
 *   timeout-now         start an election now, skipping pre-vote (leader transfer, thesis §3.10)
 *   read-index          a follower asks the leader for a read index on behalf of `requestId`
 *   read-index-response the leader's answer: `index`, or `reject` when it could not serve it
 *
 * `parseRaftMessage` never throws: anything malformed yields null (the core
 * counts it as dropped). It copies only known fields, so extra keys and odd
 * prototypes never reach the core.
 */

import type { Entry, EntryKind, Membership, MembershipChange, NodeId, SnapshotMeta } from './types.js';

interface Envelope {
  group: string;
  term: number;
  from: NodeId;
  to: NodeId;
}

export interface Append extends Envelope { type: 'append'; prevIndex: number; prevTerm: number; entries: Entry[]; commit: number }
export interface AppendResponse extends Envelope { type: 'append-response'; index: number; reject: boolean; rejectHint: number; logTerm: number }
export interface Heartbeat extends Envelope { type: 'heartbeat'; commit: number; context: number }
export interface HeartbeatResponse extends Envelope { type: 'heartbeat-response'; context: number }
export interface RequestVote extends Envelope { type: 'request-vote' | 'request-pre-vote'; lastIndex: number; lastTerm: number; transfer: boolean }
export interface VoteResponse extends Envelope { type: 'vote-response' | 'pre-vote-response'; reject: boolean }
export interface SnapshotChunk extends Envelope { type: 'snapshot'; meta: SnapshotMeta; offset: number; total: number; chunk: Uint8Array }
export interface SnapshotResponse extends Envelope { type: 'snapshot-response'; index: number; offset: number }
export interface TimeoutNow extends Envelope { type: 'timeout-now' }
export interface ReadIndexRequest extends Envelope { type: 'read-index'; requestId: string }
export interface ReadIndexResponse extends Envelope { type: 'read-index-response'; requestId: string; index: number; reject: boolean }

export type RaftMessage =
  | Append | AppendResponse | Heartbeat | HeartbeatResponse | RequestVote | VoteResponse
  | SnapshotChunk | SnapshotResponse | TimeoutNow | ReadIndexRequest | ReadIndexResponse;

export type RaftMessageType = RaftMessage['type'];

/** Longest node id, group id or request id accepted, in characters. */
export const MAX_ID_LENGTH = 1024;
/** Most entries accepted in one append. */
export const MAX_ENTRIES_PER_MESSAGE = 100_000;
/** Most members accepted in a snapshot's membership. */
export const MAX_MEMBERS = 10_000;

const ENTRY_KINDS: ReadonlySet<EntryKind> = new Set(['data', 'noop', 'config']);
const CHANGE_TYPES: ReadonlySet<string> = new Set(['add-learner', 'promote', 'remove']);

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;

function parseChange(v: unknown): MembershipChange | null {
  if (!isObj(v) || typeof v.type !== 'string' || !CHANGE_TYPES.has(v.type) || !isId(v.node)) return null;
  return { type: v.type as MembershipChange['type'], node: v.node };
}

export function parseEntry(v: unknown): Entry | null {
  if (!isObj(v) || !isIndex(v.index) || !isIndex(v.term) || v.index === 0 || v.term === 0) return null;
  if (typeof v.kind !== 'string' || !ENTRY_KINDS.has(v.kind as EntryKind) || !(v.data instanceof Uint8Array)) return null;
  const entry: Entry = { index: v.index, term: v.term, kind: v.kind as EntryKind, data: v.data };
  if (entry.kind === 'config') {
    const change = parseChange(v.change);
    if (change === null) return null;
    entry.change = change;
  } else if (v.change !== undefined) {
    return null;
  }
  return entry;
}

function parseIdList(v: unknown): string[] | null {
  if (!Array.isArray(v) || v.length > MAX_MEMBERS || !v.every(isId)) return null;
  return [...new Set(v as string[])].sort();
}

export function parseMembership(v: unknown): Membership | null {
  if (!isObj(v)) return null;
  const voters = parseIdList(v.voters);
  const learners = parseIdList(v.learners);
  if (voters === null || learners === null || learners.some((l) => voters.includes(l))) return null;
  return { voters, learners };
}

function parseMeta(v: unknown): SnapshotMeta | null {
  if (!isObj(v) || !isIndex(v.index) || !isIndex(v.term)) return null;
  const membership = parseMembership(v.membership);
  return membership === null ? null : { index: v.index, term: v.term, membership };
}

/** Entries must be consecutive from prevIndex + 1 with terms non-decreasing, ≥ prevTerm and ≤ the sender's term. */
function parseEntries(v: unknown, prevIndex: number, prevTerm: number, term: number): Entry[] | null {
  if (!Array.isArray(v) || v.length > MAX_ENTRIES_PER_MESSAGE) return null;
  const out: Entry[] = [];
  let lastTerm = prevTerm;
  for (let i = 0; i < v.length; i++) {
    const e = parseEntry(v[i]);
    if (e === null || e.index !== prevIndex + 1 + i || e.term < lastTerm || e.term > term) return null;
    lastTerm = e.term;
    out.push(e);
  }
  return out;
}

/** A well-formed copy of `raw`, or null. Never throws. */
export function parseRaftMessage(raw: unknown): RaftMessage | null {
  try {
    return parse(raw);
  } catch {
    return null; // e.g. a getter that throws: still just a bad message
  }
}

function parse(raw: unknown): RaftMessage | null {
  if (!isObj(raw) || typeof raw.type !== 'string') return null;
  const { group, term, from, to } = raw;
  if (!isId(group) || !isIndex(term) || !isId(from) || !isId(to)) return null;
  const env: Envelope = { group, term, from, to };
  const r = raw;
  switch (r.type) {
    case 'append': {
      if (!isIndex(r.prevIndex) || !isIndex(r.prevTerm) || !isIndex(r.commit) || r.prevTerm > term) return null;
      const entries = parseEntries(r.entries, r.prevIndex, r.prevTerm, term);
      return entries === null ? null : { type: 'append', ...env, prevIndex: r.prevIndex, prevTerm: r.prevTerm, entries, commit: r.commit };
    }
    case 'append-response':
      if (!isIndex(r.index) || typeof r.reject !== 'boolean' || !isIndex(r.rejectHint) || !isIndex(r.logTerm)) return null;
      return { type: 'append-response', ...env, index: r.index, reject: r.reject, rejectHint: r.rejectHint, logTerm: r.logTerm };
    case 'heartbeat':
      if (!isIndex(r.commit) || !isIndex(r.context)) return null;
      return { type: 'heartbeat', ...env, commit: r.commit, context: r.context };
    case 'heartbeat-response':
      if (!isIndex(r.context)) return null;
      return { type: 'heartbeat-response', ...env, context: r.context };
    case 'request-vote':
    case 'request-pre-vote':
      if (!isIndex(r.lastIndex) || !isIndex(r.lastTerm) || typeof r.transfer !== 'boolean') return null;
      return { type: r.type, ...env, lastIndex: r.lastIndex, lastTerm: r.lastTerm, transfer: r.transfer };
    case 'vote-response':
    case 'pre-vote-response':
      if (typeof r.reject !== 'boolean') return null;
      return { type: r.type, ...env, reject: r.reject };
    case 'snapshot': {
      const meta = parseMeta(r.meta);
      if (meta === null || !isIndex(r.offset) || !isIndex(r.total) || !(r.chunk instanceof Uint8Array)) return null;
      if (r.offset + r.chunk.byteLength > r.total || meta.term > term || meta.index === 0) return null;
      return { type: 'snapshot', ...env, meta, offset: r.offset, total: r.total, chunk: r.chunk };
    }
    case 'snapshot-response':
      if (!isIndex(r.index) || !isIndex(r.offset)) return null;
      return { type: 'snapshot-response', ...env, index: r.index, offset: r.offset };
    case 'timeout-now':
      return { type: 'timeout-now', ...env };
    case 'read-index':
      if (!isId(r.requestId)) return null;
      return { type: 'read-index', ...env, requestId: r.requestId };
    case 'read-index-response':
      if (!isId(r.requestId) || !isIndex(r.index) || typeof r.reject !== 'boolean') return null;
      return { type: 'read-index-response', ...env, requestId: r.requestId, index: r.index, reject: r.reject };
    default:
      return null;
  }
}
