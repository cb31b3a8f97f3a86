import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRecord, parseSwimMessage, type SwimMessage } from '../../../lib/protocol/swim/messages.js';
import { RECORD_STATES, type MemberRecord } from '../../../lib/protocol/swim/record.js';

const from: MemberRecord = { name: 'a', address: 'a@h:1', generation: 3, incarnation: 2, state: 'up' };
const rec: MemberRecord = { name: 'b', address: 'b@h:1', generation: 1, incarnation: 0, state: 'suspect' };

test('well-formed messages parse to equal values, with unknown fields dropped', () => {
  const valid: SwimMessage[] = [
    { type: 'ping', from, seq: 1, target: 'b', gossip: [rec] },
    { type: 'ack', from, seq: 1, about: 'a', lagMs: 12, gossip: [] },
    { type: 'ping-req', from, seq: 7, target: 'c', targetAddress: 'c@h:1', gossip: [rec, from] },
    { type: 'gossip', from, gossip: [rec] },
    { type: 'sync', from, members: [from, rec, { ...rec, name: 'c', state: 'removed' }] },
    { type: 'sync-reply', from, members: [] },
  ];
  for (const msg of valid) {
    assert.deepEqual(parseSwimMessage(msg), msg, msg.type);
    assert.deepEqual(parseSwimMessage({ ...msg, extra: { x: 1 } }), msg, `${msg.type} with an extra field`);
  }
});

test('malformed messages yield null', () => {
  const ping = { type: 'ping', from, seq: 1, target: 'b', gossip: [] };
  const invalid: [unknown, string][] = [
    [null, 'null'],
    [42, 'number'],
    ['ping', 'string'],
    [[ping], 'array'],
    [{ ...ping, type: 'pong' }, 'unknown type'],
    [{ ...ping, from: undefined }, 'no sender'],
    [{ ...ping, from: { ...from, state: 'removed' } }, 'sender claims to be removed'],
    [{ ...ping, from: { ...from, state: 'alive' } }, 'unknown state'],
    [{ ...ping, from: { ...from, generation: -1 } }, 'negative generation'],
    [{ ...ping, from: { ...from, incarnation: 1.5 } }, 'fractional incarnation'],
    [{ ...ping, from: { ...from, incarnation: Number.POSITIVE_INFINITY } }, 'infinite incarnation'],
    [{ ...ping, from: { ...from, name: '' } }, 'empty name'],
    [{ ...ping, from: { ...from, address: 'x'.repeat(2000) } }, 'overlong address'],
    [{ ...ping, seq: '1' }, 'string seq'],
    [{ ...ping, target: 5 }, 'numeric target'],
    [{ ...ping, gossip: {} }, 'gossip not an array'],
    [{ ...ping, gossip: [rec, null] }, 'a null record'],
    [{ ...ping, gossip: new Array(2000).fill(rec) }, 'too many records'],
    [{ type: 'ack', from, seq: 1, about: 'a', gossip: [] }, 'ack without lag'],
    [{ type: 'ping-req', from, seq: 1, target: 'c', gossip: [] }, 'ping-req without address'],
    [{ type: 'sync', from }, 'sync without members'],
    [Object.create({ type: 'gossip', from, gossip: [] }), 'fields only on the prototype'],
  ];
  for (const [raw, why] of invalid) assert.equal(parseSwimMessage(raw), null, why);
});

test('a hostile getter does not escape the parser', () => {
  const raw = { type: 'gossip', from, get gossip(): never { throw new Error('boom'); } };
  assert.equal(parseSwimMessage(raw), null);
});

test('fuzz: parseSwimMessage never throws and returns null or a fresh well-formed message', () => {
  fc.assert(
    fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true }), (raw) => {
      const parsed = parseSwimMessage(raw);
      if (parsed !== null) assert.deepEqual(parseSwimMessage(parsed), parsed);
    }),
    { numRuns: 2000 },
  );
});

const recordArb = fc.record({
  name: fc.string({ minLength: 1, maxLength: 8 }),
  address: fc.string({ minLength: 1, maxLength: 8 }),
  generation: fc.nat(),
  incarnation: fc.nat(),
  state: fc.constantFrom(...RECORD_STATES),
});

test('fuzz: records of the right shape always parse; a corrupted field never does', () => {
  fc.assert(
    fc.property(recordArb, fc.constantFrom('name', 'address', 'generation', 'incarnation', 'state'), fc.anything(), (r, key, junk) => {
      assert.deepEqual(parseRecord(r), { ...r });
      const valid = parseRecord({ ...r, [key]: junk }) !== null;
      if (valid) assert.ok(key === 'state' ? RECORD_STATES.includes(junk as never) : typeof junk === typeof r[key]);
    }),
    { numRuns: 1000 },
  );
});
