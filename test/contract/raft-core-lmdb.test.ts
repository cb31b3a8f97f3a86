/**
 * The core over real storage: a one-voter group driven through the Ready
 * contract with LmdbRaftStorage (awaiting each write before acknowledging
 * it), closed, reopened from disk, and continued. Two groups share the
 * environment, as all groups of a node do.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStorage } from '../../lib/storage/node-storage.js';
import { SeededRandom } from '../../lib/protocol/random.js';
import { localTestRaftConfig } from '../../lib/protocol/raft/config.js';
import { RaftCore } from '../../lib/protocol/raft/raft.js';
import { LmdbRaftStorage } from '../../lib/storage/lmdb-raft-storage.js';

const dec = new TextDecoder();

class Shell {
  readonly applied: string[] = [];
  appliedIndex = 0;
  readonly core: RaftCore;

  constructor(readonly storage: LmdbRaftStorage, now: number, machine: { applied: string[]; index: number } = { applied: [], index: 0 }) {
    const stored = storage.load();
    this.applied.push(...machine.applied);
    this.appliedIndex = machine.index;
    this.core = new RaftCore({ ...localTestRaftConfig(), snapshotTrailingEntries: 1 }, {
      id: 'n1', group: storage.group, membership: { voters: ['n1'], learners: [] },
      hardState: stored.hardState, offset: stored.offset, entries: stored.entries, snapshot: stored.snapshot, applied: machine.index,
    }, new SeededRandom(7), now);
  }

  /** Runs the Ready loop until quiet, awaiting every write. */
  async drive(now: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const rd = this.core.ready();
      const busy = rd.persist !== null || rd.apply.entries.length > 0 || rd.apply.snapshot !== null || rd.messages.length > 0;
      this.core.advance(rd);
      if (!busy) return;
      if (rd.persist !== null) {
        await this.storage.write(rd.persist);
        this.core.step({ type: 'persisted', id: rd.persist.id }, now);
      }
      if (rd.apply.snapshot !== null) {
        this.applied.splice(0, this.applied.length, ...(JSON.parse(dec.decode(rd.apply.snapshot.data)) as string[]));
        this.appliedIndex = rd.apply.snapshot.meta.index;
      }
      for (const e of rd.apply.entries) {
        if (e.kind === 'data') this.applied.push(dec.decode(e.data));
        this.appliedIndex = e.index;
      }
      if (rd.apply.entries.length > 0) this.core.step({ type: 'applied', index: this.appliedIndex }, now);
    }
    throw new Error('the Ready loop did not settle');
  }
}

test('a group over LMDB elects itself, commits, snapshots, and restarts from disk where it left off', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-raft-core-'));
  let root: NodeStorage = NodeStorage.open(dir);
  try {
    let shell = new Shell(new LmdbRaftStorage(root, 'orders/3'), 0);
    const other = new LmdbRaftStorage(root, 'orders/4');
    await other.write({ hardState: { term: 9, vote: 'n2', commit: 0 }, mustSync: true });
    shell.core.step({ type: 'campaign' }, 0);
    await shell.drive(0);
    assert.equal(shell.core.role, 'leader');
    for (let i = 0; i < 5; i++) shell.core.step({ type: 'propose', requestId: `p${i}`, data: new TextEncoder().encode(`v${i}`) }, 1);
    await shell.drive(1);
    assert.deepEqual(shell.applied, ['v0', 'v1', 'v2', 'v3', 'v4']);
    shell.core.step({ type: 'snapshot-created', index: shell.appliedIndex, data: new TextEncoder().encode(JSON.stringify(shell.applied)) }, 2);
    shell.core.step({ type: 'propose', requestId: 'p5', data: new TextEncoder().encode('v5') }, 2);
    await shell.drive(2);
    const term = shell.core.term;
    const last = shell.core.log.lastIndex();

    await root.close();
    root = NodeStorage.open(dir);
    const storage = new LmdbRaftStorage(root, 'orders/3');
    const snap = storage.snapshot()!;
    assert.ok(snap.data instanceof Uint8Array && snap.data.constructor === Uint8Array);
    // The state machine comes back from the snapshot; the core re-applies what follows it.
    shell = new Shell(storage, 10, { applied: JSON.parse(dec.decode(snap.data)) as string[], index: snap.meta.index });
    assert.equal(shell.core.term, term);
    assert.equal(shell.core.log.lastIndex(), last);
    await shell.drive(10);
    assert.deepEqual(shell.applied, ['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    shell.core.step({ type: 'campaign' }, 11);
    await shell.drive(11);
    assert.equal(shell.core.role, 'leader');
    assert.ok(shell.core.term > term);
    assert.equal(new LmdbRaftStorage(root, 'orders/4').hardState().term, 9, 'the other group is untouched');
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
