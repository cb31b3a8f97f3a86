/**
 * The wire form of the actor layer, on the transport's 'actor' channel.
 *
 * Frames are msgpack arrays; a message, its sender and a reply travel as
 * their own msgpack bytes (`body`), packed by this module's codec, in which
 * actor references are an extension type: a RemoteRef is [node, path], and
 * a local nact reference is written as the RemoteRef of the node encoding
 * it. Decoding gives RemoteRefs only; the layer resolves those naming its
 * own node back to local actors.
 *
 *   ['m', path, body]                            a message: body = [message, sender | null]
 *   ['q', id, path, body, timeoutMs, replyByRef]  a query: body = [message, null]; replyByRef: the
 *                                                 message carries a reference to reply to, so it is
 *                                                 dispatched, not queried
 *   ['r', id, ok, body, generation]               the answer of query `id`: body = the reply, or
 *                                                 { code, message } when ok is false; generation: the
 *                                                 asking process's (a restarted node numbers its queries
 *                                                 from 1 again and must not take its former process's answers)
 *   ['w', id, path]                               watch the actor at path (monitor `id` of the sender)
 *   ['u', id]                                     unwatch: monitor `id` of the sender is cancelled
 *   ['t', id, reason]                             the actor of monitor `id` terminated (reason: see monitors.ts)
 *
 * `decodeFrame` never throws: a malformed frame is reported as null and the
 * caller counts and drops it.
 */
import { addExtension, Packr } from 'msgpackr';
import { createRequire } from 'node:module';
import { RemoteRef } from './actor-ref.js';
import { markDecodedBy } from './nact-bridge.js';

export const ACTOR_CHANNEL = 'actor';
/** msgpack extension type of an actor reference. */
export const REF_EXTENSION_TYPE = 47;
/** Longest actor path accepted from the wire (parts). */
export const MAX_PATH_PARTS = 32;

const require = createRequire(import.meta.url);
const { ActorReference } = require('nact/lib/references.js') as { ActorReference: new (...args: never[]) => { path: { parts: string[] } } };

/** The node whose local references are being encoded (set only for the duration of `encode`). */
let encodingNode: string | null = null;
/** The node decoding (set only for the duration of `decode`): nact's functions send the references it decodes. */
let decodingNode: string | null = null;

const readRef = (data: unknown): RemoteRef => {
  if (!Array.isArray(data) || typeof data[0] !== 'string' || !isPath(data[1])) throw new TypeError('malformed actor reference');
  const ref = new RemoteRef(data[0], data[1] as string[]);
  if (decodingNode !== null) markDecodedBy(ref, decodingNode);
  return ref;
};

addExtension({ Class: RemoteRef, type: REF_EXTENSION_TYPE, write: (ref: RemoteRef) => [ref.node, [...ref.path]], read: readRef });
addExtension({
  Class: ActorReference,
  type: REF_EXTENSION_TYPE,
  write: (ref: { path: { parts: string[] } }) => {
    if (encodingNode === null) throw new TypeError('a local actor reference can only be sent inside an actor message (the actor layer encodes it with its node)');
    return [encodingNode, [...ref.path.parts]];
  },
  read: readRef,
});

const packr = new Packr({ useRecords: false, moreTypes: true });

/** The msgpack bytes of `value`, local actor references written as references of `node`. */
export function encode(node: string, value: unknown): Uint8Array {
  encodingNode = node;
  try {
    return packr.pack(value);
  } finally {
    encodingNode = null;
  }
}

/** The value of msgpack `bytes`; references in it are sent by node `node` when given to nact's functions. */
export function decode(bytes: Uint8Array, node: string | null = null): unknown {
  decodingNode = node;
  try {
    return packr.unpack(bytes);
  } finally {
    decodingNode = null;
  }
}

export function isPath(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.length <= MAX_PATH_PARTS && value.every((p) => typeof p === 'string' && p.length > 0);
}

export type ActorFrame =
  | { kind: 'message'; path: string[]; body: Uint8Array }
  | { kind: 'query'; id: number; path: string[]; body: Uint8Array; timeoutMs: number; replyByRef: boolean }
  | { kind: 'reply'; id: number; ok: boolean; body: Uint8Array; askerGeneration: number }
  | { kind: 'watch'; id: number; path: string[] }
  | { kind: 'unwatch'; id: number }
  | { kind: 'terminated'; id: number; reason: string };

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function messageFrame(path: readonly string[], body: Uint8Array): unknown[] {
  return ['m', path, body];
}

export function queryFrame(id: number, path: readonly string[], body: Uint8Array, timeoutMs: number, replyByRef: boolean): unknown[] {
  return ['q', id, path, body, timeoutMs, replyByRef];
}

export function replyFrame(id: number, ok: boolean, body: Uint8Array, askerGeneration: number): unknown[] {
  return ['r', id, ok, body, askerGeneration];
}

export function watchFrame(id: number, path: readonly string[]): unknown[] {
  return ['w', id, path];
}

export function unwatchFrame(id: number): unknown[] {
  return ['u', id];
}

export function terminatedFrame(id: number, reason: string): unknown[] {
  return ['t', id, reason];
}

/** The frame `payload` stands for, or null when it is malformed. */
export function decodeFrame(payload: unknown): ActorFrame | null {
  if (!Array.isArray(payload)) return null;
  const [tag, a, b, c, d, e] = payload as unknown[];
  switch (tag) {
    case 'm':
      return payload.length === 3 && isPath(a) && isBytes(b) ? { kind: 'message', path: a, body: b } : null;
    case 'q':
      return payload.length === 6 && isId(a) && isPath(b) && isBytes(c) && typeof d === 'number' && d > 0 && typeof e === 'boolean'
        ? { kind: 'query', id: a, path: b, body: c, timeoutMs: d, replyByRef: e }
        : null;
    case 'r':
      return payload.length === 5 && isId(a) && typeof b === 'boolean' && isBytes(c) && isId(d) ? { kind: 'reply', id: a, ok: b, body: c, askerGeneration: d } : null;
    case 'w':
      return payload.length === 3 && isId(a) && isPath(b) ? { kind: 'watch', id: a, path: b } : null;
    case 'u':
      return payload.length === 2 && isId(a) ? { kind: 'unwatch', id: a } : null;
    case 't':
      return payload.length === 3 && isId(a) && typeof b === 'string' && b.length <= 64 ? { kind: 'terminated', id: a, reason: b } : null;
    default:
      return null;
  }
}
