/**
 * Inputs, events and the Ready of the Raft core: the base shape of
 * ../ready.ts grown with what to persist, what to apply and read states.
 *
 * Ordering contract for the shell, per Ready (etcd's Ready with async
 * storage writes, made explicit):
 *
 * 1. `persist` (when not null): write the snapshot (which discards stored
 *    entries that do not match it), then drop entries through
 *    `compactThrough`, then write `entries` (writing entry i discards stored
 *    entries ≥ i), then the hard state; in one LMDB transaction if you can.
 *    When the write is durable (fsynced if `mustSync`; earlier writes too),
 *    step `{ type: 'persisted', id: persist.id }`. Writes complete in order.
 * 2. `messages` may be sent at once, before or during that write: the core
 *    holds back every message that depends on unpersisted state (votes,
 *    append and snapshot acknowledgements) until the matching `persisted`.
 * 3. `apply`: restore `apply.snapshot` if present, then apply `apply.entries`
 *    in order; both are already durable here. Step `{ type: 'applied' }`
 *    once the state machine has them (with its applied index, atomically).
 * 4. `readStates`: answer each read once applied ≥ its index.
 * 5. `events`, then arm one timer for `nextWakeAt`.
 *
 * Call `advance(ready)` with the Ready from the last `ready()` before the
 * next `step`.
 */

import type { Ready } from '../ready.js';
import type { NotLeaderError, ProposalDroppedError } from './errors.js';
import type { RaftMessage } from './messages.js';
import type { Entry, HardState, Membership, MembershipChange, NodeId, Role, Snapshot } from './types.js';

export type RaftInput =
  /** The timer armed for `nextWakeAt` fired (any time is fine: deadlines are absolute). */
  | { type: 'tick' }
  /** A message for this group arrived; validated again by the core. */
  | { type: 'message'; msg: RaftMessage }
  /** Append `data` as one command (leader only). Answered by a proposal-appended or proposal-refused event. */
  | { type: 'propose'; requestId: string; data: Uint8Array }
  /** A linearizable read point (thesis §6.4): answered by a read state or a read-index-refused event. */
  | { type: 'read-index'; requestId: string }
  /** Hand leadership to voter `to` (thesis §3.10). */
  | { type: 'transfer-leader'; to: NodeId }
  /** One single-server membership change (leader only); answered like a proposal. */
  | { type: 'change-membership'; requestId: string; change: MembershipChange }
  /** Start an election now (e.g. to bootstrap a one-node group without waiting a timeout). */
  | { type: 'campaign' }
  /**
   * The shell saw its link to `leader` break (a closed connection: the
   * process died or the network dropped it). A follower of that leader ends
   * its check-quorum lease and stands for election within a quarter of the
   * election timeout spread instead of a whole timeout. Safe on a false
   * alarm: voters still hearing the leader keep their lease and refuse the
   * pre-vote, so a live leader is not disturbed.
   */
  | { type: 'leader-lost'; leader: NodeId }
  /**
   * The shell resumes ticking a group it had quiesced (stopped ticking while
   * idle): time passed that the core's timers must not count. A follower
   * restarts its election timer from now; a leader restarts its check-quorum
   * window (followers were silent because it was) and heartbeats at once.
   */
  | { type: 'wake' }
  /** The Ready persist with this id (and all earlier) is durable. */
  | { type: 'persisted'; id: number }
  /** The state machine has applied (durably) every entry through `index`. */
  | { type: 'applied'; index: number }
  /** The shell serialized the state machine at applied index `index` (after a snapshot-due event, or on its own). */
  | { type: 'snapshot-created'; index: number; data: Uint8Array };

export type RaftEvent =
  | { type: 'role-changed'; role: Role; term: number }
  | { type: 'leader-changed'; leader: NodeId | null; term: number }
  /** A proposal or membership change is in the log at (index, term); it took effect iff the entry applied at index has this term. */
  | { type: 'proposal-appended'; requestId: string; index: number; term: number }
  | { type: 'proposal-refused'; requestId: string; error: NotLeaderError | ProposalDroppedError }
  | { type: 'read-index-refused'; requestId: string; error: NotLeaderError | ProposalDroppedError }
  | { type: 'transfer-refused'; to: NodeId; error: NotLeaderError | ProposalDroppedError }
  | { type: 'transfer-aborted'; to: NodeId }
  /** This node adopted a new membership (a committed change, or a snapshot's). */
  | { type: 'membership-changed'; index: number; membership: Membership }
  /** This node is no longer a member of the group; it stays quiet until the shell removes the group. */
  | { type: 'removed'; index: number }
  /** Enough entries were applied since the last snapshot: the shell should serialize the state machine and step snapshot-created. */
  | { type: 'snapshot-due'; index: number }
  /** A snapshot-created input was refused (stale, beyond applied, or its index is compacted). */
  | { type: 'snapshot-refused'; index: number; reason: string };

export interface RaftPersist {
  /** Acknowledge with `{ type: 'persisted', id }` once durable. */
  id: number;
  /** The hard state to store, when it changed. */
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
  /** Drop stored entries through this index (a snapshot covers them). */
  compactThrough: number | null;
  /** Whether the write must be fsynced before `persisted`: entries, a snapshot, or a new term or vote. */
  mustSync: boolean;
}

export interface ReadState {
  requestId: string;
  /** Run the read once the applied index is at least this. */
  index: number;
}

export interface RaftReady extends Ready<RaftMessage, RaftEvent> {
  persist: RaftPersist | null;
  apply: { snapshot: Snapshot | null; entries: Entry[] };
  readStates: ReadState[];
}

export interface RaftStats {
  messagesReceived: number;
  /** Malformed, misaddressed or stale messages dropped. */
  messagesDropped: number;
  /** Vote requests ignored because a leader was heard from within the election timeout (check-quorum lease). */
  votesIgnoredInLease: number;
  messagesSent: number;
  proposalsRefused: number;
  electionsStarted: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
}
