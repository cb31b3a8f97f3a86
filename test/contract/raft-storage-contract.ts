/**
 * The RaftStorage contract: one suite that every implementation runs
 * (memory, LMDB). It pins down the model of lib/storage/raft-storage.ts: an
 * offset plus entries, the order inside one write, truncation on overwrite,
 * compaction, snapshots that replace or keep the log, durability across a
 * reopen, independent groups in one environment, and (where the
 * implementation can simulate it) a crash that loses only unsynced writes.
 */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Entry, Snapshot } from '../../lib/protocol/raft/types.js';
import type { RaftStorage } from '../../lib/storage/raft-storage.js';

export interface RaftStorageHarness {
  /** Prepares an empty environment (a temp directory). */
  setup(): Promise<void>;
  /** The storage of `group` in the current environment. */
  open(group: string): RaftStorage;
  /** Closes the environment and opens it again (a clean restart); storages must be opened again. */
  reopen(): Promise<void>;
  /** Power loss: only synced writes survive. Absent when the implementation cannot simulate it in-process. */
  crash?(group: string): RaftStorage;
  cleanup(): Promise<void>;
}

const enc = new TextEncoder();
const e = (index: number, term: number, text = `${index}@${term}`): Entry => ({ index, term, kind: 'data', data: enc.encode(text) });
const run = (from: number, terms: number[]) => terms.map((t, i) => e(from + i, t));
const snap = (index: number, term: number, data = 'state'): Snapshot => ({ meta: { index, term, membership: { voters: ['a', 'b', 'c'], learners: ['d'] } }, data: enc.encode(data) });
const terms = (s: RaftStorage) => s.entries(s.firstIndex(), s.lastIndex() + 1).map((x) => x.term);

export function raftStorageContract(name: string, harness: RaftStorageHarness, skips: { crash?: string } = {}): void {
  describe(`raft storage contract: ${name}`, () => {
    beforeEach(() => harness.setup());
    afterEach(() => harness.cleanup());

    it('a new group is empty: no entries, empty hard state, no snapshot', () => {
      const s = harness.open('g1');
      assert.deepEqual(s.hardState(), { term: 0, vote: null, commit: 0 });
      assert.equal(s.firstIndex(), 1);
      assert.equal(s.lastIndex(), 0);
      assert.equal(s.term(0), 0);
      assert.equal(s.term(1), undefined);
      assert.deepEqual(s.entries(1, 1), []);
      assert.equal(s.snapshot(), null);
      assert.deepEqual(s.load(), { hardState: { term: 0, vote: null, commit: 0 }, offset: { index: 0, term: 0 }, entries: [], snapshot: null });
    });

    it('stores entries and the hard state, and reads them back exactly', async () => {
      const s = harness.open('g1');
      const written = [...run(1, [1, 1, 2]), { index: 4, term: 2, kind: 'config' as const, data: new Uint8Array(0), change: { type: 'add-learner' as const, node: 'd' } }];
      await s.write({ entries: written, hardState: { term: 2, vote: 'b', commit: 3 }, mustSync: true });
      assert.deepEqual(s.entries(1, 5), written);
      assert.deepEqual(s.entries(2, 4), written.slice(1, 3));
      assert.deepEqual([s.term(1), s.term(3), s.term(4), s.term(5)], [1, 2, 2, undefined]);
      assert.deepEqual(s.hardState(), { term: 2, vote: 'b', commit: 3 });
      assert.throws(() => s.entries(0, 2), RangeError);
      assert.throws(() => s.entries(1, 6), RangeError);
    });

    it('writing entry i discards every stored entry from i on', async () => {
      const s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1, 1, 1, 1]), mustSync: true });
      await s.write({ entries: run(3, [2]), mustSync: true });
      assert.deepEqual(terms(s), [1, 1, 2]);
      assert.equal(s.lastIndex(), 3);
      await s.write({ entries: run(4, [2, 2]), mustSync: true });
      assert.deepEqual(terms(s), [1, 1, 2, 2, 2]);
    });

    it('refuses a write that would leave a gap, and changes nothing', async () => {
      const s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1]), mustSync: true });
      await assert.rejects(s.write({ entries: run(5, [1]), hardState: { term: 9, vote: null, commit: 0 }, mustSync: true }), RangeError);
      assert.deepEqual(terms(s), [1, 1]);
      assert.equal(s.hardState().term, 0);
    });

    it('compaction drops entries through n and keeps the term of n', async () => {
      const s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1, 2, 2, 3]), mustSync: true });
      await s.write({ snapshot: snap(4, 2), compactThrough: 3, mustSync: true });
      assert.equal(s.firstIndex(), 4);
      assert.equal(s.lastIndex(), 5);
      assert.equal(s.term(3), 2, 'the offset keeps its term');
      assert.equal(s.term(2), undefined);
      assert.throws(() => s.entries(3, 5), RangeError);
      assert.deepEqual(terms(s), [2, 3]);
      assert.deepEqual(s.snapshot(), snap(4, 2), 'the leader\'s own snapshot matches its log: later entries stay');
      assert.deepEqual(s.load().offset, { index: 3, term: 2 });
    });

    it('a snapshot the log does not match replaces the whole log', async () => {
      const s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1, 1]), mustSync: true });
      await s.write({ snapshot: snap(10, 4), hardState: { term: 4, vote: null, commit: 10 }, mustSync: true });
      assert.equal(s.lastIndex(), 10);
      assert.equal(s.firstIndex(), 11);
      assert.equal(s.term(10), 4);
      assert.equal(s.term(3), undefined);
      assert.deepEqual(s.load(), { hardState: { term: 4, vote: null, commit: 10 }, offset: { index: 10, term: 4 }, entries: [], snapshot: snap(10, 4) });
      await s.write({ entries: run(11, [4, 5]), mustSync: true });
      assert.deepEqual(terms(s), [4, 5]);
    });

    it('one write applies snapshot, compaction, entries, hard state in that order', async () => {
      const s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1, 1, 1]), mustSync: true });
      await s.write({ snapshot: snap(3, 1), compactThrough: 2, entries: run(4, [2, 2]), hardState: { term: 2, vote: 'a', commit: 3 }, mustSync: true });
      assert.deepEqual(s.load().offset, { index: 2, term: 1 });
      assert.deepEqual(terms(s), [1, 2, 2]);
      assert.deepEqual(s.hardState(), { term: 2, vote: 'a', commit: 3 });
    });

    it('writes resolve in call order, synced or not', async () => {
      const s = harness.open('g1');
      const order: number[] = [];
      await Promise.all([
        s.write({ entries: run(1, [1]), mustSync: true }).then(() => order.push(1)),
        s.write({ hardState: { term: 1, vote: null, commit: 1 } }).then(() => order.push(2)),
        s.write({ entries: run(2, [1]), mustSync: true }).then(() => order.push(3)),
      ]);
      assert.deepEqual(order, [1, 2, 3]);
    });

    it('everything written survives a close and reopen', async () => {
      let s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1, 2, 2]), mustSync: true });
      await s.write({ snapshot: snap(2, 1), compactThrough: 1, hardState: { term: 2, vote: 'c', commit: 4 }, mustSync: true });
      const before = s.load();
      await s.close();
      await harness.reopen();
      s = harness.open('g1');
      assert.deepEqual(s.load(), before);
      assert.deepEqual(terms(s), [1, 2, 2]);
    });

    it('groups sharing an environment are independent', async () => {
      const a = harness.open('alpha');
      const b = harness.open('beta');
      await Promise.all([
        a.write({ entries: run(1, [1, 1, 1]), hardState: { term: 1, vote: 'x', commit: 1 }, mustSync: true }),
        b.write({ entries: run(1, [7]), mustSync: true }),
      ]);
      await a.write({ snapshot: snap(50, 9), mustSync: true });
      assert.deepEqual(terms(b), [7]);
      assert.deepEqual(b.hardState(), { term: 0, vote: null, commit: 0 });
      assert.equal(b.snapshot(), null);
      assert.equal(a.lastIndex(), 50);
    });

    it('a crash keeps synced writes and loses the rest; a sync makes every earlier write durable', { skip: skips.crash ?? (harness.crash === undefined ? 'the harness cannot crash this implementation' : false) }, async () => {
      const s = harness.open('g1');
      await s.write({ entries: run(1, [1, 1]), hardState: { term: 1, vote: 'a', commit: 0 }, mustSync: true });
      void s.write({ hardState: { term: 1, vote: 'a', commit: 2 } }); // commit only: no sync
      const lost = s.write({ entries: run(3, [1]), mustSync: true });
      lost.catch(() => {});
      const after = harness.crash!('g1');
      await assert.rejects(lost);
      assert.deepEqual(terms(after), [1, 1]);
      assert.deepEqual(after.hardState(), { term: 1, vote: 'a', commit: 0 });
      void after.write({ hardState: { term: 1, vote: 'a', commit: 2 } });
      await after.write({ entries: run(3, [1]), mustSync: true });
      const again = harness.crash!('g1');
      assert.deepEqual(again.hardState().commit, 2, 'the later sync made the unsynced write durable');
      assert.deepEqual(terms(again), [1, 1, 1]);
    });
  });
}
