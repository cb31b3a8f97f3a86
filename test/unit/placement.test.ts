import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a64, rendezvousScore, utf8Bytes } from '../../lib/protocol/placement-hash.js';
import {
  changesOf,
  isExecutable,
  planPlacement,
  preferredLeaders,
  rankNodes,
  replicasFor,
  replicationFactorProblem,
  type PartitionPlan,
  type PlacementStep,
} from '../../lib/protocol/placement.js';
import { applyChange, checkChange } from '../../lib/protocol/raft/configuration.js';
import type { Membership, NodeId } from '../../lib/protocol/raft/types.js';
import { SeededRandom, shuffle } from '../../lib/protocol/random.js';

const hex64 = (h: { hi: number; lo: number }) => h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
const nodes = (n: number) => Array.from({ length: n }, (_, i) => `node${i + 1}@10.0.0.${i + 1}:9100`);
const partitions = (n: number) => Array.from({ length: n }, (_, i) => `users/${i}`);
const sortedSet = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** Each partition's membership as placed by replicasFor (voters only, as a new table starts). */
function placed(ids: string[], up: NodeId[], factor: number): Map<string, Membership> {
  return new Map(ids.map((p) => [p, { voters: sortedSet(replicasFor(p, up, factor).replicas), learners: [] }]));
}

function planOf(plans: PartitionPlan[], partition: string): PartitionPlan {
  const plan = plans.find((p) => p.partition === partition);
  assert.ok(plan, `no plan for ${partition}`);
  return plan;
}

test('the hash is pinned: FNV-1a 64 reference vectors, UTF-8 as Buffer encodes it, fixed scores', () => {
  // Reference values from the FNV authors' test suite.
  assert.equal(hex64(fnv1a64(utf8Bytes(''))), 'cbf29ce484222325');
  assert.equal(hex64(fnv1a64(utf8Bytes('a'))), 'af63dc4c8601ec8c');
  assert.equal(hex64(fnv1a64(utf8Bytes('foobar'))), '85944171f73967e8');
  for (const s of ['', 'plain', 'é', '€uro', '😀 emoji', 'nul\u0000inside']) {
    assert.deepEqual(utf8Bytes(s), [...Buffer.from(s, 'utf8')], JSON.stringify(s));
  }
  // A change to any of these moves partitions between nodes on an upgrade: it must be deliberate.
  const pinned: [string, string, number][] = [
    ['users/0', 'a@h:1', 5594774263316161],
    ['users/0', 'b@h:1', 2575247234963561],
    ['users/1', 'a@h:1', 3112235618944920],
  ];
  for (const [partition, node, score] of pinned) assert.equal(rendezvousScore(partition, node), score, `${partition} ${node}`);
  assert.notEqual(rendezvousScore('ab', 'c'), rendezvousScore('a', 'bc'), 'the separator keeps the two names apart');
  const s = rendezvousScore('p', 'n');
  assert.ok(Number.isSafeInteger(s) && s >= 0);
});

test('replicasFor: the factor highest-scoring members, the same for any order of the members and with duplicates', () => {
  const members = nodes(7);
  const random = new SeededRandom(7);
  for (const partition of partitions(50)) {
    const expected = replicasFor(partition, members, 3);
    assert.equal(expected.replicas.length, 3);
    assert.deepEqual(expected.replicas, rankNodes(partition, members).slice(0, 3));
    const scores = expected.replicas.map((n) => rendezvousScore(partition, n));
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'highest score first');
    for (let i = 0; i < 5; i++) {
      const shuffled = shuffle([...members, ...members.slice(0, 2)], random);
      assert.deepEqual(replicasFor(partition, shuffled, 3), expected);
    }
  }
});

test('replicasFor: a factor above the number of members puts a replica on every member and reports under-replication', () => {
  const table: [members: number, factor: number, replicas: number, underReplicated: boolean, missing: number][] = [
    [5, 3, 3, false, 0],
    [3, 3, 3, false, 0],
    [2, 3, 2, true, 1],
    [1, 3, 1, true, 2],
    [0, 2, 0, true, 2],
  ];
  for (const [n, factor, replicas, underReplicated, missing] of table) {
    const set = replicasFor('orders/4', nodes(n), factor);
    assert.deepEqual([set.replicas.length, set.underReplicated, set.missing], [replicas, underReplicated, missing], `${n} members, factor ${factor}`);
    if (n <= factor) assert.deepEqual(sortedSet(set.replicas), sortedSet(nodes(n)));
  }
});

test('a factor that is not a positive integer is refused with the rule', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.match(replicationFactorProblem(bad) ?? '', /positive integer/);
    assert.throws(() => replicasFor('p', nodes(3), bad), RangeError);
    assert.throws(() => planPlacement(new Map(), nodes(3), bad), RangeError);
  }
  assert.equal(replicationFactorProblem(2), null);
});

test('replicas and preferred leaders spread evenly: 1,000 partitions on 5 nodes, each node within 25% of the mean', () => {
  const members = nodes(5);
  const ids = partitions(1000);
  const sets = new Map(ids.map((p) => [p, replicasFor(p, members, 3).replicas]));
  const held = new Map<NodeId, number>();
  for (const replicas of sets.values()) for (const n of replicas) held.set(n, (held.get(n) ?? 0) + 1);
  const meanHeld = (1000 * 3) / 5;
  for (const n of members) {
    const count = held.get(n) ?? 0;
    assert.ok(Math.abs(count - meanHeld) <= 0.25 * meanHeld, `${n} holds ${count} replicas, mean ${meanHeld}`);
  }

  const leaders = preferredLeaders(sets);
  assert.equal(leaders.size, 1000);
  const led = new Map<NodeId, number>();
  for (const [p, leader] of leaders) {
    assert.ok(sets.get(p)!.includes(leader), `${p}: leader ${leader} is one of its replicas`);
    led.set(leader, (led.get(leader) ?? 0) + 1);
  }
  const meanLed = 1000 / 5;
  for (const n of members) {
    const count = led.get(n) ?? 0;
    assert.ok(Math.abs(count - meanLed) <= 0.25 * meanLed, `${n} leads ${count} partitions, mean ${meanLed}`);
  }
});

test('preferredLeaders: the same for any order of the map; least-loaded first, higher score on a tie; empty sets skipped', () => {
  const members = nodes(5);
  const entries = partitions(200).map((p) => [p, replicasFor(p, members, 3).replicas] as const);
  const one = preferredLeaders(new Map(entries));
  const two = preferredLeaders(new Map(shuffle([...entries], new SeededRandom(3))));
  assert.deepEqual([...two].sort(), [...one].sort());

  const leaders = preferredLeaders(new Map<string, NodeId[]>([
    ['a', ['x', 'y']],
    ['b', ['x', 'y']],
    ['c', ['x', 'z']],
    ['d', []],
  ]));
  assert.deepEqual([...leaders], [['a', 'x'], ['b', 'y'], ['c', 'z']]);
});

test('a join moves only the partitions whose new replica set holds the new node, each by one replica', () => {
  const before = nodes(5);
  const joined = 'node6@10.0.0.6:9100';
  const after = [...before, joined];
  let moved = 0;
  for (const p of partitions(1000)) {
    const old = replicasFor(p, before, 3).replicas;
    const now = replicasFor(p, after, 3).replicas;
    if (now.includes(joined)) {
      moved++;
      assert.equal(now.filter((n) => !old.includes(n)).join(), joined, p);
      assert.equal(old.filter((n) => !now.includes(n)).length, 1, `${p}: one replica displaced`);
    } else {
      assert.deepEqual(now, old, `${p} must not move`);
    }
  }
  // About k/n = 3/6 of the partitions: a generous band.
  assert.ok(moved > 350 && moved < 650, `${moved} of 1000 moved`);
});

test('a leave moves only the partitions that held the node, each to one new replica', () => {
  const before = nodes(6);
  const gone = before[2]!;
  const after = before.filter((n) => n !== gone);
  for (const p of partitions(1000)) {
    const old = replicasFor(p, before, 3).replicas;
    const now = replicasFor(p, after, 3).replicas;
    if (old.includes(gone)) {
      assert.deepEqual(sortedSet(old.filter((n) => n !== gone)), sortedSet(now.filter((n) => old.includes(n))), p);
      assert.equal(now.filter((n) => !old.includes(n)).length, 1, `${p}: one new replica`);
    } else {
      assert.deepEqual(now, old, `${p} must not move`);
    }
  }
});

/** Executes the plan's steps one at a time through Raft's own change rules, planning again after each. */
function grow(current: Map<string, Membership>, up: NodeId[], factor: number): Map<string, PlacementStep[]> {
  const executed = new Map<string, PlacementStep[]>();
  for (let round = 0; round < 100; round++) {
    let progressed = false;
    for (const plan of planPlacement(current, up, factor)) {
      const step = plan.steps.find(isExecutable);
      if (step === undefined) continue;
      const m = current.get(plan.partition)!;
      const [change] = changesOf(step, m);
      assert.equal(checkChange(m, change!), null, `${plan.partition}: ${step.kind} ${step.node}`);
      current.set(plan.partition, applyChange(m, change!));
      executed.set(plan.partition, [...(executed.get(plan.partition) ?? []), step]);
      progressed = true;
    }
    if (!progressed) return executed;
  }
  assert.fail('growth did not converge');
}

test('under-replicated partitions are reported, then grow by add-learner and promote, one node at a time, when nodes join', () => {
  const ids = partitions(20);
  const two = nodes(2);
  const current = placed(ids, two, 3);
  for (const plan of planPlacement(current, two, 3)) {
    assert.equal(plan.underReplicated, true);
    assert.deepEqual(plan.steps, [], 'nothing to do until a node joins');
  }

  const four = nodes(4);
  const plans = planPlacement(current, [...two, four[2]!], 3);
  for (const plan of plans) {
    assert.equal(plan.underReplicated, false);
    assert.deepEqual(plan.steps, [
      { kind: 'add-learner', partition: plan.partition, node: four[2] },
      { kind: 'promote', partition: plan.partition, node: four[2] },
    ]);
  }

  // Two joins at once with factor 4: both added, in score order, each added then promoted before the next.
  const plan = planOf(planPlacement(current, four, 4), 'users/7');
  const newcomers = rankNodes('users/7', four).filter((n) => !two.includes(n));
  assert.deepEqual(plan.steps.map((s) => `${s.kind} ${'node' in s ? s.node : ''}`), [
    `add-learner ${newcomers[0]}`, `promote ${newcomers[0]}`, `add-learner ${newcomers[1]}`, `promote ${newcomers[1]}`,
  ]);

  const executed = grow(current, four, 4);
  for (const p of ids) {
    assert.deepEqual(current.get(p), { voters: sortedSet(four), learners: [] });
    assert.equal(executed.get(p)!.length, 4);
  }
  for (const plan of planPlacement(current, four, 4)) assert.deepEqual(plan.steps, []);
});

test('an up learner is promoted before any node is added; learners on nodes that are not up are not', () => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'];
  const current = new Map([['p', { voters: [a!], learners: [b!, c!] }]]);
  const plan = planOf(planPlacement(current, [a!, b!, d!], 3), 'p');
  assert.deepEqual(plan.steps.filter(isExecutable), [
    { kind: 'promote', partition: 'p', node: b },
    { kind: 'add-learner', partition: 'p', node: d },
    { kind: 'promote', partition: 'p', node: d },
  ]);
  assert.deepEqual(plan.steps.filter((s) => !isExecutable(s)), [
    { kind: 'replica-not-up', partition: 'p', node: c, role: 'learner', replacement: null },
  ]);
});

test('a replica on a node that is not up is reported with the node that would replace it, not acted on', () => {
  const six = nodes(6);
  const current = placed(partitions(300), six, 3);
  const gone = six[4]!;
  const up = six.filter((n) => n !== gone);
  for (const plan of planPlacement(current, up, 3)) {
    const before = current.get(plan.partition)!;
    if (!before.voters.includes(gone)) {
      assert.deepEqual(plan.steps, [], `${plan.partition} is untouched`);
      continue;
    }
    const replacement = plan.target.find((n) => !before.voters.includes(n))!;
    assert.deepEqual(plan.steps, [{ kind: 'replica-not-up', partition: plan.partition, node: gone, role: 'voter', replacement }]);
    assert.deepEqual(changesOf(plan.steps[0]!, before), [
      { type: 'add-learner', node: replacement },
      { type: 'promote', node: replacement },
      { type: 'remove', node: gone },
    ]);
  }
});

test('a join reports a rebalance for exactly the partitions whose target holds the new node, from the replica it displaces', () => {
  const five = nodes(5);
  const current = placed(partitions(500), five, 3);
  const joined = 'node6@10.0.0.6:9100';
  for (const plan of planPlacement(current, [...five, joined], 3)) {
    const before = current.get(plan.partition)!.voters;
    if (!plan.target.includes(joined)) {
      assert.deepEqual(plan.steps, [], `${plan.partition} is untouched`);
      continue;
    }
    const displaced = before.find((n) => !plan.target.includes(n));
    assert.deepEqual(plan.steps, [{ kind: 'rebalance', partition: plan.partition, from: displaced, to: joined, role: 'voter' }]);
  }
});

test('a lowered factor reports the surplus replicas, lowest score first; no voters means no group yet', () => {
  const five = nodes(5);
  const current = placed(['t/1'], five, 5);
  current.set('t/2', { voters: [], learners: [] });
  const [one, two] = planPlacement(current, five, 3);
  const ranked = rankNodes('t/1', five);
  assert.deepEqual(one!.steps, [
    { kind: 'surplus', partition: 't/1', node: ranked[4], role: 'voter' },
    { kind: 'surplus', partition: 't/1', node: ranked[3], role: 'voter' },
  ]);
  assert.deepEqual(two, { partition: 't/2', target: rankNodes('t/2', five).slice(0, 3), underReplicated: false, steps: [] });
});

test('a learner already in the target (a move cut short) is the one promoted in place of a voter outside it', () => {
  const up = ['a', 'b', 'c'];
  const partition = partitions(50).find((p) => rankNodes(p, up).slice(0, 2).includes('c'))!;
  const outside = rankNodes(partition, up)[2]!;
  const membership = { voters: ['a', 'b'], learners: ['c'] };
  const [plan] = planPlacement(new Map([[partition, membership]]), up, 2);
  assert.deepEqual(plan!.steps, [{ kind: 'rebalance', partition, from: outside, to: 'c', role: 'voter' }]);
  assert.deepEqual(changesOf(plan!.steps[0]!, membership), [
    { type: 'promote', node: 'c' },
    { type: 'remove', node: outside },
  ]);
});

test('no step changes two members at once: every change passes Raft\'s single-server rule and alters one node', () => {
  const six = nodes(6);
  const current = placed(partitions(100), nodes(4), 3);
  current.set('mixed', { voters: [six[0]!, six[5]!], learners: [six[1]!] });
  const up = [six[0]!, six[1]!, six[2]!, six[4]!];
  for (const plan of planPlacement(current, up, 3)) {
    let m = current.get(plan.partition)!;
    for (const step of plan.steps) {
      const changes = changesOf(step, m);
      if (isExecutable(step)) assert.equal(changes.length, 1);
      for (const change of changes) {
        assert.equal(checkChange(m, change), null, `${plan.partition}: ${change.type} ${change.node}`);
        const next = applyChange(m, change);
        const role = (mm: Membership, n: NodeId) => (mm.voters.includes(n) ? 'v' : mm.learners.includes(n) ? 'l' : '-');
        const touched = sortedSet([...m.voters, ...m.learners, ...next.voters, ...next.learners]).filter((n) => role(m, n) !== role(next, n));
        assert.deepEqual(touched, [change.node]);
        m = next;
      }
    }
  }
});
