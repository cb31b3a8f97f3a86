/**
 * SWIM membership: the pure core and what a shell needs to drive it.
 * See membership.ts for the mechanism and ../ready.ts for the driving contract.
 */

export { Membership } from './membership.js';
export type { MemberEventType, MemberState, MemberView, MembershipEvent, MembershipInput, MembershipStats } from './types.js';
export { parseSwimMessage, type SwimMessage } from './messages.js';
export {
  defaultSwimConfig, validateSwimConfig, probeTimeout, retransmitLimit, gossipInterval, joinTimeout, lagTolerance, type SwimConfig,
} from './config.js';
export { compareRecords, mergeRecord, type MemberRecord, type RecordState } from './record.js';
