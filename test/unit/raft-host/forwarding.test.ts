/**
 * Forwarding to the leader (lib/raft/forwarding.ts) over real raft hosts,
 * memory transports and rpc: three nodes hold the groups' replicas, a fourth
 * holds none and only routes. Nothing here asserts a duration beyond "within
 * the deadline".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortError, TimeoutError } from '../../../lib/errors.js';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { RaftRouter, RPC_RAFT_PROPOSE, UnknownReplicaError, type RaftRouterOptions } from '../../../lib/raft/forwarding.js';
import { OutcomeUnknownError } from '../../../lib/raft/requests.js';
import type { StateMachine } from '../../../lib/raft/state-machine.js';
import { Rpc } from '../../../lib/rpc/rpc.js';
import type { TransportEvent } from '../../../lib/transport/transport.js';
import { waitFor } from '../../harness/wait-for.js';
import { enc, leaderOf, RecordingStateMachine, startRaftCluster, type RaftTestCluster, type TestRaftNode } from '../../harness/raft-host-node.js';

const WAIT = { timeoutMs: 10_000 };
const queries = { commands: (sm: StateMachine) => (sm as RecordingStateMachine).commands() };

describe('forwarding to the leader', () => {
  let cluster: RaftTestCluster;
  let replicas: TestRaftNode[];
  let outsider: TestRaftNode;
  const rpcs = new Map<TestRaftNode, Rpc>();
  const routers = new Map<TestRaftNode, RaftRouter>();
  const groups = ['a', 'b', 'c'];
  const replicasOf = (group: string): string[] => (groups.includes(group) ? replicas.map((n) => n.name) : []);

  const makeRouter = (node: TestRaftNode, extra: Partial<Pick<RaftRouterOptions, 'replicasOf' | 'maxHops'>> = {}): RaftRouter => {
    routers.get(node)?.close();
    const router = new RaftRouter({
      self: node.name, raft: node.raft, rpc: rpcs.get(node)!, addressOf: (n) => node.members.addressOf(n),
      transport: node.transport, members: node.members, queries, replicasOf, backoff: { baseMs: 10, maxMs: 100 }, ...extra,
    });
    routers.set(node, router);
    return router;
  };
  const router = (node: TestRaftNode): RaftRouter => routers.get(node)!;

  before(async () => {
    cluster = await startRaftCluster({ nodes: 4 });
    replicas = cluster.nodes.slice(0, 3);
    outsider = cluster.nodes[3]!;
    for (const n of cluster.nodes) rpcs.set(n, new Rpc(n.transport));
    for (const n of cluster.nodes) makeRouter(n);
    const membership = { voters: replicas.map((n) => n.name).sort(), learners: [] };
    await Promise.all(replicas.flatMap((n, ni) => groups.map((g, gi) => {
      const sm = new RecordingStateMachine(n.storage, g, new Map());
      n.machines.set(g, sm);
      return n.raft.createGroup(g, membership, sm, { campaign: gi === ni });
    })));
    await waitFor(() => groups.every((g) => leaderOf(cluster, g) !== undefined), { ...WAIT, what: 'every group to elect its leader' });
  });
  after(async () => {
    for (const r of routers.values()) r.close();
    await cluster.close();
  });

  it('serves a write and a read issued at a follower or at a node without a replica at the leader', async () => {
    const leader = leaderOf(cluster, 'a')!;
    const follower = replicas.find((n) => n !== leader)!;
    const servedBefore = router(leader).stats.served;
    assert.equal(await router(follower).propose('a', enc('from-follower')), 'applied from-follower');
    assert.equal(await router(outsider).propose('a', enc('from-outsider')), 'applied from-outsider');
    const seen = await router(outsider).query<string[]>('a', 'commands', null);
    assert.deepEqual(seen.slice(-2), ['from-follower', 'from-outsider']);
    assert.ok((await router(follower).query<string[]>('a', 'commands', null)).includes('from-outsider'));
    assert.equal(router(leader).stats.served - servedBefore, 4, 'the leader served all four');
    assert.equal(router(outsider).cachedLeader('a'), leader.name, 'the outsider cached the leader');
    assert.equal(await router(leader).propose('a', enc('at-leader')), 'applied at-leader');
    assert.ok(router(leader).stats.local >= 1, 'the leader runs its own requests locally');
  });

  it('follows not-leader hints a bounded number of hops', async () => {
    const [n1, n2, n3] = replicas as [TestRaftNode, TestRaftNode, TestRaftNode];
    let calls = 0;
    // n2 and n3 each claim the other leads the group: a hint loop.
    rpcs.get(n2)!.handle(RPC_RAFT_PROPOSE, () => {
      calls++;
      throw new NotLeaderError('loop', n3.name, 7);
    });
    rpcs.get(n3)!.handle(RPC_RAFT_PROPOSE, () => {
      calls++;
      throw new NotLeaderError('loop', n2.name, 7);
    });
    try {
      const r = makeRouter(outsider, { replicasOf: (g) => (g === 'loop' ? [n2.name] : replicasOf(g)), maxHops: 3 });
      await assert.rejects(r.propose('loop', enc('x'), { timeoutMs: 5_000 }), (err: unknown) => err instanceof NotLeaderError && err.leaderHint !== null);
      assert.equal(calls, 4, 'the first try and three hops');
    } finally {
      makeRouter(n2);
      makeRouter(n3);
      makeRouter(outsider);
    }
    assert.equal(await router(n1).propose('a', enc('after-loop')), 'applied after-loop');
  });

  it('keeps following a correct hint to a leader that cannot serve yet, backing off in between, instead of giving up after the hop limit', async () => {
    const [, n2, n3] = replicas as [TestRaftNode, TestRaftNode, TestRaftNode];
    let leaderCalls = 0;
    rpcs.get(n2)!.handle(RPC_RAFT_PROPOSE, () => {
      throw new NotLeaderError('late', n3.name, 7);
    });
    rpcs.get(n3)!.handle(RPC_RAFT_PROPOSE, () => {
      // The named leader is not ready for its first five calls (a replica still being created there: retried elsewhere).
      if (++leaderCalls <= 5) throw new UnknownReplicaError('late');
      return 'served by the named leader';
    });
    try {
      const r = makeRouter(outsider, { replicasOf: (g) => (g === 'late' ? [n2.name] : replicasOf(g)), maxHops: 3 });
      assert.equal(await r.propose('late', enc('x'), { timeoutMs: 5_000 }), 'served by the named leader');
      assert.equal(leaderCalls, 6, 'five refusals, then served: more hint follows than maxHops, each after a back-off');
    } finally {
      makeRouter(n2);
      makeRouter(n3);
      makeRouter(outsider);
    }
  });

  it('respects the deadline and the abort signal while no leader is known', async () => {
    const r = router(outsider);
    let started = performance.now();
    await assert.rejects(r.propose('nowhere', enc('x'), { timeoutMs: 300 }), (err: unknown) => err instanceof TimeoutError);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 3_000, `gave up after ${elapsed} ms`);

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), 100);
    started = performance.now();
    await assert.rejects(r.query('nowhere', 'commands', null, { timeoutMs: 10_000, signal: controller.signal }), (err: unknown) => err instanceof AbortError);
    assert.ok(performance.now() - started < 3_000, 'the abort ended the retries');
    await assert.rejects(r.propose('a', enc('x'), { signal: AbortSignal.abort() }), (err: unknown) => err instanceof AbortError);
  });

  it('reports a forwarded write whose answer was lost as outcome unknown (and it did apply)', async () => {
    const leader = leaderOf(cluster, 'b')!;
    // The leader proposes, then its answer never comes back.
    rpcs.get(leader)!.handle(RPC_RAFT_PROPOSE, async (arg) => {
      const { group, data } = arg as { group: string; data: Uint8Array };
      await leader.raft.propose(group, data);
      return new Promise(() => {});
    });
    try {
      await assert.rejects(router(outsider).propose('b', enc('lost-reply'), { timeoutMs: 1_000 }), (err: unknown) => err instanceof OutcomeUnknownError);
      await waitFor(() => leader.machines.get('b')!.commands().includes('lost-reply'), { ...WAIT, what: 'the write to have applied' });
      // A read whose answer is lost is retried instead: it changes nothing.
      assert.ok((await router(outsider).query<string[]>('b', 'commands', null)).includes('lost-reply'));
    } finally {
      makeRouter(leader);
    }
  });

  it('corrects the cached leader after the leader stops and serves requests after the election', async () => {
    const old = leaderOf(cluster, 'c')!;
    assert.equal(await router(outsider).propose('c', enc('before')), 'applied before');
    assert.equal(router(outsider).cachedLeader('c'), old.name);
    await old.raft.stop();
    await old.transport.stop();
    cluster.reportDown(old);
    assert.equal(router(outsider).cachedLeader('c'), undefined, 'member-down drops the cached leader');
    const survivor = replicas.find((n) => n !== old)!;
    assert.equal(await router(outsider).propose('c', enc('after'), { timeoutMs: 10_000 }), 'applied after');
    assert.equal(await router(survivor).propose('c', enc('after-2'), { timeoutMs: 10_000 }), 'applied after-2');
    const fresh = replicas.find((n) => n !== old && n.raft.host().status('c')?.role === 'leader');
    assert.ok(fresh !== undefined && fresh !== old, 'a new leader was elected');
    assert.equal(router(outsider).cachedLeader('c'), fresh.name, 'the cache names the new leader');
    assert.deepEqual((await router(outsider).query<string[]>('c', 'commands', null)).slice(-3), ['before', 'after', 'after-2']);
  });
});

describe('forwarding when the link to the leader drops', () => {
  let cluster: RaftTestCluster;
  const routers: RaftRouter[] = [];
  after(async () => {
    for (const r of routers) r.close();
    await cluster.close();
  });

  it('does not send to a leader whose link went down: a write waits for the election instead of its deadline at the dead leader', async () => {
    cluster = await startRaftCluster({ nodes: 3 });
    const membership = { voters: [...cluster.names].sort(), learners: [] };
    await Promise.all(cluster.nodes.map((n, i) => {
      const sm = new RecordingStateMachine(n.storage, 'g', new Map());
      n.machines.set('g', sm);
      return n.raft.createGroup('g', membership, sm, { campaign: i === 0 });
    }));
    await waitFor(() => leaderOf(cluster, 'g'), { ...WAIT, what: 'a leader' });
    const old = leaderOf(cluster, 'g')!;
    const survivor = cluster.nodes.find((n) => n !== old)!;
    // Every node serves forwarded requests through its router.
    for (const n of cluster.nodes) {
      routers.push(new RaftRouter({
        self: n.name, raft: n.raft, rpc: new Rpc(n.transport), addressOf: (name) => n.members.addressOf(name),
        transport: n.transport, members: n.members, queries, replicasOf: () => cluster.names, backoff: { baseMs: 10, maxMs: 100 },
      }));
    }
    const router = routers[cluster.nodes.indexOf(survivor)]!;
    assert.equal(await router.propose('g', enc('before')), 'applied before');

    // The leader's process dies: its link drops; membership has not noticed (no member-down) and the survivor's replica still names it leader.
    const linkDown = new Promise<void>((resolve) => survivor.transport.onEvent((e) => e.type === 'link-down' && e.peer.name === old.name && resolve()));
    await old.raft.stop();
    await old.transport.stop();
    await linkDown;
    assert.equal(survivor.raft.host().status('g')?.leader, old.name, 'no election yet');
    // Sent to the dead leader, the write would wait out its deadline there and end with an unknown outcome.
    assert.equal(await router.propose('g', enc('during-election'), { timeoutMs: 4_000 }), 'applied during-election');
    assert.ok(cluster.nodes.some((n) => n !== old && n.raft.host().status('g')?.role === 'leader'), 'a new leader was elected');
  });
});

describe('which nodes the router keeps away from after a link drops', () => {
  it('a node whose link went down leads nothing for the router until its link is up, or unlinkedMs after its last failed dial', () => {
    let emit: (event: TransportEvent) => void = () => {};
    const transport = { onEvent: (handler: (event: TransportEvent) => void) => void (emit = handler) };
    const raft = {
      propose: () => Promise.reject(new Error('unused')),
      read: () => Promise.reject(new Error('unused')),
      host: () => ({ status: () => ({ role: 'follower', leader: 'n1', term: 3 }) }),
    };
    const rpc = { handle: () => {} } as unknown as Rpc;
    let now = 1_000;
    const router = new RaftRouter({ self: 'n2', raft, rpc, addressOf: (n) => (n === 'n1' ? '127.0.0.1:9001' : undefined), transport, unlinkedMs: 150, now: () => now });
    const peer = { name: 'n1', address: '127.0.0.1:9001', generation: 1 };
    try {
      assert.equal(router.leaderOf('g'), 'n1', 'the replica names its leader');
      emit({ type: 'link-down', peer, reason: 'reset' });
      assert.equal(router.leaderOf('g'), undefined, 'unlinked: not a target');
      now += 100;
      emit({ type: 'dial-failed', address: '127.0.0.1:9002', message: 'refused' });
      emit({ type: 'dial-failed', address: '127.0.0.1:9001', message: 'refused' });
      now += 100;
      assert.equal(router.leaderOf('g'), undefined, 'a failed dial extended the wait past unlinkedMs after the link went down');
      now += 50;
      assert.equal(router.leaderOf('g'), 'n1', 'unlinkedMs after the last failed dial, the node is tried again');
      emit({ type: 'link-down', peer, reason: 'reset' });
      assert.equal(router.leaderOf('g'), undefined);
      emit({ type: 'link-up', peer });
      assert.equal(router.leaderOf('g'), 'n1', 'link up ends the wait');
    } finally {
      router.close();
    }
  });
});
