import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpServer } from '../../../lib/http/server.js';
import { makeApp } from './helpers.js';

describe('startHttpServer', () => {
  it('binds port 0, serves the app with the real peer address, closes idempotently', async () => {
    const { app, node } = makeApp();
    const server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    try {
      assert.ok(server.port > 0);
      const base = `http://127.0.0.1:${server.port}`;
      assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok' });
      // The loopback rule sees the TCP peer: a local caller may mutate.
      const res = await fetch(`${base}/api/cluster/leave`, { method: 'POST' });
      assert.equal(res.status, 202);
      assert.equal(node.calls.length, 1);
      // Bodies as a real socket delivers them: none, declared length, chunked.
      const removed = await fetch(`${base}/api/cluster/nodes/n2%40127.0.0.1`, { method: 'DELETE' });
      assert.equal(removed.status, 200, await removed.text());
      const chunked = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"node":'));
          controller.enqueue(new TextEncoder().encode('"n3@127.0.0.1"}'));
          controller.close();
        },
      });
      const joined = await fetch(`${base}/api/cluster/join`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: chunked, duplex: 'half' } as RequestInit);
      assert.equal(joined.status, 200, await joined.text());
      const big = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"node":"${'x'.repeat(70 * 1024)}"}`));
          controller.close();
        },
      });
      const tooBig = await fetch(`${base}/api/cluster/join`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: big, duplex: 'half' } as RequestInit);
      assert.equal(tooBig.status, 413);
      const declared = await fetch(`${base}/api/cluster/join`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(70 * 1024) });
      assert.equal(declared.status, 413);
    } finally {
      await Promise.all([server.close(), server.close()]);
      await server.close();
    }
  });

  it('rejects when the port is taken', async () => {
    const { app } = makeApp();
    const first = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    try {
      await assert.rejects(startHttpServer(app, { host: '127.0.0.1', port: first.port }), { code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });
});
