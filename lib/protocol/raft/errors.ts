/**
 * Typed refusals of the Raft core. The core never throws them: it returns
 * them as data in events (`proposal-refused`, `read-index-refused`,
 * `request-refused`), and the shell rejects the caller's promise with them.
 *
 * Both are retryable: the same request may succeed later, at the hinted
 * leader or once the condition (a transfer, a full pipeline) has passed.
 * Neither says anything about an earlier attempt of the same write: a
 * proposal that was appended and then lost with its leader has an unknown
 * outcome (thesis §6.3), which the shell reports separately.
 */

import { TroupeError } from '../../errors.js';
import type { NodeId } from './types.js';

/** This node is not the group's leader. `leaderHint` is the leader it knows of, if any, in `term`. */
export class NotLeaderError extends TroupeError {
  constructor(
    readonly group: string,
    readonly leaderHint: NodeId | null,
    readonly term: number,
  ) {
    super(
      'ERR_NOT_LEADER',
      leaderHint === null
        ? `raft group ${group} has no known leader (term ${term}): retry after an election timeout`
        : `this node is not the leader of raft group ${group}: retry at ${leaderHint} (term ${term})`,
      { retryable: true },
    );
  }
}

/**
 * Why a leader refused a request it could otherwise serve:
 *   transferring          a leadership transfer is in progress (thesis §3.10);
 *   uncommitted-limit     the leader's uncommitted log exceeds maxUncommittedBytes;
 *   config-pending        a membership change is still uncommitted (one at a time, thesis §4.1);
 *   learner-behind        a promotion asked for a learner that does not yet hold the committed log;
 *   invalid               the request itself cannot be served (see the message).
 */
export type DropReason = 'transferring' | 'uncommitted-limit' | 'config-pending' | 'learner-behind' | 'invalid';

export class ProposalDroppedError extends TroupeError {
  constructor(
    readonly group: string,
    readonly reason: DropReason,
    detail: string,
  ) {
    super('ERR_PROPOSAL_DROPPED', `raft group ${group} refused the request (${reason}): ${detail}`, { retryable: reason !== 'invalid' });
  }
}
