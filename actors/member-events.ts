/**
 * Membership events as actor messages: a subscription that turns the node's
 * member events (the `member-*` events lib/node.ts emits from the membership
 * actor) into `{ type: 'member-event', event, member }` messages dispatched to
 * subscribed actors, so actors (the raft host, placement) react in their own
 * mailbox order instead of in callbacks into the wiring.
 *
 * It also keeps the last known address of every member by name, which is
 * how actors that name nodes (Raft groups do) find where to send.
 *
 * A subscriber that throws or is stopped never affects the others or the
 * source: dispatch is fire-and-forget, and a function subscriber's error is
 * caught and logged.
 */
import { dispatch, type Ref } from 'nact';
import type { Logger } from '../lib/log.js';
import type { MemberStatus } from '../lib/node-api.js';

export const MEMBER_EVENT_TYPES = ['member-joining', 'member-up', 'member-suspect', 'member-down', 'member-leaving', 'member-left', 'member-removed'] as const;
export type MemberEventType = (typeof MEMBER_EVENT_TYPES)[number];

export interface MemberEventMsg {
  type: 'member-event';
  event: MemberEventType;
  member: MemberStatus;
}

/** What the subscription listens to: a TroupeNode, or any emitter of the same member events. */
export interface MemberEventSource {
  on(event: MemberEventType, listener: (member: MemberStatus) => void): unknown;
  off(event: MemberEventType, listener: (member: MemberStatus) => void): unknown;
}

export type MemberEventSubscriber = Ref<any> | ((msg: MemberEventMsg) => void);

export class MemberEvents {
  private readonly subscribers = new Set<MemberEventSubscriber>();
  private readonly addresses = new Map<string, string>();
  private readonly listeners: [MemberEventType, (member: MemberStatus) => void][] = [];

  /** `initial` seeds the address book with the members known before the subscription started. */
  constructor(private readonly source: MemberEventSource, private readonly log: Logger, initial: MemberStatus[] = []) {
    for (const m of initial) if (m.address !== '') this.addresses.set(m.name, m.address);
    for (const event of MEMBER_EVENT_TYPES) {
      const listener = (member: MemberStatus): void => this.publish(event, member);
      source.on(event, listener);
      this.listeners.push([event, listener]);
    }
  }

  /** Delivers every later member event to `subscriber`; returns the unsubscribe function. */
  subscribe(subscriber: MemberEventSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /** The last address `name` was seen at, if any. */
  addressOf(name: string): string | undefined {
    return this.addresses.get(name);
  }

  /** Emits an event as if the source had (for tests, and for sources that learn of members another way). */
  publish(event: MemberEventType, member: MemberStatus): void {
    if (member.address !== '' && event !== 'member-removed') this.addresses.set(member.name, member.address);
    const msg: MemberEventMsg = { type: 'member-event', event, member };
    for (const s of this.subscribers) {
      try {
        if (typeof s === 'function') s(msg);
        else dispatch(s, msg);
      } catch (err) {
        this.log.error({ err, event }, 'a member-event subscriber threw; the error is ignored');
      }
    }
  }

  /** Stops listening to the source. Idempotent. */
  close(): void {
    for (const [event, listener] of this.listeners.splice(0)) this.source.off(event, listener);
    this.subscribers.clear();
  }
}
