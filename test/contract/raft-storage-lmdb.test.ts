import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStorage } from '../../lib/storage/node-storage.js';
import { LmdbRaftStorage } from '../../lib/storage/lmdb-raft-storage.js';
import { raftStorageContract } from './raft-storage-contract.js';

let dir = '';
let root: NodeStorage | null = null;

// Opened as a node opens its environment: lmdb-js defaults, so overlappingSync is on and durability
// comes from awaiting `flushed`.
const openEnv = () => NodeStorage.open(dir);

raftStorageContract('lmdb', {
  async setup() {
    dir = mkdtempSync(join(tmpdir(), 'troupe-raft-storage-'));
    root = openEnv();
  },
  open(group) {
    return new LmdbRaftStorage(root!, group);
  },
  async reopen() {
    await root!.close();
    root = openEnv();
  },
  async cleanup() {
    await root?.close();
    root = null;
    rmSync(dir, { recursive: true, force: true });
  },
}, { crash: 'a power loss cannot be simulated in-process; LMDB\'s own crash safety covers it, and the memory storage models it for the simulator' });
