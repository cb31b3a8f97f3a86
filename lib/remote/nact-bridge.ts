/**
 * nact's own `dispatch`, `query` and `stop` on a RemoteRef.
 *
 * nact's functions look a reference up in its map of actor systems by
 * `ref.system.name`. A RemoteRef names this pseudo-system, which hands the
 * message to a node's actor layer (`node.actors.dispatch` / `query`), so an
 * actor written for nact — `dispatch(ctx.sender, reply)` — works unchanged
 * when the sender is an actor of another node: location transparency.
 *
 * Which node's layer sends it: the one that decoded the reference from a
 * message (a reference that arrived in `ctx.sender` or inside a message is
 * sent by the node that received it); for a RemoteRef built by hand, the
 * process's only node. A process running several nodes (tests, embedded
 * clusters) must send such a reference with `node.actors.dispatch`: nact's
 * `dispatch` then throws a TroupeError saying so. `stop` of a RemoteRef does
 * nothing, as nact's does for an actor it does not find.
 */
import { TroupeError } from '../errors.js';
import { isRemoteRef, nactPath, REMOTE_SYSTEM_NAME, type RemoteRef } from './actor-ref.js';
import { addPseudoSystem } from './local-actors.js';

/** What a node's actor layer offers nact's functions. */
export interface RemoteSender {
  dispatch(ref: RemoteRef, message: unknown, sender?: unknown): void;
  query(ref: RemoteRef, message: unknown, timeoutMs: number): Promise<unknown>;
}

const senders = new Map<string, RemoteSender>();
const decodedBy = new WeakMap<RemoteRef, string>();

addPseudoSystem(REMOTE_SYSTEM_NAME, (ref) => concreteRemote(ref as RemoteRef));

/** Makes `sender` (the actor layer of node `self`) the one that sends the RemoteRefs it decodes; returns the undo. */
export function registerRemoteSender(self: string, sender: RemoteSender): () => void {
  senders.set(self, sender);
  return () => {
    if (senders.get(self) === sender) senders.delete(self);
  };
}

/** Records that node `node` decoded `ref` from a message: nact's functions send it through that node. */
export function markDecodedBy(ref: RemoteRef, node: string): void {
  decodedBy.set(ref, node);
}

/** The layer that sends `ref`: its decoder's, else the process's only one; undefined when no node runs. */
export function senderFor(ref: RemoteRef): RemoteSender | undefined {
  const via = decodedBy.get(ref);
  if (via !== undefined) return senders.get(via);
  if (senders.size <= 1) return senders.values().next().value;
  throw new TroupeError('ERR_BAD_REQUEST', `${senders.size} troupe nodes run in this process, so nact's dispatch cannot tell which should send to ${ref.toString()}: use node.actors.dispatch (or query) of the sending node`);
}

/**
 * The "concrete actor" nact's dispatch and query call for a RemoteRef; it has no `stop`, so nact's stop does
 * nothing. With no node running, a dispatch goes nowhere (as nact's to an actor it does not find) and a query fails.
 */
function concreteRemote(ref: RemoteRef): { dispatch(message: unknown, sender?: unknown): void; query(message: unknown, timeoutMs: number): Promise<unknown> } {
  return {
    // nact passes what it was given as the sender: only a reference to an actor can travel as one.
    dispatch: (message, from) => senderFor(ref)?.dispatch(ref, message, isRemoteRef(from) || nactPath(from) !== null ? from : undefined),
    query: (message, timeoutMs) => {
      try {
        const sender = senderFor(ref);
        return sender === undefined ? Promise.reject(new TroupeError('ERR_BAD_REQUEST', `no troupe node runs in this process to send a query to ${ref.toString()}`)) : sender.query(ref, message, timeoutMs);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}
