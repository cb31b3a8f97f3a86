/**
 * The tables' control-loop decisions (lib/tables/reconcile.ts): who creates,
 * marks ready, grows, records, drops and destroys, from one node's view.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATALOGUE_GROUP, partitionGroup, type TableInfo } from '../../../lib/tables/catalogue.js';
import { reconcile, type LocalGroup, type NodeView } from '../../../lib/tables/reconcile.js';
import { partitionOfKey } from '../../../lib/tables/key-partition.js';

const table = (over: Partial<TableInfo> & { voters?: string[][] } = {}): TableInfo => {
  const incarnation = over.incarnation ?? 5;
  const voters = over.voters ?? [['a', 'b', 'c']];
  return {
    name: 't', incarnation, replicationFactor: 3, state: 'ready',
    partitions: voters.map((v, partition) => ({ partition, group: partitionGroup('t', partition, incarnation), voters: v, learners: [], ready: true, dropped: false })),
    ...over,
  };
};

const group = (over: Partial<LocalGroup> = {}): LocalGroup => ({
  role: 'follower', leader: 'a', membership: { voters: ['a', 'b', 'c'], learners: [] }, bootstrap: { membership: { voters: ['a', 'b', 'c'], learners: [] }, createdAt: 1000 }, match: null, ...over,
});

const view = (over: Partial<NodeView> = {}): NodeView => ({
  self: 'a', up: ['a', 'b', 'c'], catalogue: { tables: [], applied: 10 }, groups: new Map(), ...over,
});

describe('tables reconcile', () => {
  it('a voter of a partition being created creates its replica; the first placed voter campaigns', () => {
    const t = table({ state: 'creating', voters: [['a', 'b', 'c'], ['b', 'a', 'c']] });
    t.partitions.forEach((p) => (p.ready = false));
    const actions = reconcile(view({ catalogue: { tables: [t], applied: 10 } }));
    const creates = actions.filter((a) => a.kind === 'create-replica');
    assert.deepEqual(creates.map((a) => [a.group, a.campaign, a.membership.voters]), [['t/0@5', true, ['a', 'b', 'c']], ['t/1@5', false, ['a', 'b', 'c']]]);
  });

  it('a replica of a ready partition is never created from the catalogue alone (the leader tells a member that acknowledged nothing)', () => {
    const t = table();
    assert.deepEqual(reconcile(view({ catalogue: { tables: [t], applied: 10 } })).filter((a) => a.kind === 'create-replica'), []);
    const leader = group({ role: 'leader', leader: 'a', match: new Map([['a', 9], ['b', 9], ['c', 0]]) });
    const tell = reconcile(view({ catalogue: { tables: [t], applied: 10 }, groups: new Map([[t.partitions[0]!.group, leader]]) })).filter((a) => a.kind === 'host-replica');
    assert.deepEqual(tell.map((a) => [a.node, a.voter, a.groupCreatedAt]), [['c', true, 1000]]);
  });

  it('the leader of a partition not yet ready marks it ready; a follower does not', () => {
    const t = table({ state: 'creating' });
    t.partitions[0]!.ready = false;
    const g = t.partitions[0]!.group;
    assert.deepEqual(reconcile(view({ catalogue: { tables: [t], applied: 10 }, groups: new Map([[g, group({ role: 'leader', match: new Map() })]]) })).map((a) => a.kind), ['mark-ready']);
    assert.deepEqual(reconcile(view({ catalogue: { tables: [t], applied: 10 }, groups: new Map([[g, group()]]) })), []);
  });

  it('an under-replicated partition grows learner → voter at its leader, one change at a time, and the catalogue records what the group holds', () => {
    const t = table({ voters: [['a']] });
    const g = t.partitions[0]!.group;
    const lead = (membership: LocalGroup['membership'], match: [string, number][]) =>
      reconcile(view({ catalogue: { tables: [t], applied: 10 }, groups: new Map([[g, group({ role: 'leader', membership, match: new Map(match) })]]) }));
    const first = lead({ voters: ['a'], learners: [] }, [['a', 3]]);
    assert.deepEqual(first.filter((a) => a.kind === 'change-membership').map((a) => a.change.type), ['add-learner']);
    const second = lead({ voters: ['a'], learners: ['b'] }, [['a', 4], ['b', 4]]);
    assert.deepEqual(second.filter((a) => a.kind === 'change-membership').map((a) => a.change), [{ type: 'promote', node: 'b' }]);
    assert.deepEqual(second.filter((a) => a.kind === 'record-replicas').map((a) => [a.command.voters, a.command.learners]), [[['a'], ['b']]]);
  });

  it('under-replication is reported on every node that holds the catalogue', () => {
    const t = table({ voters: [['a', 'b']] });
    const actions = reconcile(view({ catalogue: { tables: [t], applied: 10 } }));
    assert.deepEqual(actions.filter((a) => a.kind === 'under-replicated').map((a) => [a.table, a.voters, a.replicationFactor, a.partitions]), [['t', 2, 3, [0]]]);
    assert.equal(reconcile(view({ catalogue: { tables: [table()], applied: 10 } })).some((a) => a.kind === 'under-replicated'), false);
  });

  it('the catalogue leader grows the catalogue to five voters, then makes every other up member a learner', () => {
    const up = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const lead = (voters: string[], learners: string[] = []) =>
      reconcile(view({ up, groups: new Map([[CATALOGUE_GROUP, group({ role: 'leader', membership: { voters, learners }, bootstrap: { membership: { voters: ['a'], learners: [] }, createdAt: 1000 }, match: new Map([...voters, ...learners].map((n) => [n, 1])) })]]) })).filter((a) => a.kind === 'change-membership');
    assert.equal(lead(['a'])[0]!.change.type, 'add-learner');
    const full = up.slice(0, 5);
    const rest = lead(full);
    assert.equal(rest.length <= 1, true);
  });

  it('the catalogue leader drops a dropping table on its replicas; other nodes leave it to the leader', () => {
    const t = table({ state: 'dropping' });
    const asLeader = reconcile(view({ catalogue: { tables: [t], applied: 10 }, groups: new Map([[CATALOGUE_GROUP, group({ role: 'leader', match: new Map([['b', 1], ['c', 1]]) })]]) }));
    assert.deepEqual(asLeader.filter((a) => a.kind === 'drop-partition').map((a) => [a.group, a.replicas]), [['t/0@5', ['a', 'b', 'c']]]);
    assert.deepEqual(reconcile(view({ catalogue: { tables: [t], applied: 10 } })).filter((a) => a.kind === 'drop-partition'), []);
  });

  it('a local replica of a table the catalogue no longer has is destroyed, but never one newer than the catalogue copy', () => {
    const groups = new Map([['t/0@5', group()], ['u/0@40', group()], [CATALOGUE_GROUP, group()]]);
    const actions = reconcile(view({ catalogue: { tables: [], applied: 10 }, groups }));
    assert.deepEqual(actions.filter((a) => a.kind === 'destroy-local').map((a) => a.group), ['t/0@5']);
  });

  it('without a catalogue copy, a node does nothing to its partitions', () => {
    assert.deepEqual(reconcile(view({ catalogue: null, groups: new Map([['t/0@5', group()]]) })), []);
  });
});

describe('key partitioning', () => {
  it('is FNV-1a 32 of the UTF-8 key modulo the partition count (pinned: a change would move keys)', () => {
    assert.deepEqual(['', 'a', 'alice', 'ключ', 'k42'].map((k) => partitionOfKey(k, 16)), [5, 12, 7, 1, 8]);
    assert.equal(partitionOfKey('anything', 1), 0);
  });

  it('spreads keys over the partitions', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOfKey(`user:${i}`, 8)]++;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `${counts}`);
  });
});
