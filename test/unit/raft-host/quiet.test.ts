/**
 * Many groups per node pair: heartbeats coalesced into one frame per tick
 * per peer, idle groups quiescent (no timer, no message), woken by a
 * proposal, and by a member-down event when their leader's node dies.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { waitFor } from '../../harness/wait-for.js';
import { createGroups, enc, leaderOf, startRaftCluster } from '../../harness/raft-host-node.js';

const WAIT = { timeoutMs: 20_000 };

describe('multi-raft between three nodes', () => {
  it('coalesces the heartbeats of 100 groups into about one frame per tick per peer', async () => {
    const cluster = await startRaftCluster({ nodes: 3, quiesceAfterTicks: Number.POSITIVE_INFINITY });
    try {
      const groups = Array.from({ length: 100 }, (_, i) => `p${i}`);
      await createGroups(cluster, groups);
      await waitFor(() => groups.every((g) => leaderOf(cluster, g) !== undefined), { ...WAIT, what: 'every group to elect its leader' });
      const [n1, n2] = cluster.nodes;
      // Let the elections' own traffic (votes, the leaders' first entries and their commit) pass before counting heartbeats.
      const settled = n1!.raft.stats().ticks + 10;
      await waitFor(() => n1!.raft.stats().ticks >= settled && groups.every((g) => cluster.nodes.every((n) => n.raft.host().status(g)?.applied === n1!.raft.host().status(g)?.commit)), { ...WAIT, what: '10 ticks and every first entry applied everywhere' });
      const ticks0 = n1!.raft.stats().ticks;
      const frames0 = n1!.raft.host().framesTo.get(n2!.name) ?? 0;
      const heartbeats0 = n1!.raft.stats().heartbeatsSent;
      await waitFor(() => n1!.raft.stats().ticks >= ticks0 + 20, { ...WAIT, what: '20 ticks' });
      const ticks = n1!.raft.stats().ticks - ticks0;
      const frames = (n1!.raft.host().framesTo.get(n2!.name) ?? 0) - frames0;
      const heartbeats = n1!.raft.stats().heartbeatsSent - heartbeats0;
      // Per tick and peer: one frame with this node's heartbeats, one with its answers to the peer's.
      assert.ok(frames <= 2 * ticks + 2, `${frames} frames to one peer in ${ticks} ticks`);
      assert.ok(heartbeats >= 10 * frames, `${heartbeats} heartbeats travelled in ${frames} frames`);
    } finally {
      await cluster.close();
    }
  });

  it('quiesces idle groups, wakes one for a proposal, and elects a new leader when membership reports the old one down', async () => {
    const cluster = await startRaftCluster({ nodes: 3 });
    try {
      const groups = Array.from({ length: 10 }, (_, i) => `q${i}`);
      await createGroups(cluster, groups);
      const allQuiet = (): boolean => cluster.nodes.every((n) => !n.raft.host().ticking() && groups.every((g) => n.raft.host().status(g)?.quiesced === true));
      await waitFor(allQuiet, { ...WAIT, what: 'every group on every node to quiesce and every tick timer to stop' });
      const sent = cluster.nodes.map((n) => n.raft.stats().framesSent);
      const ticks = cluster.nodes.map((n) => n.raft.stats().ticks);
      await sleep(300); // a quiet period of 30 heartbeat intervals
      assert.deepEqual(cluster.nodes.map((n) => n.raft.stats().framesSent), sent, 'no frame is sent while every group is quiet');
      assert.deepEqual(cluster.nodes.map((n) => n.raft.stats().ticks), ticks, 'no tick fires while every group is quiet');

      const leader = leaderOf(cluster, 'q1')!;
      assert.equal(await leader.raft.propose('q1', enc('wake')), 'applied wake');
      assert.equal(leader.raft.host().status('q2')?.quiesced, true, 'other groups stay quiet');
      await waitFor(allQuiet, { ...WAIT, what: 'q1 to quiesce again' });

      const old = leaderOf(cluster, 'q4')!;
      const term = old.raft.host().status('q4')!.term;
      await old.raft.stop(); // the leader's node dies; its followers are quiet and would never notice on their own
      cluster.reportDown(old);
      const successor = await waitFor(() => cluster.nodes.find((n) => n !== old && n.raft.host().status('q4')?.role === 'leader'), { ...WAIT, what: 'a new leader of q4' });
      assert.ok(successor.raft.host().status('q4')!.term > term);
      assert.equal(await successor.raft.propose('q4', enc('after-failover')), 'applied after-failover');
    } finally {
      await cluster.close();
    }
  });
});
