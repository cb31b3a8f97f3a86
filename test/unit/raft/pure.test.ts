import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRaftConfig, localTestRaftConfig, validateRaftConfig, type RaftConfig } from '../../../lib/protocol/raft/config.js';
import { applyChange, checkChange } from '../../../lib/protocol/raft/configuration.js';
import { RaftLog } from '../../../lib/protocol/raft/log.js';
import { parseRaftMessage } from '../../../lib/protocol/raft/messages.js';
import { Inflights, Progress } from '../../../lib/protocol/raft/progress.js';
import { majority, quorumIndex, voteResult } from '../../../lib/protocol/raft/quorum.js';
import { ReadOnlyQueue } from '../../../lib/protocol/raft/read-only.js';
import { RaftCore } from '../../../lib/protocol/raft/raft.js';
import { SeededRandom } from '../../../lib/protocol/random.js';
import { ConfigError } from '../../../lib/errors.js';
import { entries, lone } from './helpers.js';

test('config: defaults and the test profile are valid; each rule is stated', () => {
  assert.equal(validateRaftConfig(defaultRaftConfig()), null);
  assert.equal(validateRaftConfig(localTestRaftConfig()), null);
  const cases: [Partial<RaftConfig>, keyof RaftConfig, RegExp][] = [
    [{ heartbeatIntervalMs: 0 }, 'heartbeatIntervalMs', /positive integer/],
    [{ electionTimeoutMinMs: 150 }, 'electionTimeoutMinMs', /2 × heartbeatIntervalMs/],
    [{ electionTimeoutMaxMs: 1000 }, 'electionTimeoutMaxMs', /greater than electionTimeoutMinMs/],
    [{ maxInflightAppends: 1.5 }, 'maxInflightAppends', /positive integer/],
    [{ maxInflightBytes: -1 }, 'maxInflightBytes', /non-negative/],
    [{ preVote: 'yes' as unknown as boolean }, 'preVote', /true or false/],
  ];
  for (const [patch, field, rule] of cases) {
    const problem = validateRaftConfig({ ...defaultRaftConfig(), ...patch });
    assert.equal(problem?.field, field, JSON.stringify(patch));
    assert.match(problem!.rule, rule);
  }
  assert.throws(() => new RaftCore({ ...defaultRaftConfig(), heartbeatIntervalMs: -1 }, { id: 'a', group: 'g', membership: { voters: ['a'], learners: [] } }, new SeededRandom(1), 0), ConfigError);
});

test('quorum arithmetic: majority, the commit index of a majority, vote outcomes', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
  const match: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 3 };
  assert.equal(quorumIndex(['a', 'b', 'c'], (id) => match[id]!), 5);
  assert.equal(quorumIndex(['a', 'b', 'c', 'd', 'e'], (id) => match[id]!), 3);
  assert.equal(quorumIndex(['a', 'b', 'c', 'd'], (id) => match[id]!), 3);
  assert.equal(quorumIndex([], () => 9), 0);
  const votes = (o: Record<string, boolean>) => new Map(Object.entries(o));
  assert.equal(voteResult(['a', 'b', 'c'], votes({ a: true, b: true })), 'won');
  assert.equal(voteResult(['a', 'b', 'c'], votes({ a: true, b: false })), 'pending');
  assert.equal(voteResult(['a', 'b', 'c'], votes({ a: true, b: false, c: false })), 'lost');
  assert.equal(voteResult(['a', 'b', 'c', 'd'], votes({ a: true, b: true })), 'pending');
  assert.equal(voteResult(['a', 'b', 'c'], votes({ a: true, x: true })), 'pending', 'non-voters do not count');
});

test('log: the conflict hint is the last index at or below the probe whose term is ≤ the probe\'s term; compacted terms are unknown', () => {
  const log = new RaftLog({ offsetIndex: 0, offsetTerm: 0, entries: entries([1, 1, 2, 2, 2, 5, 5]), committed: 0, applied: 0 });
  const cases: [number, number, { index: number; term: number }][] = [
    [7, 5, { index: 7, term: 5 }],
    [7, 4, { index: 5, term: 2 }],
    [7, 1, { index: 2, term: 1 }],
    [7, 0, { index: 0, term: 0 }],
    [20, 3, { index: 5, term: 2 }],
  ];
  for (const [index, term, want] of cases) assert.deepEqual(log.findConflictByTerm(index, term), want, `${index}@${term}`);
  const compacted = new RaftLog({ offsetIndex: 4, offsetTerm: 2, entries: entries([1, 1, 2, 2, 3, 4]).slice(4), committed: 4, applied: 4 });
  assert.deepEqual(compacted.findConflictByTerm(6, 1), { index: 3, term: 0 });
  assert.equal(compacted.term(3), undefined);
  assert.equal(compacted.term(4), 2);
});

test('log: appends keep a matching suffix, replace a conflicting one, refuse a gap, never touch the committed prefix', () => {
  const log = new RaftLog({ offsetIndex: 0, offsetTerm: 0, entries: entries([1, 1, 1]), committed: 1, applied: 0 });
  assert.equal(log.maybeAppend(1, 1, 0, entries([1, 1]).slice(1)), 2);
  assert.equal(log.lastIndex(), 3, 'a stale shorter append does not truncate a matching suffix');
  assert.equal(log.maybeAppend(5, 1, 0, []), null, 'a gap is refused');
  assert.equal(log.maybeAppend(2, 1, 9, entries([1, 1, 2, 2]).slice(2)), 4);
  assert.deepEqual([log.term(3), log.term(4), log.committed, log.persisted], [2, 2, 4, 2], 'replaced from 3; persisted pulled back below the rewrite');
  assert.throws(() => log.truncateAndAppend(entries([3]).map((e) => ({ ...e, index: 1 }))), /cannot write at 1/);
});

test('progress: probe sends one at a time, replicate fills the window, stale rejections are ignored', () => {
  const pr = new Progress(11, false, 2, 0);
  assert.equal(pr.isPaused(), false);
  pr.sentAppend(10, 0, 0);
  assert.equal(pr.isPaused(), true);
  assert.equal(pr.maybeDecrTo(9, 5), false, 'stale: not the outstanding probe');
  assert.equal(pr.maybeDecrTo(10, 5), true);
  assert.equal(pr.next, 6);
  pr.maybeUpdate(5);
  pr.becomeReplicate();
  pr.sentAppend(8, 30, 3);
  pr.sentAppend(9, 10, 1);
  assert.equal(pr.isPaused(), true);
  pr.inflights.freeLE(8);
  assert.equal(pr.isPaused(), false);
  assert.equal(pr.maybeDecrTo(4, 0), false, 'at or below match: stale');
  const inflights = new Inflights(10, 100);
  inflights.add(1, 60);
  inflights.add(2, 50);
  assert.equal(inflights.full(), true, 'the byte budget is spent');
});

test('membership changes: a node is added once as a learner, promoted only from learner, the last voter stays', () => {
  const m = { voters: ['a', 'b'], learners: ['c'] };
  assert.equal(checkChange(m, { type: 'add-learner', node: 'd' }), null);
  assert.match(checkChange(m, { type: 'add-learner', node: 'a' })!, /already a member/);
  assert.match(checkChange(m, { type: 'promote', node: 'a' })!, /not a learner/);
  assert.match(checkChange({ voters: ['a'], learners: [] }, { type: 'remove', node: 'a' })!, /last voter/);
  assert.deepEqual(applyChange(m, { type: 'promote', node: 'c' }), { voters: ['a', 'b', 'c'], learners: [] });
  assert.deepEqual(applyChange(m, { type: 'remove', node: 'c' }), { voters: ['a', 'b'], learners: [] });
});

test('ReadOnlyQueue: one quorum of answers to a later context confirms every earlier request, in order', () => {
  const q = new ReadOnlyQueue();
  const c1 = q.add('r1', 'a', 5, 'a');
  const c2 = q.add('r2', 'a', 6, 'a');
  q.ack('b', c1);
  assert.deepEqual(q.release(['a', 'b', 'c', 'd', 'e']).map((r) => r.requestId), []);
  q.ack('c', c2);
  assert.deepEqual(q.release(['a', 'b', 'c', 'd', 'e']).map((r) => r.requestId), ['r1']);
  q.ack('b', c2);
  assert.deepEqual(q.release(['a', 'b', 'c', 'd', 'e']).map((r) => r.requestId), ['r2']);
});

test('messages: malformed or hostile input is rejected without throwing, and the core drops and counts it', () => {
  const ok = { type: 'append', group: 'g', term: 3, from: 'a', to: 'x', prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 3, kind: 'data', data: new Uint8Array([1]) }], commit: 0 };
  assert.ok(parseRaftMessage(ok) !== null);
  const bad: unknown[] = [
    null, 42, 'append', [], { ...ok, type: 'nope' }, { ...ok, term: -1 }, { ...ok, term: 1.5 }, { ...ok, from: '' },
    { ...ok, entries: [{ index: 2, term: 3, kind: 'data', data: new Uint8Array() }] }, // not consecutive from prevIndex + 1
    { ...ok, entries: [{ index: 1, term: 4, kind: 'data', data: new Uint8Array() }] }, // term above the sender's
    { ...ok, entries: [{ index: 1, term: 3, kind: 'data', data: 'text' }] },
    { ...ok, entries: [{ index: 1, term: 3, kind: 'config', data: new Uint8Array() }] }, // config without a change
    { ...ok, entries: {} }, { ...ok, commit: Number.MAX_SAFE_INTEGER + 2 },
    { type: 'snapshot', group: 'g', term: 1, from: 'a', to: 'x', meta: { index: 1, term: 1, membership: { voters: ['a'], learners: ['a'] } }, offset: 0, total: 0, chunk: new Uint8Array() },
    { type: 'snapshot', group: 'g', term: 1, from: 'a', to: 'x', meta: { index: 1, term: 1, membership: { voters: ['a'], learners: [] } }, offset: 4, total: 2, chunk: new Uint8Array(1) },
    { type: 'request-vote', group: 'g', term: 1, from: 'a', to: 'x', lastIndex: 0, lastTerm: 0 },
    Object.defineProperty({ ...ok }, 'term', { get() { throw new Error('boom'); }, enumerable: true }),
  ];
  bad.forEach((b, i) => assert.equal(parseRaftMessage(b), null, `bad message #${i}`));
  const parsed = parseRaftMessage({ ...ok, extra: 'ignored', entries: [] });
  assert.deepEqual(Object.keys(parsed!).sort(), ['commit', 'entries', 'from', 'group', 'prevIndex', 'prevTerm', 'term', 'to', 'type']);

  const core = lone('x');
  for (const b of bad) core.step({ type: 'message', msg: b as never }, 0);
  core.step({ type: 'message', msg: { ...ok, group: 'other' } as never }, 0);
  core.step({ type: 'message', msg: { ...ok, to: 'y' } as never }, 0);
  assert.equal(core.stats.messagesDropped, bad.length + 2);
  assert.equal(core.term, 0);
});

test('a lone core is deterministic: the same seed and inputs give the same outputs', () => {
  const run = () => {
    const core = new RaftCore(localTestRaftConfig(), { id: 'a', group: 'g', membership: { voters: ['a', 'b', 'c'], learners: [] } }, new SeededRandom(42), 0);
    const out: unknown[] = [];
    for (let t = 0; t <= 1000; t += 50) {
      core.step({ type: 'tick' }, t);
      const rd = core.ready();
      out.push(rd.messages.map((m) => [m.to, m.msg.type, m.msg.term]), rd.nextWakeAt);
      core.advance(rd);
      if (rd.persist) core.step({ type: 'persisted', id: rd.persist.id }, t);
    }
    return JSON.stringify(out);
  };
  assert.equal(run(), run());
});
