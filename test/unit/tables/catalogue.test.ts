/**
 * The catalogue's pure part: command validation at both ends (propose time
 * with typed errors, apply time as data), the proposer's decisions and
 * limits, group naming, and the choice of the catalogue group's members.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { BadRequestError, LimitExceededError, NoSuchTableError, TableExistsError } from '../../../lib/errors.js';
import { replicasFor } from '../../../lib/protocol/placement.js';
import {
  CATALOGUE_GROUP,
  CATALOGUE_MAX_REPLICAS,
  DEFAULT_PARTITIONS,
  MAX_PARTITIONS,
  MAX_REPLICATION_FACTOR,
  MAX_TABLES,
  catalogueReplicas,
  decodeCatalogueCommand,
  encodeCatalogueCommand,
  parsePartitionGroup,
  partitionGroup,
  placementKey,
  pendingTasks,
  planCatalogueMembership,
  planCreateTable,
  planDropTable,
  planTablePlacement,
  replicasUpdate,
  tableNameProblem,
  type CatalogueCommand,
  type TableInfo,
} from '../../../lib/tables/catalogue.js';

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
const nodes = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);
const ctx = (tables: TableInfo[] = [], up = nodes(3)) => ({ tables, upMembers: up, defaultReplicationFactor: 2 });
const table = (name: string, state: TableInfo['state'] = 'ready'): TableInfo => ({ name, incarnation: 1, replicationFactor: 1, state, partitions: [] });

describe('catalogue: names', () => {
  it('table names: a letter, then up to 63 of [A-Za-z0-9_.-]', () => {
    for (const ok of ['a', 'users', 'A.b-c_9', 'x'.repeat(64)]) assert.equal(tableNameProblem(ok), null, ok);
    for (const bad of ['', '9x', '_a', 'x'.repeat(65), 'a/b', 'a b', 'é', '$catalogue', 'a\0', 42]) assert.notEqual(tableNameProblem(bad), null, String(bad));
  });

  it('partition groups are <table>/<n>@<incarnation>, and parse back; placement keys leave the incarnation out; the catalogue group is no partition', () => {
    assert.equal(partitionGroup('users', 3, 12), 'users/3@12');
    assert.equal(placementKey('users', 3), 'users/3');
    assert.deepEqual(parsePartitionGroup('users/3@12'), { table: 'users', partition: 3, incarnation: 12 });
    assert.deepEqual(parsePartitionGroup('a.b/0@0'), { table: 'a.b', partition: 0, incarnation: 0 });
    for (const bad of [CATALOGUE_GROUP, 'users', 'users/', 'users/3', 'users/03@1', 'users/-1@1', '/1@1', 'a b/1@1', 'users/1@', 'users/1@01', 'users@1/1']) assert.equal(parsePartitionGroup(bad), null, bad);
  });
});

describe('catalogue: command validation', () => {
  const good: CatalogueCommand[] = [
    { op: 'create-table', name: 't', partitions: 2, replicationFactor: 2, replicas: [['a', 'b'], ['b', 'a']] },
    { op: 'mark-partition-ready', table: 't', incarnation: 5, partition: 1 },
    { op: 'drop-table', table: 't' },
    { op: 'partition-dropped', table: 't', incarnation: 5, partition: 0 },
    { op: 'update-replicas', table: 't', incarnation: 5, partition: 0, voters: ['a'], learners: ['b'] },
  ];
  it('every command round-trips', () => {
    for (const c of good) assert.deepEqual(decodeCatalogueCommand(encodeCatalogueCommand(c)), c);
  });

  it('equal commands encode to equal bytes', () => {
    for (const c of good) assert.deepEqual(encodeCatalogueCommand(structuredClone(c)), encodeCatalogueCommand(c));
  });

  // [what, command, error class at propose time]
  const bad: [string, CatalogueCommand, new (...a: never[]) => Error][] = [
    ['bad name', { op: 'create-table', name: 'a/b', partitions: 1, replicationFactor: 1, replicas: [['a']] }, BadRequestError],
    ['zero partitions', { op: 'create-table', name: 't', partitions: 0, replicationFactor: 1, replicas: [] }, BadRequestError],
    ['too many partitions', { op: 'create-table', name: 't', partitions: MAX_PARTITIONS + 1, replicationFactor: 1, replicas: [] }, LimitExceededError],
    ['factor 0', { op: 'create-table', name: 't', partitions: 1, replicationFactor: 0, replicas: [['a']] }, BadRequestError],
    ['factor 1.5', { op: 'create-table', name: 't', partitions: 1, replicationFactor: 1.5, replicas: [['a']] }, BadRequestError],
    ['factor too large', { op: 'create-table', name: 't', partitions: 1, replicationFactor: MAX_REPLICATION_FACTOR + 1, replicas: [['a']] }, LimitExceededError],
    ['replica sets short', { op: 'create-table', name: 't', partitions: 2, replicationFactor: 1, replicas: [['a']] }, BadRequestError],
    ['empty replica set', { op: 'create-table', name: 't', partitions: 1, replicationFactor: 1, replicas: [[]] }, BadRequestError],
    ['duplicate replica', { op: 'create-table', name: 't', partitions: 1, replicationFactor: 2, replicas: [['a', 'a']] }, BadRequestError],
    ['negative partition', { op: 'mark-partition-ready', table: 't', incarnation: 1, partition: -1 }, BadRequestError],
    ['fractional incarnation', { op: 'partition-dropped', table: 't', incarnation: 1.5, partition: 0 }, BadRequestError],
    ['no voters', { op: 'update-replicas', table: 't', incarnation: 1, partition: 0, voters: [], learners: ['a'] }, BadRequestError],
    ['voter and learner', { op: 'update-replicas', table: 't', incarnation: 1, partition: 0, voters: ['a'], learners: ['a'] }, BadRequestError],
    ['drop a bad name', { op: 'drop-table', table: '' }, BadRequestError],
  ];
  for (const [what, command, errorClass] of bad) {
    it(`propose time refuses ${what} with ${errorClass.name}`, () => {
      assert.throws(() => encodeCatalogueCommand(command), errorClass);
    });
  }

  it('apply time answers malformed entries as data, never a throw', () => {
    const entries: unknown[] = [
      [2, 'drop', 't'],
      [1, 'explode', 't'],
      [1, 'drop'],
      [1, 'drop', 't', 'extra'],
      [1, 'create', 'a/b', 1, 1, [['a']]],
      [1, 'create', 't', 2, 1, [['a']]],
      [1, 'ready', 't', '1', 0],
      [1, 'replicas', 't', 1, 0, ['a'], ['a']],
      'not a list',
    ];
    for (const raw of entries) {
      const decoded = decodeCatalogueCommand(packr.pack(raw));
      assert.equal(decoded.op, 'malformed', JSON.stringify(raw));
    }
    assert.equal(decodeCatalogueCommand(Uint8Array.of(0xc1)).op, 'malformed');
  });

  it('apply time does not re-check the limits (an entry in the log applies alike under any release)', () => {
    const big = packr.pack([1, 'create', 't', MAX_PARTITIONS + 1, MAX_REPLICATION_FACTOR + 1, Array.from({ length: MAX_PARTITIONS + 1 }, () => ['a'])]);
    assert.equal(decodeCatalogueCommand(big).op, 'create-table');
  });
});

describe('catalogue: proposer decisions', () => {
  it('create: defaults, and replica sets from placement over the up members', () => {
    const up = nodes(5);
    const c = planCreateTable('users', {}, ctx([], up));
    assert.equal(c.partitions, DEFAULT_PARTITIONS);
    assert.equal(c.replicationFactor, 2);
    assert.equal(c.replicas.length, DEFAULT_PARTITIONS);
    c.replicas.forEach((set, i) => assert.deepEqual(set, replicasFor(`users/${i}`, up, 2).replicas));
    // Any order of the members gives the same command.
    assert.deepEqual(planCreateTable('users', {}, ctx([], [...up].reverse())), c);
    const d = planCreateTable('t', { partitions: 3, replicationFactor: 5 }, ctx([], nodes(2)));
    assert.deepEqual(d.replicas.map((s) => s.length), [2, 2, 2], 'under-replicated: every up member holds a replica');
  });

  it('create: limits and conflicts, with typed errors', () => {
    assert.throws(() => planCreateTable('bad name', {}, ctx()), BadRequestError);
    assert.throws(() => planCreateTable('t', { partitions: MAX_PARTITIONS + 1 }, ctx()), LimitExceededError);
    assert.throws(() => planCreateTable('t', { replicationFactor: 8 }, ctx()), LimitExceededError);
    assert.throws(() => planCreateTable('t', { partitions: 0 }, ctx()), BadRequestError);
    assert.throws(() => planCreateTable('t', {}, ctx([table('t')])), TableExistsError);
    assert.throws(() => planCreateTable('t', {}, ctx([table('t', 'dropping')])), /being dropped/);
    const full = Array.from({ length: MAX_TABLES }, (_, i) => table(`t${i}`));
    assert.throws(() => planCreateTable('one-more', {}, ctx(full)), (err: unknown) => err instanceof LimitExceededError && err.limit === MAX_TABLES);
    assert.throws(() => planCreateTable('t', {}, ctx([], [])), BadRequestError);
  });

  it('drop: of an unknown table is NoSuchTableError', () => {
    assert.deepEqual(planDropTable('t', [table('t')]), { op: 'drop-table', table: 't' });
    assert.throws(() => planDropTable('t', []), NoSuchTableError);
  });

  it('pending tasks: await leaders while creating, destroy while dropping', () => {
    const t: TableInfo = {
      name: 't',
      incarnation: 7,
      replicationFactor: 2,
      state: 'creating',
      partitions: [
        { partition: 0, group: 't/0', voters: ['a', 'b'], learners: [], ready: true, dropped: false },
        { partition: 1, group: 't/1', voters: ['b', 'a'], learners: ['c'], ready: false, dropped: false },
      ],
    };
    assert.deepEqual(pendingTasks(t), [{ kind: 'await-leader', table: 't', incarnation: 7, partition: 1, group: 't/1', voters: ['b', 'a'] }]);
    assert.deepEqual(pendingTasks({ ...t, state: 'ready' }), []);
    assert.deepEqual(pendingTasks({ ...t, state: 'dropping' }).map((x) => [x.kind, x.partition]), [['destroy', 0], ['destroy', 1]]);
  });

  it('growth of a table placed on too few nodes goes through placement, recorded by update-replicas', () => {
    const c = planCreateTable('t', { partitions: 2, replicationFactor: 3 }, ctx([], ['n1']));
    const t: TableInfo = { name: 't', incarnation: 3, replicationFactor: 3, state: 'ready', partitions: c.replicas.map((voters, i) => ({ partition: i, group: `t/${i}`, voters, learners: [], ready: true, dropped: false })) };
    const plans = planTablePlacement(t, ['n1', 'n2', 'n3']);
    assert.deepEqual(plans.map((p) => p.steps[0]?.kind), ['add-learner', 'add-learner']);
    const u = replicasUpdate(t, 0, { voters: ['n1'], learners: ['n2'] });
    assert.deepEqual(u, { op: 'update-replicas', table: 't', incarnation: 3, partition: 0, voters: ['n1'], learners: ['n2'] });
    encodeCatalogueCommand(u);
  });
});

describe('catalogue: its own group members', () => {
  it('up to five nodes by rendezvous, the same for any order of the members', () => {
    assert.deepEqual(catalogueReplicas([]), []);
    assert.deepEqual(catalogueReplicas(['n1']), ['n1']);
    assert.equal(catalogueReplicas(nodes(3)).length, 3);
    const up = nodes(9);
    const chosen = catalogueReplicas(up);
    assert.equal(chosen.length, CATALOGUE_MAX_REPLICAS);
    assert.deepEqual(catalogueReplicas([...up].reverse()), chosen);
    assert.deepEqual(chosen, replicasFor(CATALOGUE_GROUP, up, CATALOGUE_MAX_REPLICAS).replicas);
  });

  it('a node leaving moves only its own seat', () => {
    const up = nodes(12);
    const before = catalogueReplicas(up);
    const outsider = up.find((n) => !before.includes(n))!;
    assert.deepEqual(catalogueReplicas(up.filter((n) => n !== outsider)), before);
    const insider = before[0]!;
    const after = catalogueReplicas(up.filter((n) => n !== insider));
    assert.deepEqual(after.filter((n) => before.includes(n)), before.slice(1));
  });

  it('as members join, grows to five voters one single-server change at a time', () => {
    let membership = { voters: ['n1'], learners: [] as string[] };
    const up = nodes(7);
    const applied: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { next } = planCatalogueMembership(membership, up);
      if (next === null) break;
      applied.push(`${next.type} ${next.node}`);
      membership =
        next.type === 'add-learner'
          ? { voters: membership.voters, learners: [...membership.learners, next.node].sort() }
          : { voters: [...membership.voters, next.node].sort(), learners: membership.learners.filter((n) => n !== next.node) };
    }
    assert.equal(membership.voters.length, CATALOGUE_MAX_REPLICAS);
    assert.equal(applied.length, 8, 'four learners added and promoted');
    assert.deepEqual(planCatalogueMembership(membership, up).next, null);
    // Already five: nothing to grow.
    assert.equal(planCatalogueMembership({ voters: nodes(5), learners: [] }, up).next, null);
  });
});
