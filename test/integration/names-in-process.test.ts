/**
 * Cluster-wide names and singletons over three nodes in one process (real
 * transport on loopback, real tables): concurrent registration (exactly one
 * wins), whereis from every node, release when the actor stops and when its
 * node leaves or stops (a graceful leave hands over; a stop without leave
 * is swept after the down verdict), and a singleton that runs on exactly
 * one node and moves when that node goes, sampled on every event-loop turn
 * so that two instances at once would be seen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn, stop, type Ref } from 'nact';
import { NameTakenError, RemoteRef, singletonKey, startNode, type TroupeNode } from '../../lib/index.js';
import { nactRefAt } from '../../lib/remote/actor-ref.js';
import { freePort } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const require = createRequire(import.meta.url);
const systemMap = require('nact/lib/system-map.js') as { find(systemName: string, ref: unknown): unknown };

/** Three nodes of one cluster in this process; `stopAll` stops and removes what is left. */
async function startCluster(prefix: string): Promise<{ nodes: TroupeNode[]; stopAll(): Promise<void> }> {
  const dirs: string[] = [];
  const nodes: TroupeNode[] = [];
  const ports = [await freePort(), await freePort(), await freePort()];
  try {
    for (const [i, port] of ports.entries()) {
      const dataDir = mkdtempSync(join(tmpdir(), `troupe-names-${prefix}${i}-`));
      dirs.push(dataDir);
      nodes.push(await startNode({ config: {
        nodeName: `${prefix}${i}@127.0.0.1`, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: i === 0 ? [] : [`${prefix}0@127.0.0.1:${ports[0]}`],
        clusterPort: port, port: 0, httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir, cookie: `names-${prefix}`,
        heartbeatIntervalMs: 300, heartbeatTimeoutMs: 1500, logLevel: 'silent',
      } }));
    }
    await waitFor(() => nodes.every((n) => n.members().filter((m) => m.state === 'up').length === 3) || undefined, { timeoutMs: 20_000, what: 'three nodes up on every node' });
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop({ leave: false })));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes,
    stopAll: async () => {
      await Promise.all(nodes.map((n) => n.stop({ leave: false })));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether an actor runs at `path` on `node` (false once the node stopped). */
function runs(node: TroupeNode, path: readonly string[]): boolean {
  if (!node.isLive()) return false;
  const name = (node.system as unknown as { system: { name: string } }).system.name;
  return systemMap.find(name, nactRefAt(name, path)) !== undefined;
}

/** Counts the nodes running `path` on every event-loop turn until stopped; `max` is the most seen at once. */
function sample(nodes: TroupeNode[], path: readonly string[]): { readonly now: number; readonly max: number; stop(): void } {
  const state = { now: 0, max: 0, running: true };
  const turn = (): void => {
    state.now = nodes.filter((n) => runs(n, path)).length;
    state.max = Math.max(state.max, state.now);
    if (state.running) setImmediate(turn);
  };
  turn();
  return { get now() { return state.now; }, get max() { return state.max; }, stop: () => { state.running = false; } };
}

function quiet(node: TroupeNode, name: string): Ref<any> {
  return spawn(node.system!, (s: unknown) => s, name);
}

describe('cluster-wide names on three nodes', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let nodes: TroupeNode[];

  before(async () => {
    cluster = await startCluster('nm');
    nodes = cluster.nodes;
  });
  after(async () => cluster?.stopAll());

  it('of three concurrent registrations of one name exactly one wins; the others get NameTakenError naming the winner', async () => {
    const refs = nodes.map((n) => quiet(n, 'lobby'));
    const outcomes = await Promise.allSettled(nodes.map((n, i) => n.names!.register('lobby', refs[i]!)));
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    assert.equal(winners.length, 1, `exactly one registration wins: ${outcomes.map((o) => o.status === 'rejected' ? String(o.reason) : 'ok').join(' | ')}`);
    const winner = nodes[winners[0]!]!;
    const winnerRef = new RemoteRef(winner.name, ['lobby']);
    for (const o of outcomes) {
      if (o.status === 'fulfilled') continue;
      assert.ok(o.reason instanceof NameTakenError, `a loser gets NameTakenError, got ${String(o.reason)}`);
      assert.equal(o.reason.holder, winnerRef.toString());
      assert.equal(o.reason.registeredBy, winner.name);
      assert.match(o.reason.message, /choose another name/);
    }
    for (const n of nodes) assert.ok((await n.names!.whereis('lobby'))?.equals(winnerRef), `whereis on ${n.name} finds the winner`);
    const info = await nodes[0]!.names!.lookup('lobby');
    assert.equal(info?.registeredBy, winner.name);
    assert.ok((info?.version ?? 0) > 0);
    await winner.names!.register('lobby', refs[winners[0]!]!); // again, same actor: succeeds
  });

  it('releases a name when its actor stops; every node sees it gone, and another node can take it', async () => {
    const holder = nodes[1]!;
    const ref = quiet(holder, 'worker');
    await holder.names!.register('worker', ref);
    for (const n of nodes) assert.ok((await n.names!.whereis('worker'))?.equals(new RemoteRef(holder.name, ['worker'])));
    stop(ref);
    for (const n of nodes) await waitFor(async () => (await n.names!.whereis('worker')) === null || undefined, { timeoutMs: 10_000, what: `whereis on ${n.name} after the actor stopped` });
    const other = quiet(nodes[2]!, 'worker');
    await nodes[2]!.names!.register('worker', other);
    const moved = new RemoteRef(nodes[2]!.name, ['worker']);
    assert.ok((await nodes[0]!.names!.whereis('worker', { fresh: true }))?.equals(moved), 'a fresh whereis sees a registration that completed before it');
    await waitFor(async () => (await nodes[0]!.names!.whereis('worker'))?.equals(moved) || undefined, { timeoutMs: 10_000, what: 'the cached answer replaced after the watch event' });
  });

  it('unregister releases only the holder\'s registration; reserved and empty names are refused', async () => {
    const ref = quiet(nodes[0]!, 'desk');
    await nodes[0]!.names!.register('desk', ref);
    assert.equal(await nodes[1]!.names!.unregister('desk'), false, 'another node holds no registration of it');
    assert.ok(await nodes[1]!.names!.whereis('desk', { fresh: true }));
    assert.equal(await nodes[0]!.names!.unregister('desk'), true);
    for (const n of nodes) await waitFor(async () => (await n.names!.whereis('desk')) === null || undefined, { timeoutMs: 10_000, what: `desk gone on ${n.name}` });
    await assert.rejects(nodes[0]!.names!.register('$mine', ref), /reserved/);
    await assert.rejects(nodes[0]!.names!.register('', ref), /non-empty/);
    await assert.rejects(nodes[0]!.names!.register('ghost', new RemoteRef(nodes[0]!.name, ['no-such-actor'])), (err: Error & { code?: string }) => err.code === 'ERR_NO_SUCH_ACTOR');
  });

  it('releases the names of a node that leaves', async () => {
    const leaving = nodes[2]!;
    await leaving.names!.register('tenant', quiet(leaving, 'tenant'));
    assert.ok(await nodes[0]!.names!.whereis('tenant'));
    await leaving.stop();
    for (const n of nodes.slice(0, 2)) await waitFor(async () => (await n.names!.whereis('tenant')) === null || undefined, { timeoutMs: 10_000, what: `tenant gone on ${n.name}` });
    assert.equal(await nodes[0]!.names!.whereis('worker'), null, 'the left node\'s other name went too');
  });
});

describe('a singleton on three nodes', () => {
  for (const how of ['leaves', 'stops without leaving'] as const) {
    it(`runs on exactly one node, never two, and moves to another when its node ${how}; that node's names are released`, async () => {
      const cluster = await startCluster(how === 'leaves' ? 'sl' : 'sd');
      const { nodes } = cluster;
      const path = ['$singleton-clock'];
      const sampler = sample(nodes, path);
      try {
        const started: string[] = [];
        for (const n of nodes) n.actors!.defineBehaviour('clock', (args) => {
          started.push((args as { node: string }).node);
          return { initialState: 0, f: (ticks: number) => ticks + 1 };
        });
        const handles = await Promise.all(nodes.map((n) => n.names!.singleton('clock', 'clock', { node: n.name })));
        await waitFor(() => sampler.now === 1 || undefined, { timeoutMs: 15_000, what: 'one instance running' });
        const holder = nodes.find((n) => runs(n, path))!;
        const handle = handles[nodes.indexOf(holder)]!;
        assert.ok(handle.runningHere && handle.fencingToken !== null);
        assert.equal(handles.filter((h) => h.runningHere).length, 1);
        for (const n of nodes) {
          await waitFor(async () => (await n.names!.whereis(singletonKey('clock')))?.equals(new RemoteRef(holder.name, path)) || undefined, { timeoutMs: 10_000, what: `whereis of the singleton on ${n.name}` });
        }
        const token = handle.fencingToken!;
        await holder.names!.register('tenant', quiet(holder, 'tenant'));

        await holder.stop(how === 'leaves' ? {} : { leave: false });
        const rest = nodes.filter((n) => n !== holder);
        for (const n of rest) await waitFor(async () => (await n.names!.whereis('tenant')) === null || undefined, { timeoutMs: 20_000, what: `the name of the node that ${how} released, seen on ${n.name}` });
        await waitFor(() => rest.some((n) => runs(n, path)) || undefined, { timeoutMs: 20_000, what: `an instance on another node after its node ${how}` });
        const next = rest.find((n) => runs(n, path))!;
        assert.ok(handles[nodes.indexOf(next)]!.fencingToken! > token, 'the new claim has a larger fencing token');
        assert.equal(started.length, 2, `one start per holder (started on ${started.join(', ')})`);
        for (const n of rest) {
          await waitFor(async () => (await n.names!.whereis(singletonKey('clock')))?.equals(new RemoteRef(next.name, path)) || undefined, { timeoutMs: 10_000, what: `whereis of the moved singleton on ${n.name}` });
        }
        assert.equal(sampler.max, 1, 'never two instances at once');
      } finally {
        sampler.stop();
        await cluster.stopAll();
      }
    });
  }
});
