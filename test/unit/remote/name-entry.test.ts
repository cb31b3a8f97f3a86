import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteRef } from '../../../lib/remote/actor-ref.js';
import '../../../lib/remote/wire.js'; // registers the reference extension, as every node does
import {
  formerLife, nameEntry, nameProblem, ownEntry, parseEntry, releasedBy, retryableNamesError, sameEntry, singletonActorName, singletonKey, singletonNameProblem, sweepDelayMs, SWEEP_STAGGER_MS, type NameEntry,
} from '../../../lib/remote/name-entry.js';
import { decodeValue, encodeExpected, encodeValue } from '../../../lib/tables/commands.js';
import { BadRequestError, NameTakenError, PartitionUnavailableError, TableNotReadyError, TimeoutError } from '../../../lib/errors.js';
import { OutcomeUnknownError } from '../../../lib/raft/requests.js';

const entry = (over: Partial<NameEntry> = {}): NameEntry => nameEntry({ node: 'a@h', path: ['room', 'lobby'], by: 'a@h', owner: 'o1', kind: 'name', at: 1_700_000_000_000, ...over });

describe('name rules', () => {
  const cases: [unknown, RegExp | null][] = [
    ['lobby', null],
    ['rooms/lobby 1', null],
    ['x'.repeat(200), null],
    ['x'.repeat(201), /at most 200/],
    ['', /non-empty/],
    [42, /non-empty/],
    ['$singleton/x', /reserved/],
  ];
  for (const [name, problem] of cases) {
    it(`${JSON.stringify(name).slice(0, 30)} → ${problem ?? 'ok'}`, () => {
      const got = nameProblem(name);
      if (problem === null) assert.equal(got, null);
      else assert.match(got ?? '', problem);
    });
  }

  it('singleton names are what a nact actor name allows, and map to their key and actor name', () => {
    assert.equal(singletonNameProblem('clock'), null);
    assert.equal(singletonNameProblem("a-b_c.d+e!f*g'h(i)j,k"), null);
    assert.ok(singletonNameProblem('a/b'));
    assert.ok(singletonNameProblem('a b'));
    assert.ok(singletonNameProblem(''));
    assert.ok(singletonNameProblem('x'.repeat(101)));
    assert.equal(singletonKey('clock'), '$singleton/clock');
    assert.equal(singletonActorName('clock'), '$singleton-clock');
  });
});

describe('entries', () => {
  it('parseEntry accepts entries and refuses anything else', () => {
    assert.deepEqual(parseEntry(entry()), entry());
    assert.deepEqual(parseEntry(entry({ kind: 'singleton' })), entry({ kind: 'singleton' }));
    for (const bad of [null, 'x', 1, {}, { ...entry(), kind: 'other' }, { ...entry(), path: [] }, { ...entry(), path: [''] }, { ...entry(), at: '1' }, { ...entry(), owner: undefined }]) {
      assert.equal(parseEntry(bad), null, JSON.stringify(bad));
    }
  });

  it('an entry read back from the table encodes to the bytes it was stored as (a cas compares bytes)', () => {
    const bytes = (value: unknown): string => Buffer.from(encodeExpected(value)!).toString('hex');
    const stored = encodeValue(entry());
    const read = decodeValue(stored);
    assert.equal(bytes(read), Buffer.from(stored).toString('hex'));
    assert.equal(bytes(parseEntry(read)), bytes(read));
    assert.equal(bytes(nameEntry({ at: 1_700_000_000_000, kind: 'name', owner: 'o1', by: 'a@h', path: ['room', 'lobby'], node: 'a@h' })), bytes(read), 'field order is fixed by nameEntry');
  });

  it('a RemoteRef inside a table value survives the table codec (the wire extension is global)', () => {
    const value = decodeValue<{ ref: RemoteRef }>(encodeValue({ ref: new RemoteRef('b@h', ['x', 'y']) }));
    assert.ok(value.ref instanceof RemoteRef && value.ref.equals(new RemoteRef('b@h', ['x', 'y'])));
  });

  it('sameEntry compares every field', () => {
    assert.ok(sameEntry(entry(), entry()));
    for (const over of [{ node: 'b@h' }, { path: ['room'] }, { path: ['room', 'other'] }, { by: 'b@h' }, { owner: 'o2' }, { kind: 'singleton' as const }, { at: 1 }]) {
      assert.ok(!sameEntry(entry(), entry(over)), JSON.stringify(over));
    }
  });

  it('who an entry dies with, and whose it is', () => {
    const remote = entry({ node: 'b@h', by: 'a@h' });
    assert.ok(releasedBy(remote, 'a@h'), 'the registering node');
    assert.ok(releasedBy(remote, 'b@h'), 'the actor\'s node');
    assert.ok(!releasedBy(remote, 'c@h'));
    assert.ok(ownEntry(remote, 'a@h', 'o1'));
    assert.ok(!ownEntry(remote, 'a@h', 'o2'));
    assert.ok(!ownEntry(remote, 'b@h', 'o1'));
    assert.ok(formerLife(remote, 'a@h', 'o2'), 'same node name, another process');
    assert.ok(!formerLife(remote, 'a@h', 'o1'));
    assert.ok(!formerLife(remote, 'b@h', 'o2'), 'only the registering node\'s former lives');
  });
});

describe('sweepDelayMs', () => {
  const live = ['a', 'b', 'c', 'd', 'e'];

  it('gives the live nodes distinct ranks: one sweeps at once, the others one stagger apart', () => {
    for (const gone of ['x', 'y', 'c']) {
      const delays = live.filter((n) => n !== gone).map((n) => sweepDelayMs(n, live, gone)).sort((p, q) => p - q);
      assert.deepEqual(delays, delays.map((_, i) => i * SWEEP_STAGGER_MS), `gone ${gone}`);
    }
  });

  it('is the same in any order of the members; a node not among them ranks last', () => {
    assert.equal(sweepDelayMs('b', live, 'x'), sweepDelayMs('b', [...live].reverse(), 'x'));
    assert.equal(sweepDelayMs('z', live, 'x'), live.length * SWEEP_STAGGER_MS);
  });

  it('spreads the first sweeper over the nodes', () => {
    const first = new Set(Array.from({ length: 50 }, (_, i) => live.find((n) => sweepDelayMs(n, live, `gone-${i}`) === 0)));
    assert.ok(first.size >= 3, `first sweepers: ${[...first].join(', ')}`);
  });
});

describe('retryableNamesError', () => {
  it('retries what may pass later, including unknown outcomes (every write is checked against its owner), never input errors', () => {
    assert.ok(retryableNamesError(new TableNotReadyError('t')));
    assert.ok(retryableNamesError(new PartitionUnavailableError('t', 0, ['a'], 3)));
    assert.ok(retryableNamesError(new OutcomeUnknownError('cas', 'lost')));
    assert.ok(retryableNamesError(new TimeoutError('cas', 10)));
    assert.ok(!retryableNamesError(new BadRequestError('bad')));
    assert.ok(!retryableNamesError(new NameTakenError('n', 'a@h/x', 'a@h')));
  });
});
