import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRandom } from '../../lib/protocol/random.js';
import { defaultSwimConfig } from '../../lib/protocol/swim/config.js';
import { Membership } from '../../lib/protocol/swim/membership.js';
import { compareRecords, mergeAll, mergeRecord, RECORD_STATES, type MemberRecord } from '../../lib/protocol/swim/record.js';

/** Records of one member, with small ranges so that ties are common. */
const recordArb = fc.record({
  name: fc.constant('n'),
  address: fc.constantFrom('n@h:1', 'n@h:2'),
  generation: fc.integer({ min: 0, max: 2 }),
  incarnation: fc.integer({ min: 0, max: 3 }),
  state: fc.constantFrom(...RECORD_STATES),
}) as fc.Arbitrary<MemberRecord>;

const key = (r: MemberRecord) => JSON.stringify([r.generation, r.incarnation, r.state, r.address]);

test('precedence is a total order: antisymmetric, transitive, total, zero only for equal records', () => {
  fc.assert(
    fc.property(recordArb, recordArb, recordArb, (a, b, c) => {
      assert.equal(Math.sign(compareRecords(a, b)), 0 - Math.sign(compareRecords(b, a)));
      assert.equal(compareRecords(a, b) === 0, key(a) === key(b));
      if (compareRecords(a, b) <= 0 && compareRecords(b, c) <= 0) assert.ok(compareRecords(a, c) <= 0);
    }),
    { numRuns: 5000 },
  );
});

test('merge is commutative, associative and idempotent (a join-semilattice)', () => {
  fc.assert(
    fc.property(recordArb, recordArb, recordArb, (a, b, c) => {
      assert.equal(key(mergeRecord(a, b)), key(mergeRecord(b, a)));
      assert.equal(key(mergeRecord(mergeRecord(a, b), c)), key(mergeRecord(a, mergeRecord(b, c))));
      assert.equal(key(mergeRecord(a, a)), key(a));
      const m = mergeRecord(a, b);
      assert.ok(compareRecords(m, a) >= 0 && compareRecords(m, b) >= 0, 'the merge is an upper bound');
    }),
    { numRuns: 5000 },
  );
});

test('merging gossip in any order, with duplicates, gives the same view', () => {
  const manyArb = fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c'), address: fc.constant('x'), generation: fc.nat(2), incarnation: fc.nat(3), state: fc.constantFrom(...RECORD_STATES) }), { maxLength: 30 });
  fc.assert(
    fc.property(manyArb, fc.nat(), (records, seed) => {
      const shuffled = [...records, ...records.slice(0, 5)];
      const random = new SeededRandom(seed);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = random.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const one = mergeAll(new Map(), records as MemberRecord[]);
      const two = mergeAll(mergeAll(new Map(), shuffled.slice(0, 7) as MemberRecord[]), shuffled.slice(7) as MemberRecord[]);
      const flat = (view: Map<string, MemberRecord>) => [...view.entries()].map(([name, r]) => `${name}=${key(r)}`).sort();
      assert.deepEqual(flat(two), flat(one));
    }),
    { numRuns: 1000 },
  );
});

test('refutation always yields an incarnation greater than the accusation, and keeps our state', () => {
  const config = defaultSwimConfig(1000, 5000);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom('suspect', 'down', 'left'),
      fc.integer({ min: 0, max: 1000 }),
      fc.boolean(),
      (bumps, accusation, extra, leaving) => {
        const core = new Membership(config, { name: 'a', address: 'a:1', generation: 7 }, new SeededRandom(bumps), 0);
        core.step({ type: 'join', addresses: [] }, 0);
        const peer: MemberRecord = { name: 'b', address: 'b:1', generation: 1, incarnation: 0, state: 'up' };
        // Raise our incarnation a few times through earlier refutations.
        for (let i = 0; i < bumps; i++) {
          const me = core.self();
          core.step({ type: 'message', from: 'b:1', msg: { type: 'gossip', from: peer, gossip: [{ ...me, state: 'suspect' }] } }, 1);
        }
        if (leaving) core.step({ type: 'leave' }, 2);
        const before = core.self();
        const claim: MemberRecord = { name: 'a', address: 'a:1', generation: 7, incarnation: before.incarnation + (extra % 4), state: accusation };
        core.step({ type: 'message', from: 'b:1', msg: { type: 'gossip', from: peer, gossip: [claim] } }, 3);
        const after = core.self();
        assert.equal(after.state, before.state, 'the state stays ours');
        if (leaving && accusation === 'left') return; // our own departure: not refuted
        assert.ok(after.incarnation > claim.incarnation, `incarnation ${after.incarnation} vs accusation ${claim.incarnation}`);
      },
    ),
    { numRuns: 1000 },
  );
});
