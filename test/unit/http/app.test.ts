import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NotRunningError } from '../../../lib/errors.js';
import { LOOPBACK } from './fake-node.js';
import { errorOf, makeApp } from './helpers.js';

describe('health', () => {
  it('GET /health answers ok', async () => {
    const { app } = makeApp();
    const res = await app.request('/health');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('GET /health/live follows isLive()', async () => {
    const { app, node } = makeApp();
    assert.equal((await app.request('/health/live')).status, 200);
    node.live = false;
    const res = await app.request('/health/live');
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { status: string }).status, 'not_live');
  });

  it('GET /health/ready is 503 with a reason until ready', async () => {
    const { app, node } = makeApp();
    node.ready = false;
    const res = await app.request('/health/ready');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; reason: string };
    assert.equal(body.status, 'not_ready');
    assert.match(body.reason, /joining/);
    node.ready = true;
    const ok = await app.request('/health/ready');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'ready' });
  });

  it('HEAD works on GET routes', async () => {
    const { app } = makeApp();
    const res = await app.request('/health', { method: 'HEAD' });
    assert.equal(res.status, 200);
  });
});

describe('status', () => {
  it('GET /api/cluster/status returns node.status()', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/status');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(node.status())));
  });
});

describe('routing errors', () => {
  it('unknown route is a JSON 404', async () => {
    const { app } = makeApp();
    const res = await app.request('/api/nope');
    assert.equal(res.status, 404);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_NOT_FOUND');
    assert.match(error.message, /\/api\/nope/);
  });

  for (const [method, path, allow] of [
    ['GET', '/api/cluster/join', 'POST'],
    ['PUT', '/api/cluster/leave', 'POST'],
    ['POST', '/api/cluster/status', 'GET, HEAD'],
    ['GET', '/api/cluster/nodes/n2@127.0.0.1', 'DELETE'],
    ['DELETE', '/metrics', 'GET, HEAD'],
  ] as const) {
    it(`${method} ${path} is 405 with Allow: ${allow}`, async () => {
      const { app } = makeApp();
      const res = await app.request(path, { method }, LOOPBACK);
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), allow);
      const error = await errorOf(res);
      assert.equal(error.code, 'ERR_METHOD_NOT_ALLOWED');
      assert.match(error.message, new RegExp(allow.split(',')[0]!));
    });
  }
});

describe('failures inside handlers', () => {
  it('a throwing handler gives a JSON 500 and the app keeps serving', async () => {
    const { app, node } = makeApp();
    node.statusImpl = () => {
      throw new Error('boom: secret internals');
    };
    const res = await app.request('/api/cluster/status');
    assert.equal(res.status, 500);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_INTERNAL');
    assert.doesNotMatch(error.message, /secret/);
    node.statusImpl = undefined;
    assert.equal((await app.request('/api/cluster/status')).status, 200);
  });

  it('a thrown non-Error value also gives a JSON 500', async () => {
    const { app, node } = makeApp();
    node.leaveImpl = () => Promise.reject('a string, not an Error');
    const res = await app.request('/api/cluster/leave', { method: 'POST' }, LOOPBACK);
    assert.equal(res.status, 500);
    assert.equal((await errorOf(res)).code, 'ERR_INTERNAL');
    assert.equal((await app.request('/health')).status, 200);
  });

  it('a TroupeError keeps its code and message', async () => {
    const { app, node } = makeApp();
    node.leaveImpl = () => Promise.reject(new NotRunningError('membership actor'));
    const res = await app.request('/api/cluster/leave', { method: 'POST' }, LOOPBACK);
    assert.equal(res.status, 503);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_NOT_RUNNING');
    assert.match(error.message, /membership actor/);
  });
});

describe('GET /metrics', () => {
  it('exposes troupe metrics, process metrics and request counts by route pattern', async () => {
    const { app } = makeApp();
    await app.request('/health');
    await app.request('/health');
    await app.request('/api/cluster/nodes/n9@127.0.0.1', { method: 'DELETE' }, LOOPBACK);
    await app.request('/no/such/path');
    const res = await app.request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const name of [
      'troupe_members',
      'troupe_swim_probes_sent_total',
      'troupe_swim_probes_failed_total',
      'troupe_swim_indirect_probes_sent_total',
      'troupe_swim_suspicions_raised_total',
      'troupe_swim_suspicions_refuted_total',
      'troupe_swim_messages_dropped_total',
      'troupe_link_frames_sent_total',
      'troupe_link_frames_received_total',
      'troupe_link_bytes_sent_total',
      'troupe_link_bytes_received_total',
      'troupe_link_frames_dropped_total',
      'troupe_link_reconnects_total',
      'troupe_links',
      'troupe_link_handshake_failures_total',
      'troupe_event_loop_lag_seconds',
      'troupe_discovery_queries_total',
      'troupe_discovery_failures_total',
      'troupe_discovery_candidates',
      'troupe_http_requests_total',
      'troupe_http_request_duration_seconds',
      'process_cpu_user_seconds_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `missing ${name}`);
    }
    assert.match(text, /^troupe_members\{state="up"\} 2$/m);
    assert.match(text, /^troupe_link_handshake_failures_total\{reason="cookie"\} 1$/m);
    assert.match(text, /^troupe_http_requests_total\{route="\/health",method="GET",status="200"\} 2$/m);
    assert.match(text, /^troupe_http_requests_total\{route="\/api\/cluster\/nodes\/:node",method="DELETE",status="200"\} 1$/m);
    assert.match(text, /^troupe_http_requests_total\{route="unmatched",method="GET",status="404"\} 1$/m);
    assert.doesNotMatch(text, /n9@127/);
  });
});

describe('cached reads', () => {
  it('GET /api/cluster/status reuses one status within statusMaxAgeMs; a mutation makes the next one fresh', async () => {
    const { app, node } = makeApp();
    let built = 0;
    const base = node.status();
    node.statusImpl = () => ({ ...base, node: { ...base.node, uptimeMs: ++built } });
    const uptime = async () => ((await (await app.request('/api/cluster/status')).json()) as { node: { uptimeMs: number } }).node.uptimeMs;
    assert.equal(await uptime(), 1);
    assert.equal(await uptime(), 1, 'served from the cache');
    const left = await app.request('/api/cluster/leave', { method: 'POST' }, LOOPBACK);
    assert.ok(left.ok, `leave answered ${left.status}`);
    const afterLeave = built;
    assert.equal(await uptime(), afterLeave + 1, 'rebuilt after the mutation');
  });

  it('GET /metrics renders at most once per metricsMaxAgeMs', async () => {
    const { app, metrics } = makeApp();
    let renders = 0;
    const render = metrics.render.bind(metrics);
    metrics.render = () => (renders++, render());
    const [a, b] = await Promise.all([app.request('/metrics'), app.request('/metrics')]);
    const c = await app.request('/metrics');
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 200]);
    assert.equal(await a.text(), await c.text());
    assert.equal(renders, 1);
  });
});
