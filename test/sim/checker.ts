/**
 * Invariants checked after every simulated step, on the node that stepped
 * and the events it emitted. Each returns a reason when broken.
 *
 * - self-alive: a node's own record is never suspect or down in its own view.
 * - no-false-down (healthy runs only): no member is declared down while its
 *   process (same name and generation) is running — stalled counts as running.
 * - monotonic: the records an observer reports for a member only move up the
 *   precedence order (generation, incarnation, rank): views never regress.
 * - left-is-final: once an observer saw (name, generation) left, it never
 *   reports that process in another state (removal aside).
 */

import type { MembershipEvent, MemberView } from '../../lib/protocol/swim/membership.js';
import { rank } from '../../lib/protocol/swim/record.js';

export interface ClusterFacts {
  /** True when the process `name` of `generation` runs (possibly stalled). */
  isRunning(name: string, generation: number): boolean;
}

export interface CheckerOptions {
  /** Fail on any member-down of a running process (disable for partitions and crashes of the observer's peers). */
  noFalseDown: boolean;
}

export class Checker {
  /** observer -> member -> last reported key. */
  private readonly seen = new Map<string, Map<string, { generation: number; incarnation: number; rank: number; state: string }>>();
  checks = 0;

  constructor(private readonly options: CheckerOptions) {}

  setNoFalseDown(on: boolean): void {
    this.options.noFalseDown = on;
  }

  /** Forget what an observer saw (it restarted as a new process). */
  resetObserver(observer: string): void {
    this.seen.delete(observer);
  }

  afterStep(observer: string, self: MemberView, events: readonly MembershipEvent[], facts: ClusterFacts): string | null {
    this.checks++;
    if (self.state === 'suspect' || self.state === 'down') return `self-alive: ${observer} sees itself ${self.state}`;
    for (const event of events) {
      if (!('member' in event)) continue;
      const m = event.member;
      if (event.type === 'member-down' && this.options.noFalseDown && facts.isRunning(m.name, m.generation)) {
        return `no-false-down: ${observer} declared ${m.name} (generation ${m.generation}, incarnation ${m.incarnation}) down while it runs`;
      }
      if (event.type === 'member-removed') continue;
      let perObserver = this.seen.get(observer);
      if (perObserver === undefined) this.seen.set(observer, (perObserver = new Map()));
      const prev = perObserver.get(m.name);
      const key = { generation: m.generation, incarnation: m.incarnation, rank: rank(m.state), state: m.state };
      if (prev !== undefined && prev.generation === key.generation) {
        if (prev.state === 'left' && key.state !== 'left') return `left-is-final: ${observer} saw ${m.name} left, then ${key.state}`;
        if (key.incarnation < prev.incarnation || (key.incarnation === prev.incarnation && key.rank < prev.rank)) {
          return `monotonic: ${observer} saw ${m.name} go from ${prev.state}@${prev.incarnation} back to ${key.state}@${key.incarnation}`;
        }
      } else if (prev !== undefined && key.generation < prev.generation) {
        return `monotonic: ${observer} saw ${m.name} go back from generation ${prev.generation} to ${key.generation}`;
      }
      perObserver.set(m.name, key);
    }
    return null;
  }
}
