/**
 * The random-schedule runner behind raft-safety.test.ts, in its own module
 * so a failing counterexample can be replayed alone:
 *   node -e "import('./dist/test/property/raft-schedule.js').then(m => m.runSchedule(...JSON.parse(require('fs').readFileSync('ce.json','utf8'))))"
 */

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cluster, text } from '../unit/raft/cluster.js';
import type { RaftMessage } from '../../lib/protocol/raft/messages.js';

export type Action =
  | { t: 'deliver'; i: number; count: number }
  | { t: 'duplicate'; i: number }
  | { t: 'drop'; i: number }
  | { t: 'tick'; ms: number }
  | { t: 'propose'; node: number; toLeader: boolean }
  | { t: 'flush'; node: number }
  | { t: 'flush-all' }
  | { t: 'crash'; node: number }
  | { t: 'snapshot'; node: number }
  | { t: 'transfer'; node: number; to: number }
  | { t: 'read'; node: number }
  | { t: 'partition'; node: number }
  | { t: 'heal' }
  | { t: 'member'; node: number; change: 'add-learner' | 'promote' | 'remove' };

const nodeArb = fc.nat(4);
export const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 40, arbitrary: fc.record({ t: fc.constant('deliver' as const), i: fc.nat(), count: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('duplicate' as const), i: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('drop' as const), i: fc.nat() }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 20, arbitrary: fc.record({ t: fc.constant('propose' as const), node: nodeArb, toLeader: fc.boolean() }) },
  { weight: 25, arbitrary: fc.record({ t: fc.constant('flush' as const), node: nodeArb }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('flush-all' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crash' as const), node: nodeArb }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('snapshot' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('transfer' as const), node: nodeArb, to: nodeArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('read' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('partition' as const), node: nodeArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('heal' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('member' as const), node: nodeArb, change: fc.constantFrom('add-learner' as const, 'promote' as const, 'remove' as const) }) },
);

class Checker {
  readonly leaderOfTerm = new Map<number, string>();
  readonly committed = new Map<number, string>();
  readonly applied = new Map<number, string>();
  private readonly seenApplications = new Map<string, number>();

  check(c: Cluster): void {
    for (const n of c.nodes.values()) {
      const core = n.core;
      if (core.role === 'leader') {
        const prior = this.leaderOfTerm.get(core.term);
        assert.ok(prior === undefined || prior === n.id, `two leaders in term ${core.term}: ${prior} and ${n.id}`);
        this.leaderOfTerm.set(core.term, n.id);
      }
      const log = core.log;
      for (let i = log.firstIndex(); i <= log.committed; i++) {
        const e = log.entry(i)!;
        const key = `${e.term}:${e.kind}:${text(e.data)}:${e.change?.type ?? ''}`;
        const known = this.committed.get(i);
        assert.ok(known === undefined || known === key, `committed entry ${i} changed: ${known} vs ${key} on ${n.id}`);
        this.committed.set(i, key);
      }
      assert.ok(log.applying <= Math.max(log.persisted, log.offset().index), `${n.id} handed out entries to apply beyond what is durable`);
      const from = this.seenApplications.get(n.id) ?? 0;
      for (const a of n.applications.slice(from)) {
        const key = `${a.term}:${a.command}`;
        const known = this.applied.get(a.index);
        assert.ok(known === undefined || known === key, `index ${a.index} applied as ${key} on ${n.id} but ${known} elsewhere`);
        this.applied.set(a.index, key);
      }
      this.seenApplications.set(n.id, n.applications.length);
    }
  }
}

/** What the schedules exercised, summed over all runs (so a vacuous generator fails the test). */
export const coverage = { maxCommit: 0, commits: 0, snapshotsSent: 0, snapshotsInstalled: 0, elections: 0, restarts: 0, readStates: 0, membershipChanges: 0, removals: 0 };

/**
 * `size` nodes; the first three are the initial voters, the others start
 * outside the group and join through membership changes (which may also
 * remove any node, the leader included).
 */
export function runSchedule(size: number, seed: number, actions: Action[], features: { preVote: boolean; checkQuorum: boolean } = { preVote: true, checkQuorum: true }): void {
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5'].slice(0, size);
  const membership = { voters: ids.slice(0, 3), learners: [] };
  const c = new Cluster(ids, { seed, membership, config: { snapshotTrailingEntries: 2, snapshotChunkBytes: 16, ...features } });
  for (const n of c.nodes.values()) n.autoPersist = false;
  const checker = new Checker();
  const pick = (k: number) => ids[k % ids.length]!;
  let proposals = 0;
  c.processAll();
  for (const a of actions) {
    switch (a.t) {
      case 'deliver':
        for (let k = 0; k < a.count && c.queue.length > 0; k++) c.deliverOne(c.queue.splice((a.i + k * 7919) % c.queue.length, 1)[0]!);
        break;
      case 'duplicate':
      case 'drop': {
        if (c.queue.length === 0) break;
        const k = a.i % c.queue.length;
        const m: RaftMessage = c.queue[k]!;
        if (a.t === 'drop') c.queue.splice(k, 1);
        else c.deliverOne(m);
        break;
      }
      case 'tick':
        c.tickTo(c.now + a.ms);
        break;
      case 'propose':
        c.propose(a.toLeader ? (c.leader() ?? pick(a.node)) : pick(a.node), `p${++proposals}`);
        break;
      case 'flush':
        c.flush(pick(a.node));
        break;
      case 'flush-all':
        for (const id of ids) c.flush(id);
        break;
      case 'crash':
        c.crash(pick(a.node));
        c.node(pick(a.node)).autoPersist = false;
        break;
      case 'snapshot': {
        const n = c.node(pick(a.node));
        if (n.appliedIndex > (n.core.snapshot?.meta.index ?? 0)) c.snapshot(n.id);
        break;
      }
      case 'transfer':
        c.step(pick(a.node), { type: 'transfer-leader', to: pick(a.to) });
        break;
      case 'read':
        c.step(pick(a.node), { type: 'read-index', requestId: `r${c.now}` });
        break;
      case 'partition':
        c.isolate(pick(a.node));
        break;
      case 'heal':
        c.heal();
        break;
      case 'member': {
        const leader = c.leader();
        if (leader !== null) c.step(leader, { type: 'change-membership', requestId: `m${c.now}`, change: { type: a.change, node: pick(a.node) } });
        break;
      }
    }
    checker.check(c);
  }
  // Heal everything, make every write durable, and let the group settle.
  c.heal();
  for (const n of c.nodes.values()) {
    n.autoPersist = true;
    c.flush(n.id);
  }
  c.run(3000);
  checker.check(c);
  for (const n of c.nodes.values()) {
    coverage.maxCommit = Math.max(coverage.maxCommit, n.core.log.committed);
    coverage.commits += n.core.log.committed;
    coverage.snapshotsSent += n.core.stats.snapshotsSent;
    coverage.snapshotsInstalled += n.core.stats.snapshotsInstalled;
    coverage.elections += n.core.stats.electionsStarted;
    coverage.restarts += n.restarts;
    coverage.readStates += n.readStates.length;
    coverage.membershipChanges += n.events.filter((e) => e.type === 'membership-changed').length;
    coverage.removals += n.events.filter((e) => e.type === 'removed').length;
  }
  // Nodes outside the group (by the most recently adopted membership) are stopped, as the shell stops a
  // group on a removed node; without pre-vote a removed node that never learned of it would keep
  // disrupting elections (thesis §4.2.3).
  const latest = [...c.nodes.values()].map((n) => n.core).reduce((a, b) => (b.configIndex > a.configIndex ? b : a));
  const members = [...latest.membership.voters, ...latest.membership.learners];
  for (const id of ids) if (!members.includes(id)) c.isolate(id);
  c.run(3000);
  checker.check(c);
  const leader = c.leader();
  assert.ok(leader !== null && members.includes(leader), 'no leader among the members after healing');
  c.propose(leader, 'final');
  c.run(1000);
  checker.check(c);
  const expected = c.node(leader).machine;
  assert.equal(expected[expected.length - 1], 'final');
  for (const id of members) assert.deepEqual(c.node(id).machine, expected, `${id} applied a different sequence than leader ${leader}`);
}

