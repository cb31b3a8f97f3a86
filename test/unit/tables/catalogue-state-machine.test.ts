/**
 * The catalogue state machine on a real LMDB environment, fed entries the way
 * the raft host applies them: the create→ready and drop lifecycles, refusals
 * as data, stale incarnations, determinism across two replicas, and
 * snapshot/restore.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { Entry } from '../../../lib/protocol/raft/types.js';
import { NodeStorage } from '../../../lib/storage/node-storage.js';
import { encodeCatalogueCommand, planCreateTable, type CatalogueCommand } from '../../../lib/tables/catalogue.js';
import { CatalogueStateMachine, type CatalogueApplyResult } from '../../../lib/tables/catalogue-state-machine.js';

const dirs: string[] = [];
function openStorage(): NodeStorage {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-catalogue-'));
  dirs.push(dir);
  return NodeStorage.open(dir);
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

class Log {
  readonly entries: Entry[] = [];
  constructor(private next = 1) {}
  add(c: CatalogueCommand | Uint8Array): Entry {
    const e: Entry = { index: this.next++, term: 1, kind: 'data', data: c instanceof Uint8Array ? c : encodeCatalogueCommand(c) };
    this.entries.push(e);
    return e;
  }
}

async function applyAll(storage: NodeStorage, sm: CatalogueStateMachine, entries: Entry[]): Promise<CatalogueApplyResult[]> {
  return storage.transaction(() => entries.map((e) => storage.atomically(() => sm.apply(e) as CatalogueApplyResult)));
}

const create = (name: string, partitions = 2): CatalogueCommand => planCreateTable(name, { partitions, replicationFactor: 2 }, { tables: [], upMembers: ['a', 'b', 'c'], defaultReplicationFactor: 2 });
const ready = (table: string, incarnation: number, partition: number): CatalogueCommand => ({ op: 'mark-partition-ready', table, incarnation, partition });
const dropped = (table: string, incarnation: number, partition: number): CatalogueCommand => ({ op: 'partition-dropped', table, incarnation, partition });
const drop = (table: string): CatalogueCommand => ({ op: 'drop-table', table });

describe('catalogue state machine: apply', () => {
  let storage: NodeStorage;
  let sm: CatalogueStateMachine;
  let log: Log;
  const run = async (...cs: (CatalogueCommand | Uint8Array)[]) => applyAll(storage, sm, cs.map((c) => log.add(c)));
  beforeEach(() => {
    storage = openStorage();
    sm = new CatalogueStateMachine(storage);
    log = new Log(10);
  });
  afterEach(() => storage.close());

  it('create → creating; ready once every partition has a leader', async () => {
    const c = create('users') as Extract<CatalogueCommand, { op: 'create-table' }>;
    const [r] = await run(c);
    assert.equal(r!.ok, true);
    const t = sm.get('users')!;
    assert.equal(t.state, 'creating');
    assert.equal(t.incarnation, 10);
    assert.deepEqual(t.partitions.map((p) => [p.group, p.voters, p.ready]), [['users/0@10', c.replicas[0], false], ['users/1@10', c.replicas[1], false]]);
    await run(ready('users', 10, 1), ready('users', 10, 1));
    assert.equal(sm.get('users')!.state, 'creating', 'one partition ready, idempotently');
    await run(ready('users', 10, 0));
    assert.equal(sm.get('users')!.state, 'ready');
    assert.deepEqual(sm.partition('users', 1), { ...sm.get('users')!.partitions[1]!, state: 'ready', incarnation: 10 });
    assert.equal(sm.partition('users', 2), null);
    assert.equal(sm.partition('nope', 0), null);
  });

  it('a duplicate name is refused as data and writes nothing', async () => {
    await run(create('t'));
    const before = sm.snapshot();
    const [r] = await run(create('t', 5));
    assert.deepEqual(r, { ok: false, reason: 'exists', table: 't', state: 'creating' });
    assert.deepEqual(sm.snapshot(), before);
  });

  it('drop lifecycle: dropping at once, removed once every partition confirmed; then the name is free', async () => {
    await run(create('t'), ready('t', 10, 0), ready('t', 10, 1));
    const [d, again] = await run(drop('t'), drop('t'));
    assert.equal(d!.ok && d.table?.state, 'dropping');
    assert.equal(again!.ok, true, 'idempotent');
    assert.deepEqual(await run(ready('t', 10, 0)), [{ ok: false, reason: 'bad-state', table: 't', message: 'table t is being dropped' }]);
    assert.deepEqual(await run(create('t')), [{ ok: false, reason: 'exists', table: 't', state: 'dropping' }]);
    await run(dropped('t', 10, 1));
    assert.deepEqual(sm.get('t')!.partitions.map((p) => p.dropped), [false, true]);
    const [last] = await run(dropped('t', 10, 0));
    assert.deepEqual(last, { ok: true, table: null });
    assert.equal(sm.get('t'), null);
    assert.deepEqual(sm.list(), []);
    const [recreated] = await run(create('t'));
    assert.equal(recreated!.ok && recreated.table?.incarnation, 19, "a new incarnation: the index of its create");
  });

  it('commands about another incarnation, table or partition are refused as data', async () => {
    await run(create('t'));
    assert.deepEqual(await run(ready('t', 9, 0)), [{ ok: false, reason: 'no-such-table', table: 't' }]);
    assert.deepEqual(await run(ready('u', 10, 0)), [{ ok: false, reason: 'no-such-table', table: 'u' }]);
    assert.deepEqual(await run(drop('u')), [{ ok: false, reason: 'no-such-table', table: 'u' }]);
    const [p] = await run(ready('t', 10, 2));
    assert.equal(p!.ok === false && p.reason, 'bad-state');
    const [n] = await run(dropped('t', 10, 0));
    assert.equal(n!.ok === false && n.reason, 'bad-state', 'not being dropped');
    const [m] = await run(Uint8Array.of(1, 2, 3));
    assert.equal(m!.ok === false && m.reason, 'malformed');
    assert.deepEqual(sm.stats, { applied: 1, refused: 5, malformed: 1 });
  });

  it('update-replicas records a partition membership; list is in name order', async () => {
    await run(create('b'), create('a', 1));
    await run({ op: 'update-replicas', table: 'b', incarnation: 10, partition: 1, voters: ['a', 'c'], learners: ['d'] });
    assert.deepEqual(sm.list().map((t) => t.name), ['a', 'b']);
    assert.deepEqual(sm.get('b')!.partitions[1]!.voters, ['a', 'c']);
    assert.deepEqual(sm.get('b')!.partitions[1]!.learners, ['d']);
    assert.equal(sm.count(), 2);
  });
});

describe('catalogue state machine: replicas and snapshots', () => {
  const script = (): CatalogueCommand[] => [
    create('users', 3),
    create('orders', 2),
    create('users'),
    ready('users', 1, 0),
    ready('users', 1, 1),
    ready('users', 1, 2),
    { op: 'update-replicas', table: 'orders', incarnation: 2, partition: 0, voters: ['a'], learners: ['b'] },
    drop('orders'),
    dropped('orders', 2, 0),
    create('events', 1),
  ];

  it('two replicas fed the same entries, batched differently, hold the same state and answer alike', async () => {
    const log = new Log(1);
    for (const c of script()) log.add(c);
    const s1 = openStorage();
    const s2 = openStorage();
    const r1 = new CatalogueStateMachine(s1);
    const r2 = new CatalogueStateMachine(s2);
    const a = await applyAll(s1, r1, log.entries);
    const b: CatalogueApplyResult[] = [];
    for (const e of log.entries) b.push(...(await applyAll(s2, r2, [e])));
    assert.deepEqual(a, b);
    assert.deepEqual(r1.snapshot(), r2.snapshot());
    assert.deepEqual(r1.list(), r2.list());
    assert.deepEqual(r1.list().map((t) => [t.name, t.state]), [['events', 'creating'], ['orders', 'dropping'], ['users', 'ready']]);
    await Promise.all([s1.close(), s2.close()]);
  });

  it('snapshot/restore replaces the whole catalogue, and the restored replica goes on alike', async () => {
    const log = new Log(1);
    for (const c of script()) log.add(c);
    const s1 = openStorage();
    const s2 = openStorage();
    const r1 = new CatalogueStateMachine(s1);
    const r2 = new CatalogueStateMachine(s2);
    await applyAll(s1, r1, log.entries);
    await applyAll(s2, r2, [log.add(create('stale', 1))]); // state the snapshot must erase
    await s2.transaction(() => s2.atomically(() => r2.restore(r1.snapshot())));
    assert.deepEqual(r2.snapshot(), r1.snapshot());
    assert.equal(r2.get('stale'), null);
    const next = [dropped('orders', 2, 1), ready('events', 10, 0)].map((c) => log.add(c));
    assert.deepEqual(await applyAll(s2, r2, next), await applyAll(s1, r1, next));
    assert.deepEqual(r2.list().map((t) => [t.name, t.state]), [['events', 'ready'], ['users', 'ready']]);
    assert.throws(() => r2.restore(Uint8Array.of(0x90)), /unknown format/);
    await Promise.all([s1.close(), s2.close()]);
  });
});
