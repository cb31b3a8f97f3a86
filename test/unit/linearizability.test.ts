/**
 * The checker must accept every linearizable history and reject the
 * anomalies replicated stores are known for: a stale read, a lost write, a
 * read that goes back in time, a compare-and-set that succeeded twice.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkKvHistory, type KvInput, type KvOutput, type Operation } from '../sim/linearizability.js';

const put = (client: number, key: string, value: unknown, callAt: number, returnAt?: number): Operation => ({ client, input: { op: 'put', key, value }, ...(returnAt === undefined ? {} : { output: { ok: true }, returnAt }), callAt });
const get = (client: number, key: string, value: unknown, callAt: number, returnAt: number): Operation => ({ client, input: { op: 'get', key }, output: { value }, callAt, returnAt });
const cas = (client: number, key: string, expected: unknown, value: unknown, ok: boolean, callAt: number, returnAt: number): Operation => ({ client, input: { op: 'cas', key, expected, value }, output: { ok }, callAt, returnAt });

describe('checkKvHistory', () => {
  it('accepts a sequential history', () => {
    assert.equal(checkKvHistory([put(1, 'k', 1, 0, 1), get(2, 'k', 1, 2, 3), cas(1, 'k', 1, 2, true, 4, 5), get(2, 'k', 2, 6, 7)]).ok, true);
  });

  it('accepts reads of either value while a write overlaps them', () => {
    assert.equal(checkKvHistory([put(1, 'k', 1, 0, 1), put(1, 'k', 2, 2, 10), get(2, 'k', 1, 3, 4), get(3, 'k', 2, 5, 6), get(2, 'k', 2, 7, 8)]).ok, true);
  });

  it('rejects a stale read: a value overwritten before the read began', () => {
    const result = checkKvHistory([put(1, 'k', 1, 0, 1), put(1, 'k', 2, 2, 3), get(2, 'k', 1, 4, 5)]);
    assert.equal(result.ok, false);
    assert.equal(result.key, 'k');
  });

  it('rejects a lost write: an acknowledged put that a later read does not see', () => {
    assert.equal(checkKvHistory([put(1, 'k', 1, 0, 1), get(2, 'k', null, 2, 3)]).ok, false);
  });

  it('rejects a read that goes back in time during a write', () => {
    assert.equal(checkKvHistory([put(1, 'k', 1, 0, 10), get(2, 'k', 1, 1, 2), get(3, 'k', null, 3, 4)]).ok, false);
  });

  it('rejects two compare-and-sets from the same value that both succeed', () => {
    assert.equal(checkKvHistory([put(1, 'k', 0, 0, 1), cas(1, 'k', 0, 1, true, 2, 5), cas(2, 'k', 0, 2, true, 3, 6)]).ok, false);
    assert.equal(checkKvHistory([put(1, 'k', 0, 0, 1), cas(1, 'k', 0, 1, true, 2, 5), cas(2, 'k', 0, 2, false, 3, 6)]).ok, true);
  });

  it('lets an operation that never returned take effect or not', () => {
    assert.equal(checkKvHistory([put(1, 'k', 1, 0), get(2, 'k', 1, 5, 6)]).ok, true, 'seen');
    assert.equal(checkKvHistory([put(1, 'k', 1, 0), get(2, 'k', null, 5, 6)]).ok, true, 'not (yet) seen');
    assert.equal(checkKvHistory([put(1, 'k', 1, 0), get(2, 'k', 1, 5, 6), get(2, 'k', null, 7, 8)]).ok, false, 'but not both, in that order');
  });

  it('checks keys independently', () => {
    const result = checkKvHistory([put(1, 'a', 1, 0, 1), get(2, 'a', 1, 2, 3), put(1, 'b', 1, 0, 1), get(2, 'b', null, 2, 3)]);
    assert.deepEqual([result.ok, result.key], [false, 'b']);
  });

  it('accepts every history built from a sequential execution whose points fall inside the intervals (property)', () => {
    const opArb = fc.record({ kind: fc.constantFrom('get', 'put', 'cas'), value: fc.integer({ min: 0, max: 3 }), expected: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }), before: fc.integer({ min: 0, max: 5 }), after: fc.integer({ min: 0, max: 5 }), crashed: fc.boolean() });
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        let state: unknown = null;
        const history: Operation[] = ops.map((o, i) => {
          const at = i * 3; // the linearization point; intervals around it overlap their neighbours
          let input: KvInput;
          let output: KvOutput;
          if (o.kind === 'get') {
            input = { op: 'get', key: 'k' };
            output = { value: state };
          } else if (o.kind === 'put') {
            input = { op: 'put', key: 'k', value: o.value };
            state = o.value;
            output = { ok: true };
          } else {
            input = { op: 'cas', key: 'k', expected: o.expected, value: o.value };
            const ok = state === o.expected;
            if (ok) state = o.value;
            output = { ok };
          }
          const unknown = o.crashed && o.kind !== 'get';
          return { client: i, input, callAt: at - o.before, ...(unknown ? {} : { output, returnAt: at + o.after }) };
        });
        return checkKvHistory(history).ok;
      }),
      { numRuns: 300 },
    );
  });
});
