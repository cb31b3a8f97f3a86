/**
 * What the remote layer reads of this node's own nact actors: whether an
 * actor exists at a path, and how full its mailbox is; the temporary
 * references remote queries are answered to; and the pseudo-system that
 * RemoteRefs belong to (nact-bridge.ts). nact keeps its actor systems in a
 * map it does not type; this module is the one place that reaches into it.
 */
import type { Ref } from 'nact';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const systemMap = require('nact/lib/system-map.js') as {
  find(systemName: string, ref: unknown): LocalActor | undefined;
  add(system: { name: string; find(ref: unknown): unknown }): void;
};

/** Adds to nact's map a system of that name whose `find` nact's dispatch, query and stop consult for its references. */
export function addPseudoSystem(name: string, find: (ref: unknown) => unknown): void {
  systemMap.add({ name, find });
}

/** nact's concrete actor, as its system map finds it: what nact's own dispatch calls. */
export interface LocalActor {
  mailbox?: { length: number };
  dispatch(message: unknown, sender?: unknown): void;
}

/** The name of a nact actor system, from its root reference. */
export function systemNameOf(system: Ref<never>): string {
  return (system as unknown as { system: { name: string } }).system.name;
}

/** The live actor behind `ref`, or undefined when it stopped or never existed. */
export function findLocalActor(systemName: string, ref: Ref<any>): LocalActor | undefined {
  return systemMap.find(systemName, ref);
}

/** A reference an actor answers to with nact's `dispatch(ctx.sender, reply)`: nact finds it among its system's temporary references. */
export interface ReplyReference {
  readonly ref: unknown;
  /** Forgets it; an answer after this is dropped by nact. */
  release(): void;
}

interface NactSystem {
  tempReferences: Map<unknown, { resolve(value: unknown): void }>;
}

let nextReplyId = 0;

/**
 * Registers a temporary reference of system `systemName` whose first answer calls `onAnswer`, as nact's
 * own `query` does, without its timer, deferral and promise chain (the caller keeps its own deadline).
 * Its ids are strings, so they never meet nact's numeric ones.
 */
export function replyReference(systemName: string, onAnswer: (value: unknown) => void): ReplyReference {
  const system = systemMap.find(systemName, undefined) as unknown as NactSystem | undefined;
  if (system === undefined) throw new Error(`actor system ${systemName} is stopped`);
  const id = `troupe-reply-${nextReplyId++}`;
  const release = (): void => void system.tempReferences.delete(id);
  system.tempReferences.set(id, { resolve: (value) => (release(), onAnswer(value)) });
  return { ref: { system: { name: systemName }, id, type: 'temp' }, release };
}
