import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createHttpApp } from '../../../lib/http/app.js';
import { startHttpServer } from '../../../lib/http/server.js';
import { createMetrics } from '../../../lib/metrics.js';
import { waitFor } from '../../harness/wait-for.js';
import { FakeNode } from './fake-node.js';
import { makeApp } from './helpers.js';

/** A debug-level logger whose records are kept as parsed objects. */
function recordingLog(): { log: pino.Logger; records: Array<{ level: number; msg: string }> } {
  const records: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), records };
}

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
      assert.equal(res.status, 200);
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

  it('counts a client that disconnects mid-request as 499 and logs it at debug, not as a server error', async () => {
    const node = new FakeNode();
    const metrics = createMetrics(() => node.stats());
    const { log, records } = recordingLog();
    const server = await startHttpServer(createHttpApp(node, { metrics, log }), { host: '127.0.0.1', port: 0 });
    try {
      const socket = connect(server.port, '127.0.0.1');
      await new Promise<void>((resolveConnect) => socket.once('connect', resolveConnect));
      socket.write('POST /api/cluster/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"node":');
      socket.destroy();
      const aborted = /troupe_http_requests_total\{route="\/api\/cluster\/join",method="POST",status="499"\} 1/;
      const text = await waitFor(async () => {
        const rendered = await metrics.render();
        return aborted.test(rendered) ? rendered : undefined;
      }, { timeoutMs: 5000, what: 'the aborted request counted with status 499' });
      assert.doesNotMatch(text, /status="500"/);
      assert.deepEqual(records.filter((r) => r.level >= 50).map((r) => r.msg), [], 'nothing at error level');
      assert.ok(records.some((r) => r.level === 20 && /aborted/.test(r.msg)), `a debug record says the client aborted: ${JSON.stringify(records)}`);
      assert.equal(node.calls.length, 0, 'the node was not asked to join');
    } finally {
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
