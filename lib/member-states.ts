/**
 * The state of every member by name, kept current from member events, for
 * the request paths (tables, actors): a request asks for a few voters' states, and
 * rebuilding the node's member list (mapped and sorted) per request was the
 * alternative.
 */
import type { MemberEvents } from '../actors/member-events.js';
import type { MemberState, MemberStatus } from './node-api.js';

export class MemberStates {
  private readonly states = new Map<string, MemberState>();
  private readonly unsubscribe: () => void;

  constructor(events: Pick<MemberEvents, 'subscribe'>, initial: readonly MemberStatus[]) {
    for (const m of initial) this.states.set(m.name, m.state);
    this.unsubscribe = events.subscribe((msg) => {
      if (msg.event === 'member-removed') this.states.delete(msg.member.name);
      else this.states.set(msg.member.name, msg.member.state);
    });
  }

  stateOf(name: string): MemberState | undefined {
    return this.states.get(name);
  }

  /** Members whose state is `up`. */
  up(): string[] {
    return [...this.states].filter(([, state]) => state === 'up').map(([name]) => name);
  }

  close(): void {
    this.unsubscribe();
  }
}
