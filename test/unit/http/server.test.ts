import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RETRY_AFTER_SECONDS } from '../../../lib/http/admission.js';
import { startHttpServer } from '../../../lib/http/server.js';
import { waitFor } from '../../harness/wait-for.js';
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

  it('beyond maxConcurrentRequests answers 503 with Retry-After at once, but never sheds /health or mutations', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const app = {
      fetch: async (request: Request) => {
        if (new URL(request.url).pathname === '/slow') await held;
        return new Response('{}', { headers: { 'Content-Type': 'application/json' } });
      },
    };
    const shed: string[] = [];
    const server = await startHttpServer(app, { host: '127.0.0.1', port: 0, maxConcurrentRequests: 1, onShed: (method, path) => shed.push(`${method} ${path}`) });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const slow = fetch(`${base}/slow`);
      await waitFor(async () => {
        const res = await fetch(`${base}/api/cluster/status?verbose=1`);
        await res.arrayBuffer();
        return res.status === 503 ? res : undefined;
      }, { timeoutMs: 5000, what: 'a 503 while /slow holds the only slot' }).then(async (res) => {
        assert.equal(res.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      });
      const overloaded = await fetch(`${base}/metrics`);
      assert.equal(overloaded.status, 503);
      assert.equal(((await overloaded.json()) as { error: { code: string } }).error.code, 'ERR_OVERLOADED');
      assert.equal((await fetch(`${base}/health/live`)).status, 200);
      assert.equal((await fetch(`${base}/api/cluster/leave`, { method: 'POST' })).status, 200);
      assert.ok(shed.includes('GET /api/cluster/status') && shed.includes('GET /metrics'), JSON.stringify(shed));
      release();
      assert.equal((await slow).status, 200);
      await waitFor(async () => (await fetch(`${base}/metrics`)).status === 200, { timeoutMs: 5000, what: 'requests served again once the slot is free' });
    } finally {
      release();
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
