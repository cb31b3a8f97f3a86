/**
 * What a Raft group replicates: the state machine a multi-Raft host applies
 * committed entries to (tables implement it in the next step).
 *
 * Contract:
 * - `apply` runs inside the host's LMDB write transaction, in a child
 *   transaction of its own, together with the host's write of the group's
 *   applied index. So an entry's effects and the applied index commit
 *   atomically: a restart resumes after the last applied entry, never
 *   re-applying or skipping one (thesis §5.1 errata: lastApplied is exactly
 *   as persistent as the state machine). Write with synchronous calls only
 *   (`putSync`, `removeSync`, or `put`/`remove`, which apply at once inside
 *   a transaction); never await inside `apply`.
 * - `apply` is deterministic: every replica applies the same entries in the
 *   same order and must reach the same state. Its return value goes to the
 *   proposer on this node (if the proposal was made here); a throw is a bug
 *   of the state machine: its writes for the entry roll back and the host
 *   crashes, to be restarted from durable state by its supervisor.
 * - Reads (`RaftHost.read`) call the function they are given with the state
 *   machine once the group's applied index has reached a linearizable read
 *   point; they must not write.
 */

import type { Entry } from '../protocol/raft/types.js';

export interface StateMachine {
  /** Applies one committed `data` entry (noop and membership entries never reach it). */
  apply(entry: Entry): unknown;
  /**
   * Serializes the state at the current applied index (for snapshots and
   * lagging followers). Optional: without it the group's log is never
   * compacted.
   */
  snapshot?(): Uint8Array;
  /** Replaces the whole state with a snapshot's, taken at log index `index` (runs in the host's transaction, like apply). */
  restore?(data: Uint8Array, index: number): void;
  /** Removes all of the state machine's data: its group is destroyed on this node (runs inside a write transaction). */
  destroyInTransaction?(): void;
}

/** Makes the state machine of a group this node hosts; called at creation and when groups are reopened after a restart. */
export type StateMachineFactory = (group: string) => StateMachine;
