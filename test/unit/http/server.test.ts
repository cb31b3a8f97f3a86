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
