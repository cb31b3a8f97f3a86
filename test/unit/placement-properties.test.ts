import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { changesOf, isExecutable, planPlacement, replicasFor, type PlacementStep } from '../../lib/protocol/placement.js';
import { applyChange, checkChange } from '../../lib/protocol/raft/configuration.js';
import type { Membership, NodeId } from '../../lib/protocol/raft/types.js';
import { SeededRandom, shuffle } from '../../lib/protocol/random.js';

const nameArb = fc.string({ minLength: 1, maxLength: 12 });
const membersArb = fc.uniqueArray(nameArb, { maxLength: 12 });
const factorArb = fc.integer({ min: 1, max: 6 });
const sortedSet = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** A partition's Raft membership over nodes a..h (at least one voter) and which of those nodes are up. */
const UNIVERSE = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const stateArb = fc
  .record({
    roles: fc.array(fc.constantFrom('voter', 'learner', 'none'), { minLength: UNIVERSE.length, maxLength: UNIVERSE.length }),
    up: fc.array(fc.boolean(), { minLength: UNIVERSE.length, maxLength: UNIVERSE.length }),
  })
  .filter(({ roles }) => roles.includes('voter'))
  .map(({ roles, up }) => ({
    membership: {
      voters: UNIVERSE.filter((_, i) => roles[i] === 'voter'),
      learners: UNIVERSE.filter((_, i) => roles[i] === 'learner'),
    } as Membership,
    up: UNIVERSE.filter((_, i) => up[i]),
  }));

test('replicasFor is the same for any order of the members, with or without duplicates', () => {
  fc.assert(
    fc.property(nameArb, membersArb, factorArb, fc.nat(), (partition, members, factor, seed) => {
      const expected = replicasFor(partition, members, factor);
      const shuffled = shuffle([...members, ...members.slice(0, 3)], new SeededRandom(seed));
      assert.deepEqual(replicasFor(partition, shuffled, factor), expected);
      assert.equal(expected.replicas.length, Math.min(factor, members.length));
      assert.equal(new Set(expected.replicas).size, expected.replicas.length);
    }),
    { numRuns: 500 },
  );
});

test('minimal disruption: a join or a leave changes only replica sets that hold that node, by that node alone', () => {
  fc.assert(
    fc.property(nameArb, membersArb, nameArb, factorArb, (partition, members, node, factor) => {
      fc.pre(!members.includes(node));
      const without = replicasFor(partition, members, factor).replicas;
      const withNode = replicasFor(partition, [...members, node], factor).replicas;
      if (withNode.includes(node)) {
        // The node entered: the others keep their order, and at most the last of the old set left.
        assert.deepEqual(withNode.filter((n) => n !== node), without.slice(0, withNode.length - 1));
      } else {
        assert.deepEqual(withNode, without);
      }
    }),
    { numRuns: 1000 },
  );
});

test('the plan continues where it left off: after its first executable step is carried out, planning again gives the rest', () => {
  fc.assert(
    fc.property(nameArb, stateArb, factorArb, (partition, { membership, up }, factor) => {
      const growth = planPlacement(new Map([[partition, membership]]), up, factor)[0]!.steps.filter(isExecutable);
      fc.pre(growth.length > 0);
      const next = applyChange(membership, changesOf(growth[0]!, membership)[0]!);
      const again = planPlacement(new Map([[partition, next]]), up, factor)[0]!.steps.filter(isExecutable);
      assert.deepEqual(again, growth.slice(1));
    }),
    { numRuns: 1000 },
  );
});

test('every change is a valid single-server change, growth fills the voters up to the factor, and all changes reach the target', () => {
  fc.assert(
    fc.property(nameArb, stateArb, factorArb, fc.nat(), (partition, { membership, up }, factor, seed) => {
      const [plan] = planPlacement(new Map([[partition, membership]]), up, factor);
      const [shuffledPlan] = planPlacement(new Map([[partition, membership]]), shuffle([...up], new SeededRandom(seed)), factor);
      assert.deepEqual(shuffledPlan, plan, 'independent of the order of the up members');
      assert.deepEqual(plan!.target, replicasFor(partition, up, factor).replicas);

      const executable = plan!.steps.filter(isExecutable);
      assert.deepEqual(plan!.steps.slice(0, executable.length), executable, 'growth steps come first');
      const role = (m: Membership, n: NodeId) => (m.voters.includes(n) ? 'voter' : m.learners.includes(n) ? 'learner' : 'none');
      let m = membership;
      const run = (step: PlacementStep) => {
        for (const change of changesOf(step, m)) {
          assert.equal(checkChange(m, change), null, `${step.kind}: ${change.type} ${change.node} on ${JSON.stringify(m)}`);
          const next = applyChange(m, change);
          const touched = UNIVERSE.filter((n) => role(m, n) !== role(next, n));
          assert.deepEqual(touched, [change.node], 'one member changes');
          m = next;
        }
      };
      for (const step of executable) {
        assert.ok(up.includes(step.node), 'growth uses up nodes only');
        run(step);
      }
      const voters = membership.voters.length;
      const expectedVoters = voters >= factor ? voters : Math.min(factor, new Set([...membership.voters, ...up]).size);
      assert.equal(m.voters.length, expectedVoters);

      for (const step of plan!.steps.slice(executable.length)) run(step);
      const stranded = plan!.steps.flatMap((s) => (s.kind === 'replica-not-up' && s.replacement === null ? [s.node] : []));
      assert.deepEqual(sortedSet([...m.voters, ...m.learners]), sortedSet([...plan!.target, ...stranded]));
    }),
    { numRuns: 2000 },
  );
});
