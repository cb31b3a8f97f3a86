import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { open } from 'lmdb';
import { NodeStateStore } from '../../../lib/storage/node-state.js';
import { NodeStorage } from '../../../lib/storage/node-storage.js';

describe('NodeStateStore (LMDB)', () => {
  it('allocates strictly increasing generations across reopen, even if the clock steps back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-state-'));
    try {
      let storage = NodeStorage.open(dir);
      let store = new NodeStateStore(storage);
      const first = store.nextGeneration(1_000_000);
      await storage.close();
      storage = NodeStorage.open(dir);
      store = new NodeStateStore(storage);
      const second = store.nextGeneration(500_000);
      assert.ok(second > first, `${second} > ${first}`);
      assert.equal(store.nextGeneration(2_000_000), 2_000_000);
      await store.saveKnownAddresses(['b:2', 'a:1', 'a:1']);
      await storage.close();
      storage = NodeStorage.open(dir);
      store = new NodeStateStore(storage);
      assert.deepEqual(store.knownAddresses(), ['a:1', 'b:2']);
      await storage.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the generation a data directory of an earlier release kept in the main database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-state-'));
    try {
      const legacy = open({ path: join(dir, 'node.mdb'), compression: false });
      legacy.putSync('generation', 5_000_000);
      legacy.putSync('known-addresses', ['c:3']);
      await legacy.close();
      const storage = NodeStorage.open(dir);
      const store = new NodeStateStore(storage);
      assert.deepEqual(store.knownAddresses(), ['c:3']);
      assert.equal(store.nextGeneration(1_000), 5_000_001);
      await storage.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
