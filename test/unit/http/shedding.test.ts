/**
 * Load shedding at the HTTP server (admission.ts), through a real socket: a
 * request beyond the limit gets a fast 503 with Retry-After; health probes
 * and mutations are never shed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RETRY_AFTER_SECONDS } from '../../../lib/http/admission.js';
import { startHttpServer } from '../../../lib/http/server.js';
import { waitFor } from '../../harness/wait-for.js';

describe('startHttpServer under load', () => {
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
});
