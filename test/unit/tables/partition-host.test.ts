/**
 * Table partitions through the multi-Raft host (real LMDB, memory
 * transport): the partition client's operations, versions that are Raft
 * indexes, limits refused before anything is proposed, deadlines and
 * signals, every entry applied once across a host crash and a restart, a
 * follower that refuses writes with the leader hint, and a replica that
 * catches up from a snapshot. Nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortError, BadRequestError, TimeoutError, ValueTooLargeError } from '../../../lib/errors.js';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { encodeCommand, encodeKey, encodeValue, MAX_VALUE_BYTES } from '../../../lib/tables/commands.js';
import { PartitionClient } from '../../../lib/tables/partition-client.js';
import { MAX_SCAN_LIMIT, PartitionStateMachine } from '../../../lib/tables/partition-state-machine.js';
import { LmdbRaftStorage } from '../../../lib/storage/lmdb-raft-storage.js';
import { startRaftCluster, type RaftTestCluster, type TestRaftNode } from '../../harness/raft-host-node.js';
import { waitFor } from '../../harness/wait-for.js';

const WAIT = { timeoutMs: 10_000 };

/** Partition state machines for groups named `t/…`, with a count of how often each (node, group, version, key) was applied. */
function partitions(): { applied: Map<string, number>; factory: (storage: import('../../../lib/storage/node-storage.js').NodeStorage, group: string, node: string) => PartitionStateMachine | undefined } {
  const applied = new Map<string, number>();
  return {
    applied,
    factory: (storage, group, node) => {
      if (!group.startsWith('t/')) return undefined;
      const sm = new PartitionStateMachine(storage, group);
      sm.onApplied((c) => {
        const id = `${node} ${group} ${c.version} ${c.op} ${'key' in c ? Buffer.from(c.key).toString('hex') : ''}`;
        applied.set(id, (applied.get(id) ?? 0) + 1);
      });
      return sm;
    },
  };
}

/** Creates the partition's replica on `nodes`, each with the state machine its host would reopen after a restart. */
async function createPartition(cluster: RaftTestCluster, p: ReturnType<typeof partitions>, nodes: TestRaftNode[], group: string, leader: TestRaftNode): Promise<void> {
  const membership = { voters: [...cluster.names].sort(), learners: [] };
  await Promise.all(nodes.map((n) => n.raft.createGroup(group, membership, p.factory(n.storage, group, n.name)!, { campaign: n === leader })));
}

const partitionOf = (node: TestRaftNode, group: string): Promise<PartitionStateMachine> => node.raft.read(group, (sm) => sm as PartitionStateMachine);

describe('table partition on one node', () => {
  let cluster: RaftTestCluster;
  let node: TestRaftNode;
  let client: PartitionClient<unknown>;
  const group = 't/users/0';
  const p = partitions();
  before(async () => {
    cluster = await startRaftCluster({ nodes: 1, stateMachineFor: p.factory, config: { snapshotThresholdEntries: 20, snapshotTrailingEntries: 5 } });
    node = cluster.nodes[0]!;
    await createPartition(cluster, p, cluster.nodes, group, node);
    await waitFor(() => node.raft.host().status(group)?.role === 'leader', { ...WAIT, what: 'the partition to elect its leader' });
    client = new PartitionClient(node.raft, group);
  });
  after(() => cluster.close());

  it('puts, gets, deletes and compares-and-sets; versions are the indexes of the entries', async () => {
    const { version } = await client.put('alice', { name: 'Alice', age: 30 });
    assert.equal(version, node.raft.host().status(group)!.lastIndex, 'the version is the index of the entry that wrote it');
    assert.deepEqual(await client.get('alice'), { value: { name: 'Alice', age: 30 }, version });
    assert.equal(await client.get('nobody'), null);

    const created = await client.cas('bob', null, 1);
    assert.equal(created.ok, true);
    const stale = await client.cas('bob', null, 2);
    assert.deepEqual(stale, { ok: false, failed: 0, key: 'bob', current: { value: 1, version: (created as { version: number }).version } });
    assert.equal((await client.cas('bob', 1, 2)).ok, true);
    assert.equal((await client.cas('bob', undefined, 3)).ok, false, 'undefined expects an absent key too');
    assert.equal((await client.cas('bob', 2, null)).ok, true, 'a cas to null deletes');
    assert.equal(await client.get('bob'), null);

    const deleted = await client.delete('alice');
    assert.equal(deleted.existed, true);
    assert.ok(deleted.version > version);
    assert.equal((await client.delete('alice')).existed, false);
  });

  it('applies a batch atomically: all writes at one version, or none when a condition fails', async () => {
    await client.put('stock:apple', 5);
    const ok = await client.batch([
      { op: 'cas', key: 'stock:apple', expected: 5, value: 4 },
      { op: 'put', key: 'order:1', value: { item: 'apple' } },
      { op: 'check', key: 'order:2', expected: null },
    ]);
    assert.equal(ok.ok, true);
    const [apple, order] = await Promise.all([client.get('stock:apple'), client.get('order:1')]);
    assert.equal(apple!.version, (ok as { version: number }).version);
    assert.equal(order!.version, apple!.version);

    const refused = await client.batch([
      { op: 'put', key: 'order:2', value: { item: 'apple' } },
      { op: 'cas', key: 'stock:apple', expected: 5, value: 4 },
    ]);
    assert.deepEqual(refused, { ok: false, failed: 1, key: 'stock:apple', current: { value: 4, version: apple!.version } });
    assert.equal(await client.get('order:2'), null);
  });

  it('scans by prefix and by range, page by page with an opaque cursor', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `scan:${String(i).padStart(3, '0')}`);
    for (let i = 0; i < keys.length; i += 100) await client.batch(keys.slice(i, i + 100).map((key) => ({ op: 'put' as const, key, value: key.toUpperCase() })));
    const seen: string[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof client.scan>> = await client.scan({ prefix: 'scan:', limit: 40, ...(cursor ? { cursor } : {}) });
      pages++;
      for (const item of page.items) {
        assert.equal(item.value, item.key.toUpperCase());
        seen.push(item.key);
      }
      cursor = page.cursor;
    } while (cursor !== null);
    assert.deepEqual(seen, keys);
    assert.equal(pages, Math.ceil(keys.length / 40));
    const range = await client.scan({ start: 'scan:010', end: 'scan:013' });
    assert.deepEqual(range.items.map((e) => e.key), ['scan:010', 'scan:011', 'scan:012']);
    assert.equal(range.cursor, null);
    await assert.rejects(client.scan({ cursor: 'not-a-cursor' }), (err: unknown) => err instanceof BadRequestError && /malformed scan cursor/.test(err.message));
    await assert.rejects(client.scan({ prefix: 'a', start: 'b' }), BadRequestError);
    await assert.rejects(client.scan({ limit: 0 }), BadRequestError);
    const all = await client.scan({ limit: 10 * MAX_SCAN_LIMIT });
    assert.equal(all.cursor, null, 'the partition holds fewer keys than one capped page');
    assert.deepEqual(all.items.filter((e) => e.key.startsWith('scan:')).map((e) => e.key), keys);
  });

  it('refuses what exceeds a limit before proposing it', async () => {
    const before = node.raft.host().status(group)!.lastIndex;
    await assert.rejects(client.put('big', 'x'.repeat(MAX_VALUE_BYTES)), (err: unknown) => err instanceof ValueTooLargeError && /the limit is 1048576/.test(err.message));
    await assert.rejects(client.put('', 1), (err: unknown) => err instanceof BadRequestError && /must not be empty/.test(err.message));
    await assert.rejects(client.put('null', null), BadRequestError);
    assert.equal(node.raft.host().status(group)!.lastIndex, before, 'nothing was proposed');
  });

  it('honours signals and deadlines', async () => {
    await assert.rejects(client.get('alice', { signal: AbortSignal.abort() }), AbortError);
    await assert.rejects(client.put('x', 1, { signal: AbortSignal.abort() }), AbortError);
    await assert.rejects(client.get('alice', { timeoutMs: 0 }), TimeoutError);
  });

  it('applies every entry once across a host crash and a restart, and keeps values and versions', async () => {
    const before = await client.scan({ limit: MAX_SCAN_LIMIT });
    node.raft.crash();
    await waitFor(async () => (await client.put('after-crash', 1)).version > 0, { ...WAIT, what: 'a write after the host crash' });
    node = await cluster.restart(node);
    client = new PartitionClient(node.raft, group);
    await waitFor(() => node.raft.host().status(group)?.role === 'leader', { ...WAIT, what: 'the partition to lead again after the restart' });
    const { version } = await client.put('after-restart', 1);
    const afterRestart = await client.scan({ limit: MAX_SCAN_LIMIT });
    assert.deepEqual(afterRestart.items.filter((e) => !e.key.startsWith('after-')), before.items);
    assert.equal((await client.get('after-restart'))!.version, version);
    for (const [id, calls] of p.applied) assert.equal(calls, 1, `${id} applied ${calls} times`);
    assert.ok(p.applied.size > 250, 'the change feed saw the writes');
    // The log was compacted behind snapshots of the state machine on the way (threshold 20 entries).
    assert.ok((await partitionOf(node, group)).count() > 250);
  });
});

describe('table partition on three nodes', () => {
  let cluster: RaftTestCluster;
  const group = 't/orders/0';
  const p = partitions();
  before(async () => {
    cluster = await startRaftCluster({ nodes: 3, stateMachineFor: p.factory, config: { snapshotThresholdEntries: 10, snapshotTrailingEntries: 2 } });
  });
  after(() => cluster.close());

  it('refuses a write at a follower with the leader hint, reads linearizably there, and a late replica catches up from a snapshot', async () => {
    const [n1, n2, n3] = cluster.nodes as [TestRaftNode, TestRaftNode, TestRaftNode];
    // n3 holds no replica yet: n1 and n2 form the majority of the three voters.
    await createPartition(cluster, p, [n1, n2], group, n1);
    await waitFor(() => n1.raft.host().status(group)?.role === 'leader', { ...WAIT, what: 'n1 to lead the partition' });
    const leader = new PartitionClient(n1.raft, group);
    const follower = new PartitionClient(n2.raft, group);
    await assert.rejects(follower.put('k', 1), (err: unknown) => err instanceof NotLeaderError && err.leaderHint === n1.name);
    for (let i = 0; i < 30; i++) await leader.put(`k${String(i).padStart(2, '0')}`, i);
    assert.equal((await follower.get('k29'))!.value, 29, 'a read at the follower sees the last write');

    await createPartition(cluster, p, [n3], group, n1);
    await waitFor(async () => (await partitionOf(n3, group).catch(() => null))?.count() === 30, { ...WAIT, what: 'n3 to catch up' });
    const states = await Promise.all([n1, n2, n3].map(async (n) => (await partitionOf(n, group)).snapshot()));
    assert.deepEqual(Buffer.from(states[1]!), Buffer.from(states[0]!));
    assert.deepEqual(Buffer.from(states[2]!), Buffer.from(states[0]!), 'the late replica holds the same bytes');
    assert.ok([...p.applied.keys()].some((id) => id.startsWith(`${n3.name} ${group}`) && id.includes(' restore ')), 'n3 installed a snapshot');
  });

  it('keeps every replica identical with many write batches in flight and snapshots taken on the way', async () => {
    const [n1, n2, n3] = cluster.nodes as [TestRaftNode, TestRaftNode, TestRaftNode];
    const busy = 't/orders/1';
    await createPartition(cluster, p, [n1, n2, n3], busy, n1);
    await waitFor(() => n1.raft.host().status(busy)?.role === 'leader', { ...WAIT, what: 'n1 to lead the busy partition' });
    const batchesBefore = n1.raft.stats().batches;
    // Raw proposals over several turns, each its own entry: the host starts a batch while earlier ones are still in flight.
    const expected = new Map<string, number>();
    const writes: Promise<unknown>[] = [];
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 10; i++) {
        const key = `o${(turn * 7 + i) % 50}`;
        expected.set(key, turn * 10 + i);
        writes.push(n1.raft.propose(busy, encodeCommand({ op: 'put', key: encodeKey(key), value: encodeValue(turn * 10 + i) })));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const results = (await Promise.all(writes)) as { ok: boolean; version: number }[];
    assert.ok(results.every((r) => r.ok), 'every put applied');
    assert.deepEqual(results.map((r) => r.version), [...results.map((r) => r.version)].sort((a, b) => a - b), 'versions follow the order of the proposals');
    assert.ok(n1.raft.stats().batches - batchesBefore > 1, 'the writes spread over several batches');
    assert.ok([n1, n2, n3].some((n) => n.raft.stats().writesInFlightPeak > 1), 'a batch started while another was in flight');
    await waitFor(async () => {
      const counts = await Promise.all([n1, n2, n3].map(async (n) => (await partitionOf(n, busy)).count()));
      return counts.every((c) => c === expected.size) && [n2, n3].every((n) => n.raft.host().status(busy)?.applied === n1.raft.host().status(busy)?.applied);
    }, { ...WAIT, what: 'every replica to apply every write' });
    const states = await Promise.all([n1, n2, n3].map(async (n) => Buffer.from((await partitionOf(n, busy)).snapshot())));
    assert.deepEqual(states[1], states[0]);
    assert.deepEqual(states[2], states[0]);
    const leaderClient = new PartitionClient(n1.raft, busy);
    for (const [key, value] of expected) assert.equal((await leaderClient.get(key))!.value, value, `the last write of ${key}`);
    // Snapshots were taken on the way (threshold 10 entries), each at an index the state machine had exactly reached.
    for (const n of [n1, n2, n3]) {
      const stored = new LmdbRaftStorage(n.storage, busy);
      assert.ok((stored.snapshot()?.meta.index ?? 0) > 0 && stored.firstIndex() > 1, `${n.name} snapshotted and compacted its log (first index ${stored.firstIndex()})`);
    }
  });
});
