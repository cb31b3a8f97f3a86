/**
 * The messages of the subscription spread and their defensive decoder.
 *
 * Every message is about the sender's own subscriptions (its "owner" state),
 * numbered by the sender's `epoch` (its generation: larger on every restart)
 * and `version` (raised by one for every change it spreads):
 *
 *   sync          the sender's full set at `version`, in `parts` messages
 *                 (part 0 … parts-1, sent back to back on one link, so they
 *                 arrive in order or not at all); `reply` asks the receiver
 *                 to answer with its own full set (sent when a peer comes up)
 *   delta         the changes that took the sender from `version - 1` to
 *                 `version`: ['+' | '-', topic, subscriber] each
 *   digest        the sender's current `epoch` and `version` only: a peer
 *                 whose view is older asks for a sync
 *   sync-request  "send me your full set" (a gap, an unknown epoch, or a
 *                 digest ahead of the view)
 *
 * Plain objects of strings, numbers and arrays, so they pass through msgpack
 * unchanged. `parsePubSubMessage` never throws: anything malformed yields
 * null and the core counts it as dropped; it copies only known fields.
 */
import { isSubscriberId, topicNameProblem } from './topic-name.js';

export type Change = ['+' | '-', string, string];

export interface Sync {
  type: 'sync';
  epoch: number;
  version: number;
  part: number;
  parts: number;
  reply: boolean;
  /** [topic, subscriber ids] pairs; one topic may be split across parts. */
  topics: [string, string[]][];
}

export interface Delta {
  type: 'delta';
  epoch: number;
  version: number;
  changes: Change[];
}

export interface Digest {
  type: 'digest';
  epoch: number;
  version: number;
}

export interface SyncRequest {
  type: 'sync-request';
}

export type PubSubMessage = Sync | Delta | Digest | SyncRequest;

/** Most parts one sync may announce: far above what the limits allow (100,000 pairs / 1 per part). */
const MAX_PARTS = 1_000_000;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTopic = (v: unknown): v is string => topicNameProblem(v) === null;

function parseTopics(value: unknown): [string, string[]][] | null {
  if (!Array.isArray(value)) return null;
  const out: [string, string[]][] = [];
  for (const entry of value) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isTopic(entry[0]) || !Array.isArray(entry[1]) || !entry[1].every(isSubscriberId)) return null;
    out.push([entry[0], [...(entry[1] as string[])]]);
  }
  return out;
}

function parseChanges(value: unknown): Change[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const out: Change[] = [];
  for (const c of value) {
    if (!Array.isArray(c) || c.length !== 3 || (c[0] !== '+' && c[0] !== '-') || !isTopic(c[1]) || !isSubscriberId(c[2])) return null;
    out.push([c[0], c[1], c[2]]);
  }
  return out;
}

export function parsePubSubMessage(raw: unknown): PubSubMessage | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'sync': {
      const topics = parseTopics(m.topics);
      const { epoch, version, part, parts, reply } = m;
      if (!isCount(epoch) || !isCount(version) || !isCount(part) || !isCount(parts) || parts < 1 || parts > MAX_PARTS || part >= parts) return null;
      return topics === null || typeof reply !== 'boolean' ? null : { type: 'sync', epoch, version, part, parts, reply, topics };
    }
    case 'delta': {
      const changes = parseChanges(m.changes);
      return changes === null || !isCount(m.epoch) || !isCount(m.version) || m.version < 1 ? null : { type: 'delta', epoch: m.epoch, version: m.version, changes };
    }
    case 'digest':
      return isCount(m.epoch) && isCount(m.version) ? { type: 'digest', epoch: m.epoch, version: m.version } : null;
    case 'sync-request':
      return { type: 'sync-request' };
    default:
      return null;
  }
}
