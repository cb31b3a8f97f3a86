import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NodeStateStore } from '../../../lib/storage/node-state.js';

describe('NodeStateStore (LMDB)', () => {
  it('allocates strictly increasing generations across reopen, even if the clock steps back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-state-'));
    try {
      let store = new NodeStateStore(dir);
      const first = store.nextGeneration(1_000_000);
      await store.close();
      store = new NodeStateStore(dir);
      const second = store.nextGeneration(500_000);
      assert.ok(second > first, `${second} > ${first}`);
      assert.equal(store.nextGeneration(2_000_000), 2_000_000);
      await store.saveKnownAddresses(['b:2', 'a:1', 'a:1']);
      await store.close();
      store = new NodeStateStore(dir);
      assert.deepEqual(store.knownAddresses(), ['a:1', 'b:2']);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
