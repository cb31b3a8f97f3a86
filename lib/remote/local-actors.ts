/**
 * What the remote layer reads of this node's own nact actors: whether an
 * actor exists at a path, and how full its mailbox is. nact keeps its
 * actors in a system map it does not type; this module is the one place
 * that reaches into it (the actor layer and pub/sub).
 */
import type { Ref } from 'nact';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const systemMap = require('nact/lib/system-map.js') as { find(systemName: string, ref: unknown): LocalActor | undefined };

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
