/**
 * References to actors anywhere in the cluster.
 *
 * A local actor is a nact reference; an actor on another node (or any actor
 * named by node and path, as one decoded from a message is) is a
 * `RemoteRef`: the node's name and the actor's path below the node's actor
 * system (`['room', 'lobby']` for an actor spawned as `lobby` under `room`).
 * Both go inside messages: the wire codec (wire.ts) turns a nact reference
 * into the RemoteRef of this node, and every RemoteRef back into one, so a
 * reference survives a trip across nodes and still works (location
 * transparency). `dispatch`/`query` of the actor layer take either kind,
 * and so do nact's own functions (nact-bridge.ts).
 */
import type { Ref } from 'nact';

/** The pseudo actor system a RemoteRef belongs to, as nact's functions see it (nact-bridge.ts). */
export const REMOTE_SYSTEM_NAME = 'troupe:remote';
const REMOTE_SYSTEM = Object.freeze({ name: REMOTE_SYSTEM_NAME });

export class RemoteRef {
  readonly type = 'remote';
  constructor(
    /** The node the actor lives on (`name@host`). */
    readonly node: string,
    /** The actor's path below that node's actor system. */
    readonly path: readonly string[],
  ) {}

  /** What nact's `dispatch`, `query` and `stop` read to find the actor: sends through the actor layer (nact-bridge.ts). */
  get system(): { readonly name: string } {
    return REMOTE_SYSTEM;
  }

  /** `node/a/b`: a stable string form, for logs and as a map key. */
  toString(): string {
    return `${this.node}/${this.path.join('/')}`;
  }

  equals(other: RemoteRef): boolean {
    return other.node === this.node && other.path.length === this.path.length && other.path.every((p, i) => p === this.path[i]);
  }
}

/** A reference either kind: what the actor layer's functions take. */
export type ActorRef = Ref<any> | RemoteRef;

export function isRemoteRef(value: unknown): value is RemoteRef {
  return value instanceof RemoteRef;
}

/** The fields of a nact actor reference the layer reads (nact's ActorReference: `type 'actor'`, `path.parts`, `system.name`). */
export interface NactActorRef {
  type: string;
  path?: { parts?: readonly string[] };
  system?: { name?: string };
}

/** The path parts of a nact reference to an actor (not a temporary or system reference), or null. */
export function nactPath(ref: unknown): readonly string[] | null {
  const r = ref as NactActorRef | null;
  if (r === null || typeof r !== 'object' || r.type !== 'actor' || !Array.isArray(r.path?.parts)) return null;
  return r.path!.parts!;
}

/** A nact reference to the actor at `parts` in the actor system named `systemName`: what nact's dispatch and query accept. */
export function nactRefAt(systemName: string, parts: readonly string[]): Ref<any> {
  return { type: 'actor', path: { parts: [...parts] }, system: { name: systemName } } as unknown as Ref<any>;
}
