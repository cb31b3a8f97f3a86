/**
 * Replicated tables on real nodes in one process (the library API and the
 * HTTP facade): any node serves any key, stale and linearizable reads, a
 * table whose factor exceeds the nodes is reported and topped up as nodes
 * join, a drop removes the data on every replica, a watch delivers every
 * change exactly once and in order across a leader's death, bad HTTP input
 * changes nothing, and Raft's state shows in status and metrics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startNode, type TroupeNode } from '../../lib/index.js';
import type { Logger } from '../../lib/log.js';
import type { WatchEvent } from '../../lib/tables/tables-api.js';
import { freePort } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

interface Cluster {
  nodes: TroupeNode[];
  start(i: number, options?: { dataDir?: string; log?: Logger }): Promise<TroupeNode>;
  dataDirs: string[];
}

const started: TroupeNode[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(started.map((n) => n.stop({ leave: false }).catch(() => {})));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function cluster(prefix: string, size: number): Promise<Cluster> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const names = ports.map((_, i) => `${prefix}${i}@127.0.0.1`);
  const seeds = names.map((n, i) => `${n}:${ports[i]}`);
  const nodes: TroupeNode[] = [];
  const dataDirs: string[] = [];
  return {
    nodes,
    dataDirs,
    async start(i, options = {}) {
      const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `troupe-tables-${prefix}${i}-`));
      dirs.push(dataDir);
      dataDirs[i] = dataDir;
      const node = await startNode({
        ...(options.log ? { log: options.log } : {}),
        config: {
          nodeName: names[i]!, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: seeds, clusterPort: ports[i]!, port: 0,
          httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir, cookie: 'tables-integration-test-cookie', heartbeatIntervalMs: 300, heartbeatTimeoutMs: 1500, logLevel: 'silent',
        },
      });
      started.push(node);
      nodes[i] = node;
      return node;
    },
  };
}

const upCount = (n: TroupeNode) => n.members().filter((m) => m.state === 'up').length;

async function startAll(c: Cluster, size: number): Promise<void> {
  for (let i = 0; i < size; i++) await c.start(i);
  await waitFor(() => c.nodes.every((n) => upCount(n) === size), { timeoutMs: 20_000, what: `${size} nodes to see each other up` });
}

const http = (node: TroupeNode, path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${node.httpPort}${path}`, init);
const putJson = (node: TroupeNode, path: string, body: string) => http(node, path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });

describe('replicated tables on three nodes', () => {
  it('any node serves any key; reads are linearizable or stale on request; Raft shows in status and metrics', async () => {
    const c = await cluster('tr', 3);
    await startAll(c, 3);
    const [a, b, x] = c.nodes as [TroupeNode, TroupeNode, TroupeNode];
    const info = await a.tables!.create('users', { partitions: 4, replicationFactor: 3 });
    assert.equal(info.state, 'ready');
    assert.equal(info.underReplicated, false);
    assert.ok(info.replicas!.every((r) => r.voters.length === 3 && r.leader !== null), JSON.stringify(info.replicas));

    for (let i = 0; i < 40; i++) await c.nodes[i % 3]!.tables!.put('users', `user:${i}`, { i });
    for (let i = 0; i < 40; i++) assert.deepEqual((await c.nodes[(i + 1) % 3]!.tables!.get('users', `user:${i}`))?.value, { i });
    await waitFor(async () => (await x.tables!.get('users', 'user:39', { consistency: 'stale' }))?.value !== undefined, { timeoutMs: 5_000, what: 'a stale read to see the write' });

    const page = await b.tables!.scan('users', { prefix: 'user:1', limit: 5 });
    assert.deepEqual(page.items.map((i) => i.key), ['user:1', 'user:10', 'user:11', 'user:12', 'user:13']);
    const rest = await b.tables!.scan('users', { prefix: 'user:1', limit: 100, cursor: page.cursor! });
    assert.deepEqual(rest.items.map((i) => i.key), ['user:14', 'user:15', 'user:16', 'user:17', 'user:18', 'user:19']);
    assert.equal(rest.cursor, null);

    const cas = await x.tables!.cas('users', 'user:1', { i: 1 }, { i: 100 });
    assert.equal(cas.ok, true);
    const lost = await a.tables!.cas('users', 'user:1', { i: 1 }, { i: 200 });
    assert.equal(lost.ok, false);
    assert.deepEqual(!lost.ok && lost.current?.value, { i: 100 });

    const status = (await (await http(b, '/api/cluster/status')).json()) as { raft: { groups: { group: string; table: string | null; leader: string | null; commit: number; applied: number }[] } };
    const partitions = status.raft.groups.filter((g) => g.table === 'users');
    assert.equal(partitions.length, 4);
    assert.ok(partitions.every((g) => g.leader !== null && g.commit >= 1 && g.applied <= g.commit));
    const metrics = await (await http(b, '/metrics')).text();
    for (const name of ['raft_state', 'raft_term', 'raft_commit_index', 'raft_applied_index', 'raft_peers', 'raft_replication_lag_seconds', 'raft_proposal_duration_seconds_bucket', 'raft_fsyncs_total']) {
      assert.match(metrics, new RegExp(`troupe_${name}[{ ]`), name);
    }
    assert.match(metrics, /troupe_raft_state\{group="users\/0@\d+",table="users",partition="0",state="leader"\} [01]/);
    assert.equal((await http(a, '/health/ready')).status, 200);
  });

  it('bad HTTP input gets a 4xx naming the problem and changes nothing', async () => {
    const c = await cluster('tb', 3);
    await startAll(c, 3);
    const a = c.nodes[0]!;
    assert.equal((await http(a, '/api/tables', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'kv', partitions: 2, replicationFactor: 3 }) })).status, 201);
    const cases: [string, Promise<Response>, number, RegExp][] = [
      ['malformed JSON', putJson(a, '/api/tables/kv/keys/k', '{"a":'), 400, /JSON/],
      ['a value over the limit', putJson(a, '/api/tables/kv/keys/k', JSON.stringify('x'.repeat(1_100_000))), 413, /./],
      ['a key over the limit', putJson(a, `/api/tables/kv/keys/${'k'.repeat(1100)}`, '1'), 413, /key/],
      ['an unknown table', putJson(a, '/api/tables/nope/keys/k', '1'), 404, /no table named \\"nope\\"/],
      ['a cas without expected', http(a, '/api/tables/kv/keys/k/cas', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"value":1}' }), 400, /expected/],
    ];
    for (const [what, response, status, message] of cases) {
      const res = await response;
      assert.equal(res.status, status, what);
      assert.match(await res.text(), message, what);
    }
    assert.equal((await http(c.nodes[1]!, '/api/tables/kv/keys/k')).status, 404, 'nothing was written');
  });

  it('a watch delivers every change exactly once and in order per partition, across the death of a leader', async () => {
    const c = await cluster('tw', 3);
    await startAll(c, 3);
    const watcherNode = c.nodes[2]!;
    await c.nodes[0]!.tables!.create('feed', { partitions: 2, replicationFactor: 3 });
    const abort = new AbortController();
    const seen: WatchEvent[] = [];
    const watching = (async () => {
      for await (const e of watcherNode.tables!.watch('feed', { fromVersion: 0, signal: abort.signal })) seen.push(e);
    })();
    const put = async (i: number, nodes: TroupeNode[]) => {
      for (;;) {
        try {
          return await nodes[i % nodes.length]!.tables!.put('feed', `k${i}`, i, { timeoutMs: 3_000 });
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100)); // a leader is being elected: retry (puts are idempotent)
        }
      }
    };
    for (let i = 0; i < 30; i++) await put(i, c.nodes);
    const leaders = (await watcherNode.tables!.list()).find((t) => t.name === 'feed')!.replicas!.map((r) => r.leader);
    const victim = c.nodes.find((n) => n !== watcherNode && leaders.includes(n.name)) ?? c.nodes[0]!;
    await victim.stop({ leave: false });
    const live = c.nodes.filter((n) => n !== victim);
    for (let i = 30; i < 60; i++) await put(i, live);
    await waitFor(() => new Set(seen.map((e) => e.key)).size === 60, { timeoutMs: 20_000, what: `the watch to see 60 keys (saw ${new Set(seen.map((e) => e.key)).size})` });
    abort.abort();
    await watching;
    const ids = seen.map((e) => `${e.partition}:${e.version}:${e.key}`);
    assert.equal(new Set(ids).size, ids.length, 'no change delivered twice');
    for (const p of [0, 1]) {
      const versions = seen.filter((e) => e.partition === p).map((e) => e.version);
      assert.deepEqual(versions, [...versions].sort((x, y) => x - y), `partition ${p} in version order`);
    }
    assert.ok(seen.every((e) => e.type === 'put' && e.value === Number(e.key.slice(1))));
  });
});

describe('replication factor above the node count', () => {
  it('is reported, topped up learner → voter as nodes join, and a drop removes the data on every replica', async () => {
    const c = await cluster('tg', 3);
    const first = await c.start(0);
    await waitFor(() => first.isReady(), { timeoutMs: 10_000, what: 'the first node ready' });
    const created = await first.tables!.create('grow', { partitions: 2, replicationFactor: 3 });
    assert.equal(created.underReplicated, true);
    assert.ok(created.replicas!.every((r) => r.voters.length === 1));
    await waitFor(async () => /troupe_tables_under_replicated\{table="grow",replication_factor="3"\} 1/.test(await (await http(first, '/metrics')).text()), { timeoutMs: 5_000, what: 'the metric' });
    await first.tables!.put('grow', 'early', 'bird');

    await c.start(1);
    await c.start(2);
    await waitFor(() => c.nodes.every((n) => upCount(n) === 3), { timeoutMs: 20_000, what: '3 up' });
    await waitFor(async () => (await c.nodes[2]!.tables!.list()).find((t) => t.name === 'grow')?.underReplicated === false, { timeoutMs: 30_000, what: 'the table topped up to 3 voters' });
    const grown = (await c.nodes[1]!.tables!.list()).find((t) => t.name === 'grow')!;
    assert.ok(grown.replicas!.every((r) => r.voters.length === 3 && r.learners.length === 0), JSON.stringify(grown.replicas));
    await waitFor(async () => (await c.nodes[2]!.tables!.get('grow', 'early', { consistency: 'stale' }))?.value === 'bird', { timeoutMs: 10_000, what: 'the new replica to hold the early write' });

    await c.nodes[1]!.tables!.drop('grow');
    await assert.rejects(first.tables!.get('grow', 'early'), /no table named "grow"/);
    await waitFor(() => c.nodes.every((n) => n.raft!.host().groupIds().every((g) => !g.startsWith('grow/'))), { timeoutMs: 20_000, what: 'every replica destroyed' });
    await waitFor(async () => (await first.tables!.list()).every((t) => t.name !== 'grow'), { timeoutMs: 20_000, what: 'the name free again' });
    const again = await first.tables!.create('grow', { partitions: 2, replicationFactor: 3 });
    assert.equal(again.underReplicated, false);
    assert.equal(await c.nodes[2]!.tables!.get('grow', 'early'), null, 'a table created again starts empty');
  });
});

describe('a node restarted with an empty data directory', () => {
  it('does not recreate the replicas it was a voter of, says why, and the table keeps serving', async () => {
    const c = await cluster('te', 3);
    await startAll(c, 3);
    await c.nodes[0]!.tables!.create('kept', { partitions: 2, replicationFactor: 3 });
    await c.nodes[0]!.tables!.put('kept', 'k', 1);
    // The catalogue grows one voter at a time (1 → 2 → 3): wiping a node while it is one of two voters would
    // take the catalogue's majority with it, which no Raft group survives. Wipe only once all three vote.
    const catalogueVoters = (): number => c.nodes[0]!.raft!.host().status('$catalogue')?.membership.voters.length ?? 0;
    await waitFor(() => catalogueVoters() === 3 || undefined, { timeoutMs: 20_000, what: 'the catalogue to have three voters' });
    const wiped = c.nodes[2]!;
    await wiped.stop({ leave: false });
    rmSync(c.dataDirs[2]!, { recursive: true, force: true });
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    const again = await c.start(2, { dataDir: mkdtempSync(join(tmpdir(), 'troupe-tables-te2-new-')), log: pino({ level: 'error' }, sink) as unknown as Logger });
    await waitFor(() => lines.some((l) => l.includes('will not vote with an empty log') && l.includes('kept/')), { timeoutMs: 20_000, what: 'the refusal to recreate a lost replica' });
    assert.deepEqual(again.raft!.host().groupIds().filter((g) => g.startsWith('kept/')), [], 'no replica recreated empty');
    await c.nodes[0]!.tables!.put('kept', 'k', 2);
    assert.equal((await again.tables!.get('kept', 'k'))?.value, 2, 'served through the restarted node');
  });
});
