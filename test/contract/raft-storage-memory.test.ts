import { MemoryRaftStorage } from '../../lib/storage/memory-raft-storage.js';
import { raftStorageContract } from './raft-storage-contract.js';

let groups = new Map<string, MemoryRaftStorage>();
// A manual-sync storage for the crash test, so the test decides what is durable when.
let manual = false;

raftStorageContract('memory', {
  async setup() {
    groups = new Map();
    manual = false;
  },
  open(group) {
    let s = groups.get(group);
    if (s === undefined) {
      s = new MemoryRaftStorage(group, { autoSync: !manual });
      groups.set(group, s);
    }
    return s;
  },
  async reopen() {
    for (const s of groups.values()) {
      await s.close();
      s.reopen();
    }
  },
  crash(group) {
    const s = groups.get(group)!;
    s.crash();
    return s;
  },
  async cleanup() {
    groups.clear();
  },
});
