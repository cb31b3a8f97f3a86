/**
 * The Jepsen-style tests' history (test/harness/tables-client.ts) leaves
 * writes of unknown outcome whose value nobody observed out of the check:
 * that must keep every write some operation saw, never turn a correct
 * store's history into an anomaly, and never hide one.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { History, type RecordedOperation } from '../harness/tables-client.js';
import { checkKvHistory, type KvInput } from '../sim/linearizability.js';

const base = { node: 'n1', note: '' };
const ok = (client: number, input: KvInput, output: RecordedOperation['output'], callAt: number, returnAt: number, current?: unknown): RecordedOperation => ({
  ...base, client, input, output, callAt, returnAt, type: 'ok', ...(current === undefined ? {} : { current }),
});
const unknown = (client: number, input: KvInput, callAt: number): RecordedOperation => ({ ...base, client, input, callAt, type: 'info' });

function historyOf(operations: RecordedOperation[]): History {
  const history = new History();
  history.operations.push(...operations);
  return history;
}

describe('History.checkable', () => {
  it('leaves out exactly the unknown writes whose value no read, cas or failed cas current saw', () => {
    const read = unknown(1, { op: 'put', key: 'k', value: 1 }, 0);
    const expected = unknown(2, { op: 'put', key: 'k', value: 2 }, 0);
    const current = unknown(3, { op: 'put', key: 'k', value: 3 }, 0);
    const unseen = unknown(4, { op: 'put', key: 'k', value: 4 }, 0);
    const unseenCas = unknown(5, { op: 'cas', key: 'k', expected: 1, value: 5 }, 0);
    const otherKey = unknown(6, { op: 'put', key: 'other', value: 1 }, 0);
    const history = historyOf([
      read, expected, current, unseen, unseenCas, otherKey,
      ok(7, { op: 'get', key: 'k' }, { value: 1 }, 1, 2),
      ok(7, { op: 'cas', key: 'k', expected: 2, value: 6 }, { ok: false }, 3, 4, 3),
    ]);
    const { operations, leftOut } = history.checkable();
    assert.deepEqual(leftOut, [unseen, unseenCas, otherKey]);
    assert.equal(operations.length, 5);
  });

  it('still finds a lost acknowledged write among unknown ones', () => {
    const history = historyOf([
      ok(1, { op: 'put', key: 'k', value: 1 }, { ok: true }, 0, 1),
      unknown(2, { op: 'put', key: 'k', value: 2 }, 0),
      unknown(3, { op: 'put', key: 'k', value: 3 }, 2),
      ok(4, { op: 'get', key: 'k' }, { value: null }, 5, 6),
    ]);
    const result = checkKvHistory(history.checkable().operations);
    assert.equal(result.ok, false);
  });

  it('keeps the histories of a correct register linearizable, however many writes are unknown (property)', () => {
    const step = fc.record({
      kind: fc.constantFrom('get', 'put', 'cas'),
      client: fc.integer({ min: 1, max: 6 }),
      before: fc.integer({ min: 0, max: 40 }),
      after: fc.integer({ min: 0, max: 40 }),
      unknown: fc.boolean(),
      applied: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
        // One register run in order, the linearization point of operation i at 10·i; each client remembers what it last saw, as the tests' clients do.
        let state: unknown = null;
        const seen = new Map<number, unknown>();
        const operations = steps.map((s, i): RecordedOperation => {
          const [callAt, returnAt] = [i * 10 - s.before, i * 10 + s.after];
          if (s.kind === 'get') {
            seen.set(s.client, state);
            return ok(s.client, { op: 'get', key: 'k' }, { value: state }, callAt, returnAt);
          }
          const value = i + 1; // unique per write
          if (s.kind === 'put') {
            if (!s.unknown || s.applied) state = value;
            return s.unknown ? unknown(s.client, { op: 'put', key: 'k', value }, callAt) : ok(s.client, { op: 'put', key: 'k', value }, { ok: true }, callAt, returnAt);
          }
          const expected = seen.get(s.client) ?? null;
          const matches = JSON.stringify(expected) === JSON.stringify(state);
          const before = state;
          if (matches && (!s.unknown || s.applied)) state = value;
          if (s.unknown) return unknown(s.client, { op: 'cas', key: 'k', expected, value }, callAt);
          return ok(s.client, { op: 'cas', key: 'k', expected, value }, { ok: matches }, callAt, returnAt, matches ? undefined : before);
        });
        return checkKvHistory(historyOf(operations).checkable().operations).ok;
      }),
      { numRuns: 300 },
    );
  });
});
