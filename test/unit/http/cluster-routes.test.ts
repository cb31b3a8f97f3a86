import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, ConflictError, TimeoutError, UnknownNodeError } from '../../../lib/errors.js';
import type { NodeStatus } from '../../../lib/node-api.js';
import { LOOPBACK } from './fake-node.js';
import { errorOf, jsonInit, makeApp } from './helpers.js';

describe('POST /api/cluster/join', () => {
  it('joins and answers 200 with the new status', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/join', jsonInit('POST', { node: 'n3@127.0.0.1:9103' }), LOOPBACK);
    assert.equal(res.status, 200);
    const status = (await res.json()) as NodeStatus;
    assert.ok(status.members.some((m) => m.name === 'n3@127.0.0.1'));
    assert.equal(node.calls[0]?.method, 'join');
    assert.equal(node.calls[0]?.args[0], 'n3@127.0.0.1:9103');
  });

  it('accepts a media type with parameters', async () => {
    const { app } = makeApp();
    const res = await app.request('/api/cluster/join', jsonInit('POST', { node: 'n3@h' }, { 'Content-Type': 'application/json; charset=utf-8' }), LOOPBACK);
    assert.equal(res.status, 200);
  });

  const bad: Array<[string, RequestInit, number, RegExp]> = [
    ['malformed JSON', jsonInit('POST', '{"node": '), 400, /malformed JSON/],
    ['an empty body', jsonInit('POST', ''), 400, /empty/],
    ['a missing field', jsonInit('POST', {}), 400, /field "node" is required/],
    ['a field of the wrong type', jsonInit('POST', { node: 42 }), 400, /field "node" must be a string/],
    ['an unknown field', jsonInit('POST', { node: 'a@b', force: true }), 400, /unknown field "force"/],
    ['a body that is not an object', jsonInit('POST', '["a@b"]'), 400, /JSON object/],
    ['a node without @', jsonInit('POST', { node: 'just-a-host' }), 400, /field "node" must be name@host/],
    ['a node with a bad port', jsonInit('POST', { node: 'n2@127.0.0.1:70000' }), 400, /field "node".*port/],
    ['a node with bad characters', jsonInit('POST', { node: 'n 2@host' }), 400, /field "node"/],
    ['a form body', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'node=a@b' }, 415, /application\/json/],
    ['no content type', { method: 'POST', body: '{"node":"a@b"}' }, 415, /application\/json/],
  ];
  for (const [what, init, status, message] of bad) {
    it(`rejects ${what} with ${status} and calls nothing`, async () => {
      const { app, node } = makeApp();
      const res = await app.request('/api/cluster/join', init, LOOPBACK);
      assert.equal(res.status, status);
      const error = await errorOf(res);
      assert.match(error.message, message);
      assert.deepEqual(node.calls, []);
    });
  }

  it('rejects a body over the limit with 413', async () => {
    const { app, node } = makeApp();
    const huge = JSON.stringify({ node: 'a@b', pad: 'x'.repeat(70 * 1024) });
    const res = await app.request('/api/cluster/join', jsonInit('POST', huge), LOOPBACK);
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'ERR_PAYLOAD_TOO_LARGE');
    assert.deepEqual(node.calls, []);
  });

  it('rejects a declared Content-Length over the limit with 413', async () => {
    const { app } = makeApp({ maxBodyBytes: 16 });
    const body = JSON.stringify({ node: 'n2@127.0.0.1' });
    const res = await app.request('/api/cluster/join', jsonInit('POST', body, { 'Content-Length': String(body.length) }), LOOPBACK);
    assert.equal(res.status, 413);
  });

  it('maps a TimeoutError to 504', async () => {
    const { app, node } = makeApp();
    node.joinImpl = () => Promise.reject(new TimeoutError('join n9@10.0.0.9', 5000));
    const res = await app.request('/api/cluster/join', jsonInit('POST', { node: 'n9@10.0.0.9' }), LOOPBACK);
    assert.equal(res.status, 504);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_TIMEOUT');
    assert.match(error.message, /5000 ms/);
  });

  it('maps a ConfigError from the node to 400', async () => {
    const { app, node } = makeApp();
    node.joinImpl = () => Promise.reject(new ConfigError('node', 'x@y', 'must not be this node'));
    const res = await app.request('/api/cluster/join', jsonInit('POST', { node: 'x@y' }), LOOPBACK);
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'ERR_CONFIG');
  });
});

describe('POST /api/cluster/leave', () => {
  it('answers 200 and calls leave()', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/leave', { method: 'POST' }, LOOPBACK);
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as NodeStatus).node);
    assert.deepEqual(node.calls.map((c) => c.method), ['leave']);
  });
});

describe('DELETE /api/cluster/nodes/:node', () => {
  it('removes a member and answers 200 with the status', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/nodes/n2@127.0.0.1', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 200);
    const status = (await res.json()) as NodeStatus;
    assert.ok(!status.members.some((m) => m.name === 'n2@127.0.0.1'));
    assert.deepEqual(node.calls[0]?.args, ['n2@127.0.0.1']);
  });

  it('decodes an encoded name', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/nodes/n2%40127.0.0.1', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 200);
    assert.deepEqual(node.calls[0]?.args, ['n2@127.0.0.1']);
  });

  it('is 404 for an unknown node', async () => {
    const { app, node } = makeApp();
    node.removeImpl = (name) => {
      throw new UnknownNodeError(name);
    };
    const res = await app.request('/api/cluster/nodes/ghost@10.0.0.1', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 404);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_UNKNOWN_NODE');
    assert.match(error.message, /ghost@10\.0\.0\.1/);
  });

  it('is 409 for a node that is not down', async () => {
    const { app, node } = makeApp();
    node.removeImpl = (name) => {
      throw new ConflictError(`${name} is up: only a down or left member can be removed`);
    };
    const res = await app.request('/api/cluster/nodes/n2@127.0.0.1', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 409);
    assert.equal((await errorOf(res)).code, 'ERR_CONFLICT');
  });

  it('is 400 for a malformed name', async () => {
    const { app, node } = makeApp();
    const res = await app.request('/api/cluster/nodes/no-at-sign', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /field "node" must be a member name/);
    assert.deepEqual(node.calls, []);
  });
});

describe('GET /api/cluster/discovery', () => {
  it('answers the node discovery report', async () => {
    const { app } = makeApp();
    const res = await app.request('/api/cluster/discovery');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { candidateReports: Array<{ outcome: string }>; records: unknown[]; queries: number };
    assert.equal(body.candidateReports[0]!.outcome, 'wrong-cookie');
    assert.equal(body.records.length, 1);
    assert.equal(body.queries, 3);
  });
});
