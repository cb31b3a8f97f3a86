/**
 * The multi-Raft host over real LMDB and memory transports: group commit
 * across groups, apply and applied index in one transaction across a crash,
 * restart from disk, and supervision. Nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { OutcomeUnknownError } from '../../../lib/raft/requests.js';
import { waitFor } from '../../harness/wait-for.js';
import { createGroups, enc, leaderOf, startRaftCluster, type RaftTestCluster } from '../../harness/raft-host-node.js';

const WAIT = { timeoutMs: 10_000 };

describe('raft host, one node', () => {
  let cluster: RaftTestCluster;
  const groups = Array.from({ length: 20 }, (_, i) => `g${i}`);
  before(async () => {
    cluster = await startRaftCluster({ nodes: 1 });
    await createGroups(cluster, groups);
    await waitFor(() => groups.every((g) => leaderOf(cluster, g) !== undefined), { ...WAIT, what: 'every group to elect its leader' });
  });
  after(() => cluster.close());

  it('writes the proposals of many groups made in one turn in one transaction with one flush', async () => {
    const [node] = cluster.nodes;
    await Promise.all(groups.map((g) => node!.raft.propose(g, enc('warm-up'))));
    const before = { ...node!.storage.stats };
    const host = { ...node!.raft.stats() };
    const results = await Promise.all(groups.map((g) => node!.raft.propose(g, enc(`x-${g}`))));
    assert.deepEqual(results, groups.map((g) => `applied x-${g}`));
    const stats = node!.raft.stats();
    assert.ok(stats.persists - host.persists >= groups.length, 'every group persisted its entry');
    // One batch appends all 20 entries, the next applies all 20 (a single voter commits on its own flush).
    const transactions = node!.storage.stats.transactions - before.transactions;
    const flushes = node!.storage.stats.flushes - before.flushes;
    assert.ok(transactions <= 3, `${transactions} transactions for ${groups.length} groups`);
    assert.ok(flushes <= 3, `${flushes} flushes for ${groups.length} groups`);
  });

  it('applies each entry exactly once across a crash in apply and a restart', async () => {
    let node = cluster.nodes[0]!;
    assert.equal(await node.raft.propose('g0', enc('a')), 'applied a');
    node.machines.get('g0')!.failOn = 'boom';
    // The state machine throws inside its child transaction: its writes roll back, the host crashes and is rebuilt.
    await assert.rejects(node.raft.propose('g0', enc('boom')), (err: unknown) => err instanceof OutcomeUnknownError);
    await waitFor(() => node.machines.get('g0')!.commands().includes('boom'), { ...WAIT, what: 'the rebuilt host to apply the committed entry' });
    await waitFor(() => node.raft.host().status('g0')?.role === 'leader', { ...WAIT, what: 'g0 to lead again after the crash' });
    assert.equal(await node.raft.propose('g0', enc('b')), 'applied b');
    node = await cluster.restart(node);
    await waitFor(() => node.raft.host().status('g0')?.role === 'leader', { ...WAIT, what: 'g0 to lead again after the restart' });
    assert.equal(await node.raft.propose('g0', enc('c')), 'applied c');
    const commands = node.machines.get('g0')?.commands() ?? [];
    assert.deepEqual(commands, ['warm-up', 'x-g0', 'a', 'boom', 'b', 'c']);
    for (const [index, calls] of node.applyCalls.get('g0')!) assert.equal(calls, 1, `entry ${index} applied ${calls} times`);
  });

  it('carries on after the host actor crashes', async () => {
    const node = cluster.nodes[0]!;
    const before = node.raft.host();
    node.raft.crash();
    await waitFor(() => node.raft.host() !== before, { ...WAIT, what: 'the supervisor to rebuild the host' });
    await waitFor(() => node.raft.host().status('g5')?.role === 'leader', { ...WAIT, what: 'g5 to lead again' });
    assert.equal(await node.raft.propose('g5', enc('after-crash')), 'applied after-crash');
    assert.equal(await node.raft.read('g5', (sm) => (sm as never as { commands(): string[] }).commands().at(-1)), 'after-crash');
  });
});

describe('raft host, three nodes', () => {
  let cluster: RaftTestCluster;
  const groups = ['a', 'b', 'c'];
  before(async () => {
    cluster = await startRaftCluster({ nodes: 3 });
    await createGroups(cluster, groups);
    await waitFor(() => groups.every((g) => leaderOf(cluster, g) !== undefined), { ...WAIT, what: 'every group to elect its leader' });
  });
  after(() => cluster.close());

  it('replicates proposals, reads linearizably, and refuses a follower with the leader hint', async () => {
    const leader = leaderOf(cluster, 'a')!;
    const follower = cluster.nodes.find((n) => n !== leader)!;
    assert.equal(await leader.raft.propose('a', enc('one')), 'applied one');
    await assert.rejects(follower.raft.propose('a', enc('two')), (err: unknown) => err instanceof NotLeaderError && err.leaderHint === leader.name);
    const seen = await follower.raft.read('a', (sm) => (sm as never as { commands(): string[] }).commands());
    assert.ok(seen.includes('one'), 'a read at a follower sees the committed write');
  });

  it('a restarted node resumes its groups and commits new proposals', async () => {
    const leader = leaderOf(cluster, 'b')!;
    const follower = await cluster.restart(cluster.nodes.find((n) => n !== leader)!);
    assert.equal(await leader.raft.propose('b', enc('after-restart')), 'applied after-restart');
    await waitFor(() => follower.machines.get('b')?.commands().includes('after-restart'), { ...WAIT, what: 'the restarted follower to apply the new entry' });
  });
});
