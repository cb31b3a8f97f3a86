/**
 * `troupe watch` and the SSE route it reads, against the HTTP facade over
 * in-memory tables: events printed per line (and as JSON lines), a
 * compacted history ending the watch with exit 1 and the node's message,
 * usage errors with exit 2, an unknown table as a plain 404.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createHttpApp } from '../../lib/http/app.js';
import { startHttpServer, type RunningHttpServer } from '../../lib/http/server.js';
import { createMetrics } from '../../lib/metrics.js';
import { WatchCompactedError } from '../../lib/errors.js';
import { runWatchCommand } from '../../lib/cli/watch-command.js';
import { FakeTablesNode } from './http/fake-tables.js';
import { silentLog } from './http/fake-node.js';

describe('troupe watch', () => {
  let server: RunningHttpServer;
  let node: FakeTablesNode;
  const run = async (...args: string[]) => {
    const out = { stdout: '', stderr: '', code: -1 };
    out.code = await runWatchCommand(args, { stdout: (t) => void (out.stdout += t), stderr: (t) => void (out.stderr += t), env: { PORT: String(server.port) } });
    return out;
  };

  before(async () => {
    node = new FakeTablesNode();
    server = await startHttpServer(createHttpApp(node, { metrics: createMetrics(() => node.stats()), log: silentLog }), { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());
  beforeEach(async () => {
    node.tables.tables.clear();
    await node.tables.create('users', { partitions: 2, replicationFactor: 3 });
    node.tables.calls = [];
  });

  const events = [
    { type: 'put' as const, table: 'users', partition: 0, key: 'alice', value: { age: 3 }, version: 7, cursor: 'w1.7.0' },
    { type: 'delete' as const, table: 'users', partition: 1, key: 'bob', version: 4, cursor: 'w1.7.4' },
  ];

  it('prints each change, then the end of history as one line and exit 1', async () => {
    node.tables.watchScript = { events, end: new WatchCompactedError('users', 0, 2, 10, 12) };
    const out = await run('users', '--prefix', 'a', '--from', '2');
    assert.equal(out.stdout, 'put alice = {"age":3}  (version 7, partition 0)\ndelete bob  (version 4, partition 1)\n');
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^troupe: table "users" partition 0 retains changes from version 10 on.*watch from version 12 \(ERR_WATCH_COMPACTED\)\n$/);
    const call = node.tables.calls.find((c) => c.method === 'watch')!;
    assert.deepEqual([call.args[0], (call.args[1] as { prefix?: string; fromVersion?: number }).prefix, (call.args[1] as { fromVersion?: number }).fromVersion], ['users', 'a', 2]);
  });

  it('--json prints one object per line, with the cursor to resume from', async () => {
    node.tables.watchScript = { events, end: new WatchCompactedError('users', 0, 2, 10, 12) };
    const out = await run('users', '--json');
    const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines, [
      { type: 'put', key: 'alice', value: { age: 3 }, version: 7, partition: 0, cursor: 'w1.7.0' },
      { type: 'delete', key: 'bob', value: null, version: 4, partition: 1, cursor: 'w1.7.4' },
    ]);
  });

  it('passes a cursor back (the SSE route also takes it as Last-Event-ID)', async () => {
    node.tables.watchScript = { events: [], end: new WatchCompactedError('users', 0, 2, 10, 12) };
    await run('users', '--cursor', 'w1.7.4');
    assert.equal((node.tables.calls.at(-1)!.args[1] as { cursor?: string }).cursor, 'w1.7.4');
    const res = await fetch(`http://127.0.0.1:${server.port}/api/tables/users/watch`, { headers: { 'Last-Event-ID': 'w1.9.9' } });
    await res.text();
    assert.equal((node.tables.calls.at(-1)!.args[1] as { cursor?: string }).cursor, 'w1.9.9');
  });

  it('an unknown table is the node\'s 404, on one line', async () => {
    const out = await run('nope');
    assert.equal(out.code, 1);
    assert.match(out.stderr, /no table named "nope".*404 ERR_NO_SUCH_TABLE/);
  });

  it('usage errors exit 2 and call nothing', async () => {
    for (const args of [[], ['a', 'b'], ['users', '--from', 'x'], ['users', '--bogus']]) {
      const out = await run(...args);
      assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
    }
    assert.deepEqual(node.tables.calls, []);
  });

  it('the route rejects a malformed from with 400', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/tables/users/watch?from=-1`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /\\"from\\" must be a version/);
  });

  it('the route answers HEAD with the stream\'s headers and opens no watch', async () => {
    const before = node.tables.calls.length;
    const res = await fetch(`http://127.0.0.1:${server.port}/api/tables/users/watch`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(node.tables.calls.slice(before).filter((c) => c.method === 'watch').length, 0, 'no watch opened');
  });
});
