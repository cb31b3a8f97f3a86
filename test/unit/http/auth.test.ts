import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearerToken, isLoopback } from '../../../lib/http/auth.js';
import { LOOPBACK, REMOTE } from './fake-node.js';
import { errorOf, jsonInit, makeApp } from './helpers.js';

const TOKEN = 's3cret-token';

describe('mutations with an API token', () => {
  const mutations: Array<[string, string, RequestInit]> = [
    ['join', '/api/cluster/join', jsonInit('POST', { node: 'n3@h' })],
    ['leave', '/api/cluster/leave', { method: 'POST' }],
    ['remove', '/api/cluster/nodes/n2@127.0.0.1', { method: 'DELETE' }],
  ];
  for (const [what, path, init] of mutations) {
    it(`${what}: 401 without a token, even from loopback`, async () => {
      const { app, node } = makeApp({ apiToken: TOKEN });
      const res = await app.request(path, init, LOOPBACK);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      const error = await errorOf(res);
      assert.equal(error.code, 'ERR_UNAUTHORIZED');
      assert.match(error.message, /CLUSTER_API_TOKEN/);
      assert.deepEqual(node.calls, []);
    });

    it(`${what}: 401 with a wrong token`, async () => {
      const { app, node } = makeApp({ apiToken: TOKEN });
      const headers = { ...(init.headers as Record<string, string> | undefined), Authorization: `Bearer ${TOKEN}x` };
      const res = await app.request(path, { ...init, headers }, REMOTE);
      assert.equal(res.status, 401);
      assert.deepEqual(node.calls, []);
    });

    it(`${what}: accepted with the right token from anywhere`, async () => {
      const { app, node } = makeApp({ apiToken: TOKEN });
      const headers = { ...(init.headers as Record<string, string> | undefined), Authorization: `Bearer ${TOKEN}` };
      const res = await app.request(path, { ...init, headers }, REMOTE);
      assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}`);
      assert.equal(node.calls.length, 1);
    });
  }

  it('auth is checked before validation', async () => {
    const { app } = makeApp({ apiToken: TOKEN });
    const res = await app.request('/api/cluster/join', jsonInit('POST', '{bad json'), REMOTE);
    assert.equal(res.status, 401);
  });

  it('reads stay open', async () => {
    const { app } = makeApp({ apiToken: TOKEN });
    assert.equal((await app.request('/api/cluster/status', {}, REMOTE)).status, 200);
    assert.equal((await app.request('/metrics', {}, REMOTE)).status, 200);
  });
});

describe('mutations without an API token', () => {
  it('are refused with 403 from a remote address, naming CLUSTER_API_TOKEN', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/leave', { method: 'POST' }, REMOTE);
    assert.equal(res.status, 403);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_FORBIDDEN');
    assert.match(error.message, /set CLUSTER_API_TOKEN/);
    assert.deepEqual(node.calls, []);
  });

  it('are refused when the peer address is unknown', async () => {
    const { app } = makeApp();
    assert.equal((await app.request('/api/cluster/leave', { method: 'POST' })).status, 403);
  });

  for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
    it(`are accepted from ${address}`, async () => {
      const { app } = makeApp();
      const res = await app.request('/api/cluster/leave', { method: 'POST' }, { incoming: { socket: { remoteAddress: address } } });
      assert.equal(res.status, 200);
    });
  }
});

describe('auth helpers', () => {
  it('isLoopback', () => {
    const cases: Array<[string | undefined, boolean]> = [
      ['127.0.0.1', true],
      ['127.255.0.1', true],
      ['::1', true],
      ['::ffff:127.0.0.2', true],
      ['::FFFF:127.0.0.2', true],
      ['10.0.0.1', false],
      ['::ffff:10.0.0.1', false],
      ['1127.0.0.1', false],
      ['127.0.0.1.evil', false],
      ['fe80::1', false],
      ['', false],
      [undefined, false],
    ];
    for (const [address, expected] of cases) assert.equal(isLoopback(address), expected, String(address));
  });

  it('bearerToken', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
