/**
 * A table partition client over the forwarding router: every operation issued
 * at a follower is served by the leader, with keys, values, versions, cas
 * mismatches and scan cursors coming back through rpc unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RaftRouter } from '../../../lib/raft/forwarding.js';
import { Rpc } from '../../../lib/rpc/rpc.js';
import { PARTITION_QUERIES, PartitionClient } from '../../../lib/tables/partition-client.js';
import { PartitionStateMachine } from '../../../lib/tables/partition-state-machine.js';
import { startRaftCluster, type RaftTestCluster, type TestRaftNode } from '../../harness/raft-host-node.js';
import { waitFor } from '../../harness/wait-for.js';

const WAIT = { timeoutMs: 10_000 };

describe('table partition through the forwarding router', () => {
  let cluster: RaftTestCluster;
  let client: PartitionClient<{ n: number }>;
  let leaderRouter: RaftRouter;
  const routers: RaftRouter[] = [];
  const group = 't/orders/0';
  before(async () => {
    cluster = await startRaftCluster({ nodes: 3, stateMachineFor: (storage, g) => (g.startsWith('t/') ? new PartitionStateMachine(storage, g) : undefined) });
    const membership = { voters: [...cluster.names].sort(), learners: [] };
    const [n1, n2] = cluster.nodes as [TestRaftNode, TestRaftNode];
    await Promise.all(cluster.nodes.map((n) => n.raft.createGroup(group, membership, new PartitionStateMachine(n.storage, group), { campaign: n === n1 })));
    await waitFor(() => n1.raft.host().status(group)?.role === 'leader', { ...WAIT, what: 'n1 to lead the partition' });
    for (const n of cluster.nodes) {
      routers.push(new RaftRouter({ self: n.name, raft: n.raft, rpc: new Rpc(n.transport), addressOf: (x) => n.members.addressOf(x), transport: n.transport, members: n.members, queries: PARTITION_QUERIES }));
    }
    leaderRouter = routers[0]!;
    client = new PartitionClient(routers[cluster.nodes.indexOf(n2)]!, group);
  });
  after(async () => {
    for (const r of routers) r.close();
    await cluster.close();
  });

  it('puts, reads, compares and scans from a follower', async () => {
    const { version } = await client.put('k1', { n: 1 });
    assert.deepEqual(await client.get('k1'), { value: { n: 1 }, version });
    const mismatch = await client.cas('k1', { n: 2 }, { n: 3 });
    assert.deepEqual(mismatch, { ok: false, failed: 0, key: 'k1', current: { value: { n: 1 }, version } });
    assert.equal((await client.cas('k1', { n: 1 }, { n: 3 })).ok, true);
    assert.equal((await client.batch([{ op: 'put', key: 'k2', value: { n: 2 } }, { op: 'put', key: 'k3', value: { n: 3 } }])).ok, true);
    const first = await client.scan({ prefix: 'k', limit: 2 });
    assert.deepEqual(first.items.map((i) => i.key), ['k1', 'k2']);
    const rest = await client.scan({ prefix: 'k', limit: 2, cursor: first.cursor! });
    assert.deepEqual(rest.items.map((i) => [i.key, i.value.n]), [['k3', 3]]);
    const deleted = await client.delete('k2');
    assert.ok(deleted.existed && deleted.version > (await client.get('k3'))!.version);
    assert.equal(await client.get('k2'), null);
    assert.ok(leaderRouter.stats.served >= 10, `the leader served ${leaderRouter.stats.served} requests`);
  });
});
