/**
 * The events a node emits to its application (`node.on('member-up', …)`),
 * made from what the membership core reports: each member event carries the
 * member's status; rejections are logged, not emitted. Listeners are
 * application code: one that throws is logged and ignored, never allowed to
 * crash the membership actor that delivered the event.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from './log.js';
import type { MemberStatus } from './node-api.js';
import { memberStatus } from './node-status.js';
import type { MembershipEvent } from './protocol/swim/membership.js';

/** Events a node emits; each member event carries the member's status. */
export interface TroupeNodeEvents {
  'member-joining': [MemberStatus];
  'member-up': [MemberStatus];
  'member-suspect': [MemberStatus];
  'member-down': [MemberStatus];
  'member-leaving': [MemberStatus];
  'member-left': [MemberStatus];
  'member-removed': [MemberStatus];
  'self-up': [];
  'leave-complete': [];
}

/** A handler for the membership core's events that logs them and emits them on `emitter`. */
export function membershipEventEmitter(emitter: EventEmitter<TroupeNodeEvents>, selfName: string, log: Logger): (event: MembershipEvent) => void {
  const emitSafely = <K extends keyof TroupeNodeEvents>(name: K, ...args: TroupeNodeEvents[K]): void => {
    try {
      (emitter.emit as (name: K, ...args: TroupeNodeEvents[K]) => boolean).call(emitter, name, ...args);
    } catch (err) {
      log.error({ err, event: name }, `a ${name} listener threw; the error is ignored`);
    }
  };
  return (event) => {
    if (event.type === 'rejected') {
      log.warn({ input: event.input, reason: event.reason }, 'membership request rejected');
      return;
    }
    if (event.type === 'self-up' || event.type === 'leave-complete') {
      log.info(event.type === 'self-up' ? 'this node is up' : 'leave complete');
      emitSafely(event.type);
      return;
    }
    const member = memberStatus(event.member, selfName);
    log.info({ member: member.name, address: member.address, state: member.state, incarnation: member.incarnation, generation: member.generation }, event.type);
    emitSafely(event.type, member);
  };
}
