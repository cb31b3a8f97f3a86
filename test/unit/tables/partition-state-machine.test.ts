/**
 * The partition state machine on a real LMDB environment, fed entries the
 * way the raft host applies them (in a write transaction, each in a child
 * transaction): apply semantics and versions, batch atomicity, scans and
 * their paging, determinism across replicas, snapshot/restore, the change
 * feed, removal of a partition's keys, and multi-command entries (the
 * coalesced writes of a turn: one result per command, one history record).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { Entry } from '../../../lib/protocol/raft/types.js';
import { NodeStorage } from '../../../lib/storage/node-storage.js';
import { Packr } from 'msgpackr';
import { encodeCommand, encodeKey, encodeMulti, encodeValue, decodeKey, decodeValue, TABLE_COMMAND_FORMAT, type BatchOp, type TableCommand } from '../../../lib/tables/commands.js';
import { MAX_SCAN_LIMIT, PartitionStateMachine, TABLES_DB_NAME, type ApplyResult, type TableChange } from '../../../lib/tables/partition-state-machine.js';

const dirs: string[] = [];
function openStorage(): NodeStorage {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-tables-'));
  dirs.push(dir);
  return NodeStorage.open(dir);
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const k = (s: string): Uint8Array => encodeKey(s);
const v = (x: unknown): Uint8Array => encodeValue(x);
const put = (key: string, value: unknown): TableCommand => ({ op: 'put', key: k(key), value: v(value) });
const del = (key: string): TableCommand => ({ op: 'delete', key: k(key) });
const cas = (key: string, expected: unknown, value: unknown): TableCommand => ({ op: 'cas', key: k(key), expected: expected === null ? null : v(expected), value: value === null ? null : v(value) });
const batch = (...ops: BatchOp[]): TableCommand => ({ op: 'batch', ops });

/** Applies entries as the host does: one write transaction, each entry in a child transaction. */
async function applyAll(storage: NodeStorage, sm: PartitionStateMachine, entries: Entry[]): Promise<ApplyResult[]> {
  return storage.transaction(() => entries.map((e) => storage.atomically(() => sm.apply(e) as ApplyResult)));
}

/** A replica's log: data entries at consecutive indexes from `first`. */
class Log {
  readonly entries: Entry[] = [];
  constructor(private next = 1) {}
  add(data: Uint8Array | TableCommand): Entry {
    const e: Entry = { index: this.next++, term: 1, kind: 'data', data: data instanceof Uint8Array ? data : encodeCommand(data) };
    this.entries.push(e);
    return e;
  }
}

const valueOf = (sm: PartitionStateMachine, key: string): unknown => {
  const got = sm.get(k(key));
  return got === null ? null : decodeValue(got.value);
};

describe('partition state machine: apply', () => {
  let storage: NodeStorage;
  let sm: PartitionStateMachine;
  let log: Log;
  const run = async (...commands: (TableCommand | Uint8Array)[]): Promise<ApplyResult[]> => applyAll(storage, sm, commands.map((c) => log.add(c)));
  beforeEach(() => {
    storage = openStorage();
    sm = new PartitionStateMachine(storage, 'users/0');
    log = new Log(10);
  });
  afterEach(() => storage.close());

  it('puts, overwrites and deletes; every value carries the index of the entry that wrote it', async () => {
    assert.deepEqual(await run(put('a', { n: 1 }), put('b', 'two')), [{ ok: true, version: 10 }, { ok: true, version: 11 }]);
    assert.deepEqual(decodeValue(sm.get(k('a'))!.value), { n: 1 });
    assert.equal(sm.get(k('a'))!.version, 10);
    assert.deepEqual(await run(put('a', { n: 2 })), [{ ok: true, version: 12 }]);
    assert.equal(sm.get(k('a'))!.version, 12);
    assert.deepEqual(await run(del('b'), del('b')), [{ ok: true, version: 13, existed: true }, { ok: true, version: 14, existed: false }]);
    assert.equal(sm.get(k('b')), null);
  });

  it('cas: null expects an absent key; a mismatch returns the current value and writes nothing', async () => {
    assert.deepEqual(await run(cas('c', null, 1)), [{ ok: true, version: 10 }]);
    const [miss] = await run(cas('c', null, 2));
    assert.equal(miss!.ok, false);
    assert.deepEqual(miss, { ok: false, reason: 'mismatch', failed: 0, current: { value: Uint8Array.from(v(1)), version: 10 } });
    assert.deepEqual(await run(cas('c', 1, 3)), [{ ok: true, version: 12 }]);
    assert.equal(valueOf(sm, 'c'), 3);
    const [wrong] = await run(cas('c', 1, 4));
    assert.equal(wrong!.ok === false && wrong!.reason, 'mismatch');
    assert.equal(valueOf(sm, 'c'), 3);
    assert.deepEqual(await run(cas('c', 3, null)), [{ ok: true, version: 14 }]);
    assert.equal(sm.get(k('c')), null, 'a cas to null deletes');
    const [absent] = await run(cas('c', 3, 5));
    assert.deepEqual(absent, { ok: false, reason: 'mismatch', failed: 0, current: null });
  });

  it('a batch applies every write at one version, or nothing when a condition fails', async () => {
    await run(put('x', 1), put('y', 1));
    const [ok] = await run(batch(
      { op: 'check', key: k('x'), expected: v(1) },
      { op: 'cas', key: k('y'), expected: v(1), value: v(2) },
      { op: 'put', key: k('z'), value: v('new') },
      { op: 'delete', key: k('x') },
    ));
    assert.deepEqual(ok, { ok: true, version: 12 });
    assert.equal(sm.get(k('x')), null);
    assert.deepEqual([sm.get(k('y'))!.version, sm.get(k('z'))!.version], [12, 12]);

    // The failing condition is last, the writes before it must not happen.
    const [failed] = await run(batch(
      { op: 'put', key: k('w'), value: v('w') },
      { op: 'delete', key: k('y') },
      { op: 'cas', key: k('z'), expected: v('old'), value: v('newer') },
    ));
    assert.deepEqual(failed, { ok: false, reason: 'mismatch', failed: 2, current: { value: Uint8Array.from(v('new')), version: 12 } });
    assert.equal(sm.get(k('w')), null);
    assert.equal(valueOf(sm, 'y'), 2);
    assert.equal(valueOf(sm, 'z'), 'new');
  });

  it('a batch tests every condition against the state before it, then writes in order', async () => {
    // The put of q comes first, but the check of q sees the state before the batch: absent.
    const [first] = await run(batch({ op: 'put', key: k('q'), value: v(1) }, { op: 'check', key: k('q'), expected: null }, { op: 'put', key: k('q'), value: v(2) }));
    assert.deepEqual(first, { ok: true, version: 10 });
    assert.equal(valueOf(sm, 'q'), 2, 'later writes to the same key win');
  });

  it('answers a malformed entry as data and writes nothing', async () => {
    const [bad] = await run(new Uint8Array([1, 2, 3]), put('ok', 1));
    assert.equal(bad!.ok, false);
    assert.equal(bad!.ok === false && bad!.reason, 'malformed');
    assert.match((bad as { message: string }).message, /malformed table command at index 10/);
    assert.equal(sm.count(), 1);
    assert.equal(sm.stats.malformed, 1);
  });

  it('keeps partitions that share the database apart, including group ids that prefix each other', async () => {
    const other = new PartitionStateMachine(storage, 'users/01');
    const short = new PartitionStateMachine(storage, 'users/');
    await run(put('a', 'mine'));
    await applyAll(storage, other, [new Log(1).add(put('a', 'theirs'))]);
    await applyAll(storage, short, [new Log(1).add(put('0\u0000a', 'tricky'))]);
    assert.equal(valueOf(sm, 'a'), 'mine');
    assert.equal(valueOf(other, 'a'), 'theirs');
    assert.deepEqual([sm.count(), other.count(), short.count()], [1, 1, 1]);
    assert.deepEqual(sm.scan().items.map((e) => decodeKey(e.key)), ['a']);
  });

  it('refuses a group id it cannot key by', () => {
    assert.throws(() => new PartitionStateMachine(storage, ''), /must be 1 to 256 bytes/);
    assert.throws(() => new PartitionStateMachine(storage, 'a\u0000b'), /without a zero byte/);
  });

  it('reports every write to change listeners, with its version; a failing listener breaks nothing', async () => {
    const seen: TableChange[] = [];
    const stop = sm.onApplied((c) => seen.push(c));
    sm.onApplied(() => {
      throw new Error('listener bug');
    });
    await run(put('a', 1), batch({ op: 'put', key: k('b'), value: v(2) }, { op: 'delete', key: k('a') }), cas('b', 9, 3));
    const brief = seen.map((c) => [c.op, c.version, 'key' in c ? decodeKey(c.key) : null]);
    assert.deepEqual(brief, [['put', 10, 'a'], ['put', 11, 'b'], ['delete', 11, 'a']], 'the failed cas changed nothing');
    assert.equal(sm.stats.listenerErrors, 3);
    stop();
    await run(put('c', 1));
    assert.equal(seen.length, 3);
  });

  it('removes its keys, and only its keys, on destroy', async () => {
    const other = new PartitionStateMachine(storage, 'users/1');
    await run(put('a', 1), put('b', 2));
    await applyAll(storage, other, [new Log(1).add(put('a', 'x'))]);
    assert.equal(await sm.destroy(), 2);
    assert.equal(sm.count(), 0);
    assert.equal(other.count(), 1);
  });
});

describe('partition state machine: scan', () => {
  let storage: NodeStorage;
  let sm: PartitionStateMachine;
  const keys = Array.from({ length: 2_500 }, (_, i) => `user:${String(i).padStart(5, '0')}`);
  beforeEach(async () => {
    storage = openStorage();
    sm = new PartitionStateMachine(storage, 'scan');
    const log = new Log();
    // Batches of 100 keys, plus keys around the prefix and bytes that sort by UTF-8 (not UTF-16) order.
    const entries = [];
    for (let i = 0; i < keys.length; i += 100) entries.push(log.add(batch(...keys.slice(i, i + 100).map((key): BatchOp => ({ op: 'put', key: k(key), value: v(key) })))));
    entries.push(log.add(batch(...['user', 'user;', 'usea', 'zz', '\uffff', '😀', 'é'].map((key): BatchOp => ({ op: 'put', key: k(key), value: v(key) })))));
    await applyAll(storage, sm, entries);
  });
  afterEach(() => storage.close());

  const pageAll = (range: Parameters<PartitionStateMachine['scan']>[0]): { keys: string[]; pages: number } => {
    const out: string[] = [];
    let after: Uint8Array | undefined;
    let pages = 0;
    for (;;) {
      const page = sm.scan({ ...range, ...(after ? { after } : {}) });
      pages++;
      out.push(...page.items.map((e) => decodeKey(e.key)));
      if (page.last === null) return { keys: out, pages };
      after = page.last;
    }
  };

  it('pages through a prefix in key order, each key once', () => {
    const { keys: got, pages } = pageAll({ prefix: k('user:'), limit: 333 });
    assert.deepEqual(got, keys);
    assert.equal(pages, Math.ceil(keys.length / 333));
  });

  it('scans a range [start, end)', () => {
    assert.deepEqual(pageAll({ start: k('user:00100'), end: k('user:00110'), limit: 3 }).keys, keys.slice(100, 110));
    assert.deepEqual(pageAll({ start: k('user:02499') }).keys, ['user:02499', 'user;', 'zz', 'é', '\uffff', '😀']);
    assert.deepEqual(pageAll({ end: k('user:') }).keys, ['usea', 'user']);
    assert.deepEqual(sm.scan({ start: k('b'), end: k('a') }), { items: [], last: null });
  });

  it('orders keys by their UTF-8 bytes', () => {
    // U+FFFF (EF BF BF) sorts before U+1F600 (F0 …) in UTF-8, after it in UTF-16.
    assert.deepEqual(pageAll({ start: k('zz') }).keys, ['zz', 'é', '\uffff', '😀']);
  });

  it('caps a page at MAX_SCAN_LIMIT items and returns values with their versions', () => {
    const page = sm.scan({ limit: 10_000 });
    assert.equal(page.items.length, MAX_SCAN_LIMIT);
    assert.notEqual(page.last, null);
    const first = page.items.find((e) => decodeKey(e.key) === 'user:00000')!;
    assert.deepEqual([decodeValue(first.value), first.version], ['user:00000', 1]);
    assert.equal(page.items.find((e) => decodeKey(e.key) === 'user:00900')!.version, 10);
  });

  it('an empty prefix scans the whole partition', () => {
    assert.equal(pageAll({ limit: MAX_SCAN_LIMIT }).keys.length, keys.length + 7);
  });
});

describe('partition state machine: replicas', () => {
  /** Every stored byte of the tables database (all partitions): keys and records. */
  const dump = (storage: NodeStorage): string[] =>
    [...storage.openDB<Uint8Array, Uint8Array>(TABLES_DB_NAME, { encoding: 'binary', keyEncoding: 'binary' }).getRange({})]
      .map(({ key, value }) => `${Buffer.from(key).toString('hex')}=${Buffer.from(value).toString('hex')}`);

  /** A seeded mix of puts, deletes, cas (matching and not) and batches over a few keys. */
  function workload(seed: number, n: number): Log {
    let s = seed;
    const rand = (m: number): number => {
      s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
      return s % m;
    };
    const key = (): string => `k${rand(20)}`;
    const value = (): unknown => (rand(3) === 0 ? { n: rand(5), tags: ['a', 'b'].slice(rand(3)) } : rand(5));
    const log = new Log();
    for (let i = 0; i < n; i++) {
      switch (rand(5)) {
        case 0: log.add(put(key(), value())); break;
        case 1: log.add(del(key())); break;
        case 2: log.add(cas(key(), rand(2) === 0 ? null : rand(5), rand(4) === 0 ? null : value())); break;
        case 3: log.add(batch(
          { op: 'check', key: k(key()), expected: rand(2) === 0 ? null : v(rand(5)) },
          { op: 'put', key: k(key()), value: v(value()) },
          { op: 'delete', key: k(key()) },
        )); break;
        default: log.add(new Uint8Array([rand(256)])); // a malformed entry
      }
    }
    return log;
  }

  it('two replicas fed the same entries hold the same bytes and answer the same results', async () => {
    const log = workload(7, 400);
    const [a, b] = [openStorage(), openStorage()];
    const [smA, smB] = [new PartitionStateMachine(a, 'p'), new PartitionStateMachine(b, 'p')];
    // Different batching: one transaction for all on A, many small ones on B.
    const resultsA = await applyAll(a, smA, log.entries);
    const resultsB: ApplyResult[] = [];
    for (let i = 0; i < log.entries.length; i += 7) resultsB.push(...(await applyAll(b, smB, log.entries.slice(i, i + 7))));
    assert.deepEqual(resultsA, resultsB);
    assert.ok(resultsA.some((r) => r.ok === false && r.reason === 'mismatch'), 'the workload has failing conditions');
    assert.ok(resultsA.some((r) => r.ok && r.version > 1), 'the workload has successful writes');
    assert.deepEqual(dump(a), dump(b));
    assert.ok(dump(a).length > 0);
    await Promise.all([a.close(), b.close()]);
  });

  it('a snapshot restored on another replica reproduces the partition, replacing what was there', async () => {
    const log = workload(11, 300);
    const [a, b] = [openStorage(), openStorage()];
    const smA = new PartitionStateMachine(a, 'p');
    await applyAll(a, smA, log.entries);
    const smB = new PartitionStateMachine(b, 'p');
    const neighbour = new PartitionStateMachine(b, 'q');
    await applyAll(b, smB, [new Log(1).add(put('stale', 1)), new Log(2).add(put('k1', 'stale'))]);
    await applyAll(b, neighbour, [new Log(1).add(put('stale', 'kept'))]);
    const seen: TableChange[] = [];
    smB.onApplied((c) => seen.push(c));
    const snap = smA.snapshot();
    await b.transaction(() => b.atomically(() => smB.restore(snap)));
    assert.deepEqual(smB.scan({ limit: MAX_SCAN_LIMIT }), smA.scan({ limit: MAX_SCAN_LIMIT }));
    assert.deepEqual(Buffer.from(smB.snapshot()), Buffer.from(snap));
    assert.equal(valueOf(neighbour, 'stale'), 'kept', 'another partition is untouched');
    const versions = smA.scan({ limit: MAX_SCAN_LIMIT }).items.map((e) => e.version);
    assert.deepEqual(seen, [{ op: 'restore', group: 'p', version: Math.max(...versions) }]);
    // The restored replica carries on like the original.
    const more = new Log(log.entries.length + 1);
    more.add(cas('k1', null, 'x'));
    more.add(put('k2', 'y'));
    assert.deepEqual(await applyAll(b, smB, more.entries), await applyAll(a, smA, more.entries));
    await Promise.all([a.close(), b.close()]);
  });

  it('an empty partition snapshots and restores', async () => {
    const a = openStorage();
    const sm = new PartitionStateMachine(a, 'empty');
    await applyAll(a, sm, [new Log().add(put('gone', 1))]);
    const empty = new PartitionStateMachine(openStorage(), 'empty').snapshot();
    await a.transaction(() => a.atomically(() => sm.restore(empty)));
    assert.equal(sm.count(), 0);
    await a.close();
  });
});

describe('partition state machine: multi-command entries', () => {
  let storage: NodeStorage;
  let sm: PartitionStateMachine;
  let log: Log;
  beforeEach(() => {
    storage = openStorage();
    sm = new PartitionStateMachine(storage, 'orders/3');
    log = new Log(20);
  });
  afterEach(() => storage.close());

  /** The entry data of several commands (bytes are taken as an already encoded inner command). */
  const multi = (...commands: (TableCommand | Uint8Array)[]): Uint8Array => encodeMulti(commands.map((c) => (c instanceof Uint8Array ? c : encodeCommand(c))));
  /** Applies one entry as the host does and returns what apply returned, as it is. */
  const applyOne = async (data: Uint8Array | TableCommand): Promise<{ index: number; result: ApplyResult | ApplyResult[] }> => {
    const entry = log.add(data);
    const [result] = await storage.transaction(() => [storage.atomically(() => sm.apply(entry))]);
    return { index: entry.index, result: result! };
  };
  const history = (after: number, limit = 100): [number, string, unknown][] =>
    sm.history.after(after, limit).changes.map((c) => [c.version, decodeKey(c.key), c.value === null ? null : decodeValue(c.value)]);

  it('returns one result per command, in order, each at the index of the entry', async () => {
    await applyOne(put('old', 'x'));
    const { index, result } = await applyOne(multi(
      put('a', 1),
      del('old'),
      del('never'),
      batch({ op: 'put', key: k('b'), value: v(2) }, { op: 'check', key: k('zz'), expected: null }),
      cas('c', null, 3),
    ));
    assert.equal(index, 21);
    assert.deepEqual(result, [
      { ok: true, version: 21 },
      { ok: true, version: 21, existed: true },
      { ok: true, version: 21, existed: false },
      { ok: true, version: 21 },
      { ok: true, version: 21 },
    ]);
    assert.deepEqual(['a', 'b', 'c'].map((key) => [valueOf(sm, key), sm.get(k(key))!.version]), [[1, 21], [2, 21], [3, 21]]);
    assert.equal(sm.get(k('old')), null);
    assert.equal(sm.stats.applied, 6, 'each command of the multi counts as applied');
  });

  it('applies the commands in order: a later command sees the writes of an earlier one', async () => {
    const { result } = await applyOne(multi(put('n', 1), cas('n', 1, 2), cas('n', 1, 3)));
    assert.deepEqual(result, [
      { ok: true, version: 20 },
      { ok: true, version: 20 },
      { ok: false, reason: 'mismatch', failed: 0, current: { value: Uint8Array.from(v(2)), version: 20 } },
    ]);
    assert.equal(valueOf(sm, 'n'), 2);
  });

  it('a failed condition fails its own command only; the others apply', async () => {
    await applyOne(put('q', 'q0'));
    const { result } = await applyOne(multi(
      put('p', 1),
      cas('q', 'wrong', 'q1'),
      batch({ op: 'put', key: k('s'), value: v('s') }, { op: 'check', key: k('q'), expected: v('nope') }),
      put('r', 3),
    ));
    const current = { value: Uint8Array.from(v('q0')), version: 20 };
    assert.deepEqual(result, [
      { ok: true, version: 21 },
      { ok: false, reason: 'mismatch', failed: 0, current },
      { ok: false, reason: 'mismatch', failed: 1, current },
      { ok: true, version: 21 },
    ]);
    assert.equal(valueOf(sm, 'q'), 'q0');
    assert.equal(sm.get(k('s')), null, 'the failed batch wrote nothing');
    assert.deepEqual([valueOf(sm, 'p'), valueOf(sm, 'r')], [1, 3]);
    assert.equal(sm.stats.mismatches, 2);
  });

  it('a malformed inner command gets a malformed result; the rest apply', async () => {
    const packr = new Packr({ useRecords: false });
    const data = packr.pack([TABLE_COMMAND_FORMAT, 'm', [encodeCommand(put('m1', 1)), 'not bytes', packr.pack([TABLE_COMMAND_FORMAT, 'p', k('x')]), multi(put('y', 1), put('z', 1)), encodeCommand(put('m2', 2))]]);
    const { result } = await applyOne(data);
    assert.ok(Array.isArray(result));
    assert.equal(result.length, 5);
    assert.deepEqual([result[0], result[4]], [{ ok: true, version: 20 }, { ok: true, version: 20 }]);
    for (const [i, reason] of [[1, /not bytes/], [2, /a put needs/], [3, /cannot nest/]] as const) {
      const r = result[i]!;
      assert.ok(r.ok === false && r.reason === 'malformed', `command ${i} is malformed`);
      assert.match(r.message, /^malformed table command at index 20: /);
      assert.match(r.message, reason);
    }
    assert.deepEqual([valueOf(sm, 'm1'), valueOf(sm, 'm2'), sm.get(k('x')), sm.get(k('y')), sm.get(k('z'))], [1, 2, null, null, null]);
    assert.deepEqual([sm.stats.applied, sm.stats.malformed], [2, 3]);
  });

  it('a multi malformed as a whole gets one malformed result and writes nothing', async () => {
    const { result } = await applyOne(new Packr({ useRecords: false }).pack([TABLE_COMMAND_FORMAT, 'm', [encodeCommand(put('lonely', 1))]]));
    assert.ok(!Array.isArray(result));
    assert.equal(result.ok === false && result.reason, 'malformed');
    assert.equal(sm.count(), 0);
    assert.deepEqual(history(0), []);
  });

  it('records one history entry at the version, holding the changes of every command in order', async () => {
    await applyOne(put('gone', 0));
    const { index } = await applyOne(multi(
      put('a', 1),
      del('gone'),
      cas('a-cas', 'wrong', 9), // a mismatch: no change
      batch({ op: 'put', key: k('b'), value: v(2) }, { op: 'delete', key: k('c') }),
      cas('d', null, 4),
    ));
    await applyOne(put('after', 5));
    const expected = [[index, 'a', 1], [index, 'gone', null], [index, 'b', 2], [index, 'c', null], [index, 'd', 4]];
    // One record: the first version after the previous entry holds every change of the multi.
    assert.deepEqual(history(index - 1, 1), expected);
    assert.deepEqual(history(0), [[20, 'gone', 0], ...expected, [22, 'after', 5]]);
    assert.deepEqual(history(index), [[22, 'after', 5]]);
  });

  it('reports each change of every command to change listeners, in order', async () => {
    const seen: TableChange[] = [];
    sm.onApplied((c) => seen.push(c));
    await applyOne(multi(put('a', 1), cas('x', 'wrong', 1), del('b'), batch({ op: 'put', key: k('c'), value: v(3) }, { op: 'put', key: k('d'), value: v(4) })));
    assert.deepEqual(seen.map((c) => [c.op, c.group, c.version, 'key' in c ? decodeKey(c.key) : null, c.op === 'put' ? decodeValue(c.value) : null]), [
      ['put', 'orders/3', 20, 'a', 1],
      ['delete', 'orders/3', 20, 'b', null],
      ['put', 'orders/3', 20, 'c', 3],
      ['put', 'orders/3', 20, 'd', 4],
    ]);
  });
});
