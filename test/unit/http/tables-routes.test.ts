import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { OutcomeUnknownError } from '../../../lib/raft/requests.js';
import { PartitionUnavailableError } from '../../../lib/errors.js';
import { MAX_BATCH_OPS, MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../../lib/tables/commands.js';
import type { TableInfo } from '../../../lib/tables/tables-api.js';
import { FakeTablesNode } from './fake-tables.js';
import { LOOPBACK, REMOTE } from './fake-node.js';
import { errorOf, jsonInit, makeApp } from './helpers.js';

async function withTable() {
  const node = new FakeTablesNode();
  const { app } = makeApp({ node });
  await node.tables.create('users', { partitions: 4, replicationFactor: 3 });
  node.tables.calls = [];
  return { app, node, tables: node.tables };
}

/** A PUT whose body is the value itself. */
const put = (value: unknown) => jsonInit('PUT', JSON.stringify(value));
const cas = (expected: unknown, value: unknown) => jsonInit('POST', { expected, value });
const LONG_KEY = 'k'.repeat(MAX_KEY_BYTES + 1);
const LARGE_VALUE = 'x'.repeat(MAX_VALUE_BYTES);

interface CasAnswer {
  ok: boolean;
  version?: number;
  current?: { value: unknown; version: number } | null;
  error?: { code: string; message: string };
}

describe('/api/tables without tables', () => {
  it('is 404 when the node offers no tables', async () => {
    const { app } = makeApp();
    const res = await app.request('/api/tables', {}, LOOPBACK);
    assert.equal(res.status, 404);
  });
});

describe('table create, list, drop', () => {
  it('creates (201), lists, describes and drops', async () => {
    const node = new FakeTablesNode();
    const { app } = makeApp({ node });
    let res = await app.request('/api/tables', jsonInit('POST', { name: 'users', partitions: 8, replicationFactor: 3 }), LOOPBACK);
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { name: 'users', partitions: 8, replicationFactor: 3 });
    res = await app.request('/api/tables');
    assert.deepEqual(await res.json(), { tables: [{ name: 'users', partitions: 8, replicationFactor: 3 }] });
    res = await app.request('/api/tables/users');
    assert.equal(res.status, 200);
    res = await app.request('/api/tables/users', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { table: 'users', dropped: true });
    res = await app.request('/api/tables/users');
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'ERR_NO_SUCH_TABLE');
  });

  it('passes whatever a table listing carries through', async () => {
    const { app, tables } = await withTable();
    const info = tables.tables.get('users')!.info as TableInfo & Record<string, unknown>;
    Object.assign(info, { leaders: ['n1@127.0.0.1', null, 'n2@127.0.0.1', 'n1@127.0.0.1'], underReplicated: [1] });
    const { tables: listed } = (await (await app.request('/api/tables')).json()) as { tables: unknown[] };
    assert.deepEqual(listed, [info]);
    assert.deepEqual(await (await app.request('/api/tables/users')).json(), info);
  });

  it('passes defaults as absent options', async () => {
    const node = new FakeTablesNode();
    const { app } = makeApp({ node });
    await app.request('/api/tables', jsonInit('POST', { name: 't1' }), LOOPBACK);
    assert.deepEqual(node.tables.calls[0]?.args[1], {});
  });

  it('answers 409 for an existing table', async () => {
    const { app } = await withTable();
    const res = await app.request('/api/tables', jsonInit('POST', { name: 'users' }), LOOPBACK);
    assert.equal(res.status, 409);
    assert.equal((await errorOf(res)).code, 'ERR_TABLE_EXISTS');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['no name', {}, /field "name" is required/],
    ['a name that is not a string', { name: 5 }, /field "name" must be a string/],
    ['a name with a slash', { name: 'a/b' }, /field "name" must start with a letter/],
    ['a name starting with a digit', { name: '1abc' }, /field "name" must start with a letter/],
    ['a long name', { name: 'a'.repeat(65) }, /at most 64/],
    ['partitions as a string', { name: 'a', partitions: '8' }, /field "partitions" must be a number/],
    ['zero partitions', { name: 'a', partitions: 0 }, /field "partitions" must be at least 1/],
    ['fractional partitions', { name: 'a', partitions: 1.5 }, /field "partitions" must be an integer/],
    ['too many replicas', { name: 'a', replicationFactor: 8 }, /field "replicationFactor" must be at most 7/],
    ['an unknown field', { name: 'a', shards: 2 }, /unknown field "shards"/],
    ['an array', ['users'], /JSON object like/],
    ['malformed JSON', '{"name":', /malformed JSON/],
  ];
  for (const [what, body, message] of bad) {
    it(`rejects ${what} with 400 and calls nothing`, async () => {
      const node = new FakeTablesNode();
      const { app } = makeApp({ node });
      const res = await app.request('/api/tables', jsonInit('POST', body), LOOPBACK);
      assert.equal(res.status, 400);
      assert.match((await errorOf(res)).message, message);
      assert.deepEqual(node.tables.calls, []);
    });
  }

  it('rejects a bad table name in the path with 400', async () => {
    const { app } = await withTable();
    const res = await app.request('/api/tables/9x/keys/a');
    assert.equal(res.status, 400);
  });
});

describe('a table that does not exist', () => {
  const routes: Array<[string, string, RequestInit]> = [
    ['GET', '/api/tables/nope', {}],
    ['DELETE', '/api/tables/nope', { method: 'DELETE' }],
    ['GET', '/api/tables/nope/keys/a', {}],
    ['PUT', '/api/tables/nope/keys/a', put(1)],
    ['DELETE', '/api/tables/nope/keys/a', { method: 'DELETE' }],
    ['POST', '/api/tables/nope/keys/a/cas', cas(null, 1)],
    ['POST', '/api/tables/nope/batch', jsonInit('POST', { ops: [{ op: 'delete', key: 'a' }] })],
    ['GET', '/api/tables/nope/keys', {}],
    ['GET', '/api/tables/nope/scan', {}],
  ];
  for (const [method, path, init] of routes) {
    it(`${method} ${path} is 404 ERR_NO_SUCH_TABLE`, async () => {
      const { app } = await withTable();
      const res = await app.request(path, init, LOOPBACK);
      assert.equal(res.status, 404);
      const error = await errorOf(res);
      assert.equal(error.code, 'ERR_NO_SUCH_TABLE');
      assert.match(error.message, /no table named "nope"/);
    });
  }
});

describe('operator guard', () => {
  const mutations: Array<[string, RequestInit]> = [
    ['/api/tables', jsonInit('POST', { name: 'x' })],
    ['/api/tables/users', { method: 'DELETE' }],
    ['/api/tables/users/keys/a', put(1)],
    ['/api/tables/users/keys/a', { method: 'DELETE' }],
    ['/api/tables/users/keys/a/cas', cas(null, 1)],
    ['/api/tables/users/batch', jsonInit('POST', { ops: [{ op: 'delete', key: 'a' }] })],
  ];
  for (const [path, init] of mutations) {
    it(`${init.method} ${path}: 403 from another host, 401 without the token`, async () => {
      const { app, tables } = await withTable();
      assert.equal((await app.request(path, init, REMOTE)).status, 403);
      const node = new FakeTablesNode();
      const withToken = makeApp({ node, apiToken: 's3cret' });
      assert.equal((await withToken.app.request(path, init, LOOPBACK)).status, 401);
      assert.deepEqual(tables.calls, []);
      assert.deepEqual(node.tables.calls, []);
    });
  }

  it('reads are open', async () => {
    const { app } = await withTable();
    assert.equal((await app.request('/api/tables', {}, REMOTE)).status, 200);
    assert.equal((await app.request('/api/tables/users/keys', {}, REMOTE)).status, 200);
  });
});

describe('keys', () => {
  it('puts the body as the value, gets it with the version, deletes', async () => {
    const { app, tables } = await withTable();
    let res = await app.request('/api/tables/users/keys/alice', put({ age: 30, tags: ['a'] }), LOOPBACK);
    assert.equal(res.status, 200);
    const { version } = (await res.json()) as { version: number };
    assert.ok(version > 0);
    assert.deepEqual(tables.calls[0]?.args.slice(0, 3), ['users', 'alice', { age: 30, tags: ['a'] }]);
    res = await app.request('/api/tables/users/keys/alice');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-consistency'), 'linearizable');
    assert.deepEqual(await res.json(), { key: 'alice', value: { age: 30, tags: ['a'] }, version });
    assert.equal((tables.calls.at(-1)?.args[2] as { consistency: string }).consistency, 'linearizable');
    res = await app.request('/api/tables/users/keys/alice', { method: 'DELETE' }, LOOPBACK);
    assert.equal(res.status, 200);
    const deleted = (await res.json()) as { version: number; existed: boolean };
    assert.equal(deleted.existed, true);
    assert.ok(deleted.version > version);
    res = await app.request('/api/tables/users/keys/alice', { method: 'DELETE' }, LOOPBACK);
    assert.equal(((await res.json()) as { existed: boolean }).existed, false);
  });

  it('answers 404 naming the table and the key when the key is absent', async () => {
    const { app } = await withTable();
    const res = await app.request('/api/tables/users/keys/bob');
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
    assert.equal(body.error.code, 'ERR_NOT_FOUND');
    assert.equal(body.error.message, 'table "users" has no key "bob"');
    assert.deepEqual(body.error.details, { table: 'users', key: 'bob' });
  });

  it('stores any JSON value as sent: objects, arrays, strings, numbers, booleans', async () => {
    const { app } = await withTable();
    for (const value of [0, 42.5, false, '', 'text', [1, [2]], { a: { b: null } }, { value: 1 }]) {
      const res = await app.request('/api/tables/users/keys/k', put(value), LOOPBACK);
      assert.equal(res.status, 200, JSON.stringify(value));
      const got = (await (await app.request('/api/tables/users/keys/k')).json()) as { value: unknown };
      assert.deepEqual(got.value, value);
    }
  });

  it('decodes URL-encoded keys, slashes and Unicode included', async () => {
    const { app, tables } = await withTable();
    const key = 'users/ä ö?#%';
    const res = await app.request(`/api/tables/users/keys/${encodeURIComponent(key)}`, put(1), LOOPBACK);
    assert.equal(res.status, 200);
    assert.equal(tables.calls[0]?.args[1], key);
    const got = (await (await app.request(`/api/tables/users/keys/${encodeURIComponent(key)}`)).json()) as { key: string };
    assert.equal(got.key, key);
  });

  it('passes X-Consistency: stale through and says so', async () => {
    const { app, tables } = await withTable();
    await tables.put('users', 'a', 1);
    const res = await app.request('/api/tables/users/keys/a', { headers: { 'X-Consistency': 'stale' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-consistency'), 'stale');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((tables.calls.at(-1)?.args[2] as { consistency: string }).consistency, 'stale');
  });

  it('echoes X-Consistency on a 404 too', async () => {
    const { app } = await withTable();
    const res = await app.request('/api/tables/users/keys/a', { headers: { 'X-Consistency': 'stale' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-consistency'), 'stale');
  });

  it('rejects another X-Consistency with 400', async () => {
    const { app, tables } = await withTable();
    const res = await app.request('/api/tables/users/keys/a', { headers: { 'X-Consistency': 'eventual' } });
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /X-Consistency must be "stale" or "linearizable", got "eventual"/);
    assert.deepEqual(tables.calls, []);
  });

  const badPuts: Array<[string, RequestInit, number, RegExp]> = [
    ['a null body', put(null), 400, /request body is null.*send DELETE \/api\/tables\/users\/keys\/a/],
    ['an empty body', jsonInit('PUT', ''), 400, /request body is empty: send the value as JSON/],
    ['malformed JSON', jsonInit('PUT', '{"a":'), 400, /malformed JSON/],
    ['a bare word', jsonInit('PUT', 'hello'), 400, /malformed JSON/],
    ['no content type', { method: 'PUT', body: '1' }, 415, /application\/json/],
    ['a value over the limit', put(LARGE_VALUE), 413, /request body: value is \d+ bytes encoded, the limit is 1048576/],
  ];
  for (const [what, init, status, message] of badPuts) {
    it(`rejects a put with ${what} (${status}) and calls nothing`, async () => {
      const { app, tables } = await withTable();
      const res = await app.request('/api/tables/users/keys/a', init, LOOPBACK);
      assert.equal(res.status, status);
      assert.match((await errorOf(res)).message, message);
      assert.deepEqual(tables.calls, []);
    });
  }

  const longKey: Array<[string, RequestInit]> = [
    ['GET', {}],
    ['PUT', put(1)],
    ['DELETE', { method: 'DELETE' }],
  ];
  for (const [method, init] of longKey) {
    it(`${method} of a key over the limit is 413 before calling`, async () => {
      const { app, tables } = await withTable();
      const res = await app.request(`/api/tables/users/keys/${LONG_KEY}`, init, LOOPBACK);
      assert.equal(res.status, 413);
      const error = await errorOf(res);
      assert.equal(error.code, 'ERR_LIMIT_EXCEEDED');
      assert.match(error.message, /path parameter "key": key is 1025 bytes/);
      assert.deepEqual(tables.calls, []);
    });
  }

  it('rejects a key with a lone surrogate with 400', async () => {
    const { app, tables } = await withTable();
    const res = await app.request('/api/tables/users/keys/%ED%A0%80', {}, LOOPBACK);
    assert.ok(res.status === 400 || res.status === 404, String(res.status));
    assert.deepEqual(tables.calls.filter((c) => c.method === 'get' && /[\uD800-\uDFFF]/.test(String(c.args[1]))), []);
  });

  it('rejects a table body over its limit with 413 ERR_PAYLOAD_TOO_LARGE', async () => {
    const node = new FakeTablesNode();
    const { app } = makeApp({ node });
    const res = await app.request('/api/tables/users/keys/a', put('x'.repeat(5 * 1024 * 1024)), LOOPBACK);
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'ERR_PAYLOAD_TOO_LARGE');
  });

  it('a key route with another method is 405 naming the methods', async () => {
    const { app } = await withTable();
    const res = await app.request('/api/tables/users/keys/a', jsonInit('POST', {}), LOOPBACK);
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow') ?? '', /PUT/);
  });
});

describe('failures of the tables', () => {
  it('503 with Retry-After and details when a partition has lost its majority', async () => {
    const { app, tables } = await withTable();
    tables.failNext = new PartitionUnavailableError('users', 2, ['n2@10.0.0.2', 'n3@10.0.0.3'], 3, 2500);
    const res = await app.request('/api/tables/users/keys/a', put(1), LOOPBACK);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '3');
    const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
    assert.equal(body.error.code, 'ERR_UNAVAILABLE');
    assert.match(body.error.message, /table "users" partition 2 .*n2@10\.0\.0\.2, n3@10\.0\.0\.3/);
    assert.deepEqual(body.error.details, { table: 'users', partition: 2, replicas: 3, unreachable: ['n2@10.0.0.2', 'n3@10.0.0.3'] });
  });

  it('503 with Retry-After when no leader takes the request', async () => {
    const { app, tables } = await withTable();
    tables.failNext = new NotLeaderError('users/0', null, 4);
    const res = await app.request('/api/tables/users/keys/a');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal((await errorOf(res)).code, 'ERR_NOT_LEADER');
  });

  it('504 when the outcome of a write is unknown', async () => {
    const { app, tables } = await withTable();
    tables.failNext = new OutcomeUnknownError('cas users/a', 'the leader changed');
    const res = await app.request('/api/tables/users/keys/a/cas', cas(null, 1), LOOPBACK);
    assert.equal(res.status, 504);
    assert.equal((await errorOf(res)).code, 'ERR_OUTCOME_UNKNOWN');
  });
});

describe('POST /api/tables/:table/keys/:key/cas', () => {
  it('creates when absent, answers 409 with what the key holds, deletes with value null', async () => {
    const { app, tables } = await withTable();
    let res = await app.request('/api/tables/users/keys/a/cas', cas(null, { n: 1 }), LOOPBACK);
    assert.equal(res.status, 200);
    const created = (await res.json()) as CasAnswer;
    assert.deepEqual(created, { ok: true, version: created.version });
    assert.deepEqual(tables.calls[0]?.args.slice(0, 4), ['users', 'a', null, { n: 1 }]);

    res = await app.request('/api/tables/users/keys/a/cas', cas(null, { n: 2 }), LOOPBACK);
    assert.equal(res.status, 409);
    const mismatch = (await res.json()) as CasAnswer;
    assert.equal(mismatch.ok, false);
    assert.deepEqual(mismatch.current, { value: { n: 1 }, version: created.version });
    assert.equal(mismatch.error?.code, 'ERR_CONDITION_FAILED');
    assert.match(mismatch.error!.message, /key "a" holds version \d+, not the expected value; nothing was written/);

    res = await app.request('/api/tables/users/keys/a/cas', cas({ n: 1 }, null), LOOPBACK);
    assert.equal(res.status, 200);
    assert.equal((await app.request('/api/tables/users/keys/a')).status, 404);
  });

  it('answers 409 with current null when the key is absent but a value was expected', async () => {
    const { app, tables } = await withTable();
    const res = await app.request('/api/tables/users/keys/a/cas', cas('old', 'new'), LOOPBACK);
    assert.equal(res.status, 409);
    const body = (await res.json()) as CasAnswer;
    assert.equal(body.ok, false);
    assert.equal(body.current, null);
    assert.match(body.error!.message, /key "a" is absent/);
    assert.equal(tables.tables.get('users')!.data.size, 0);
  });

  it('swaps strings, numbers and arrays by value', async () => {
    const { app } = await withTable();
    for (const [expected, value] of [[null, 'a'], ['a', 2], [2, [1, 2]], [[1, 2], { x: true }]] as const) {
      const res = await app.request('/api/tables/users/keys/k/cas', cas(expected, value), LOOPBACK);
      assert.equal(res.status, 200, `${JSON.stringify(expected)} → ${JSON.stringify(value)}`);
    }
  });

  const bad: Array<[string, string, RequestInit, number, RegExp]> = [
    ['no expected', 'a', jsonInit('POST', { value: 1 }), 400, /field "expected" is required/],
    ['no value', 'a', jsonInit('POST', { expected: null }), 400, /field "value" is required/],
    ['an unknown field', 'a', jsonInit('POST', { key: 'a', expected: null, value: 1 }), 400, /unknown field "key"/],
    ['an array body', 'a', jsonInit('POST', [null, 1]), 400, /JSON object like \{"expected"/],
    ['a number body', 'a', jsonInit('POST', '7'), 400, /JSON object like \{"expected"/],
    ['malformed JSON', 'a', jsonInit('POST', '{"expected":'), 400, /malformed JSON/],
    ['no content type', 'a', { method: 'POST', body: '{"expected":null,"value":1}' }, 415, /application\/json/],
    ['a key over the limit', LONG_KEY, cas(null, 1), 413, /path parameter "key"/],
    ['an expected value over the limit', 'a', cas(LARGE_VALUE, 1), 413, /field "expected"/],
    ['a new value over the limit', 'a', cas(null, LARGE_VALUE), 413, /field "value"/],
  ];
  for (const [what, key, init, status, message] of bad) {
    it(`rejects ${what} with ${status} and calls nothing`, async () => {
      const { app, tables } = await withTable();
      const res = await app.request(`/api/tables/users/keys/${key}/cas`, init, LOOPBACK);
      assert.equal(res.status, status);
      assert.match((await errorOf(res)).message, message);
      assert.deepEqual(tables.calls, []);
    });
  }
});

describe('POST /api/tables/:table/batch', () => {
  it('applies all operations with one version', async () => {
    const { app, tables } = await withTable();
    await tables.put('users', 'a2', 'old');
    const ops = [
      { op: 'put', key: 'a1', value: 1 },
      { op: 'cas', key: 'a2', expected: 'old', value: 'new' },
      { op: 'check', key: 'a3' },
      { op: 'delete', key: 'a4' },
    ];
    const res = await app.request('/api/tables/users/batch', jsonInit('POST', { ops }), LOOPBACK);
    assert.equal(res.status, 200);
    const { ok, version } = (await res.json()) as { ok: boolean; version: number };
    assert.equal(ok, true);
    assert.deepEqual(tables.tables.get('users')!.data.get('a2'), { value: 'new', version });
  });

  it('409 naming the failed operation, nothing written', async () => {
    const { app, tables } = await withTable();
    const ops = [
      { op: 'put', key: 'a1', value: 1 },
      { op: 'check', key: 'a2', expected: 'there' },
    ];
    const res = await app.request('/api/tables/users/batch', jsonInit('POST', { ops }), LOOPBACK);
    assert.equal(res.status, 409);
    const body = (await res.json()) as { ok: boolean; failed: number; key: string; current: unknown; error: { code: string; message: string } };
    assert.deepEqual({ ok: body.ok, failed: body.failed, key: body.key, current: body.current }, { ok: false, failed: 1, key: 'a2', current: null });
    assert.equal(body.error.code, 'ERR_CONDITION_FAILED');
    assert.match(body.error.message, /batch operation 1/);
    assert.equal(tables.tables.get('users')!.data.size, 0);
  });

  it('400 from the tables for keys in two partitions, nothing written', async () => {
    const { app, tables } = await withTable();
    const ops = [
      { op: 'put', key: 'a', value: 1 },
      { op: 'put', key: 'b', value: 2 },
    ];
    const res = await app.request('/api/tables/users/batch', jsonInit('POST', { ops }), LOOPBACK);
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /one partition/);
    assert.equal(tables.tables.get('users')!.data.size, 0);
  });

  const bad: Array<[string, unknown, number, RegExp]> = [
    ['no ops', {}, 400, /field "ops" is required|field "ops" must be an array/],
    ['ops that are not a list', { ops: { op: 'put' } }, 400, /field "ops" must be an array/],
    ['malformed JSON', '{"ops":[', 400, /malformed JSON/],
    ['an empty list', { ops: [] }, 400, /at least one/],
    ['an unknown op', { ops: [{ op: 'incr', key: 'a' }] }, 400, /field "ops.0.op" must be one of "put", "delete", "cas", "check"/],
    ['a key that is not a string', { ops: [{ op: 'delete', key: 7 }] }, 400, /field "ops.0.key" must be a string/],
    ['a put without value', { ops: [{ op: 'put', key: 'a' }] }, 400, /field "ops.0.value" is required/],
    ['a delete with a value', { ops: [{ op: 'delete', key: 'a', value: 1 }] }, 400, /unknown field "value"/],
    ['a null put value', { ops: [{ op: 'delete', key: 'a' }, { op: 'put', key: 'a', value: null }] }, 400, /field "ops.1.value"/],
    ['a key over the limit', { ops: [{ op: 'delete', key: LONG_KEY }] }, 413, /field "ops.0.key"/],
    ['a value over the limit', { ops: [{ op: 'put', key: 'a', value: LARGE_VALUE }] }, 413, /field "ops.0.value"/],
    ['too many ops', { ops: Array.from({ length: MAX_BATCH_OPS + 1 }, (_, i) => ({ op: 'delete', key: `a${i}` })) }, 413, /batch: batch has 129 operations, the limit is 128/],
    ['too many bytes in all', { ops: [0, 1, 2, 3].map((i) => ({ op: 'put', key: `a${i}`, value: 'x'.repeat(MAX_VALUE_BYTES - 100) })) }, 413, /batch: batch has \d+ bytes/],
  ];
  for (const [what, body, status, message] of bad) {
    it(`rejects ${what} with ${status} and calls nothing`, async () => {
      const { app, tables } = await withTable();
      const res = await app.request('/api/tables/users/batch', jsonInit('POST', body), LOOPBACK);
      assert.equal(res.status, status);
      assert.match((await errorOf(res)).message, message);
      assert.deepEqual(tables.calls, []);
    });
  }
});

describe('GET /api/tables/:table/keys (scan)', () => {
  async function filled() {
    const t = await withTable();
    for (const k of ['a1', 'a2', 'a3', 'b1', 'b2']) await t.tables.put('users', k, k.toUpperCase());
    t.tables.calls = [];
    return t;
  }
  type Page = { items: Array<{ key: string; value: unknown; version: number }>; cursor: string | null };

  it('scans a prefix page by page with the cursor', async () => {
    const { app } = await filled();
    let res = await app.request('/api/tables/users/keys?prefix=a&limit=2');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-consistency'), 'linearizable');
    let page = (await res.json()) as Page;
    assert.deepEqual(page.items.map((i) => i.key), ['a1', 'a2']);
    assert.equal(page.items[0]?.value, 'A1');
    assert.equal(typeof page.items[0]?.version, 'number');
    res = await app.request(`/api/tables/users/keys?prefix=a&limit=2&cursor=${encodeURIComponent(page.cursor!)}`);
    page = (await res.json()) as Page;
    assert.deepEqual(page.items.map((i) => i.key), ['a3']);
    assert.equal(page.cursor, null);
  });

  it('scans everything without a query', async () => {
    const { app } = await filled();
    const page = (await (await app.request('/api/tables/users/keys')).json()) as Page;
    assert.deepEqual(page.items.map((i) => i.key), ['a1', 'a2', 'a3', 'b1', 'b2']);
    assert.equal(page.cursor, null);
  });

  it('scans a range and passes the stale header through', async () => {
    const { app, tables } = await filled();
    const res = await app.request('/api/tables/users/keys?start=a2&end=b2', { headers: { 'X-Consistency': 'stale' } });
    assert.equal(res.headers.get('x-consistency'), 'stale');
    const page = (await res.json()) as Page;
    assert.deepEqual(page.items.map((i) => i.key), ['a2', 'a3', 'b1']);
    const options = tables.calls[0]?.args[1] as { consistency: string; start: string; end: string };
    assert.equal(options.consistency, 'stale');
    assert.equal(options.start, 'a2');
  });

  it('answers the same at /scan', async () => {
    const { app } = await filled();
    const [keys, scan] = await Promise.all(['keys', 'scan'].map(async (p) => (await app.request(`/api/tables/users/${p}?prefix=b`)).json()));
    assert.deepEqual(scan, keys);
  });

  const bad: Array<[string, string, number, RegExp]> = [
    ['a prefix with a range', 'prefix=a&start=a', 400, /prefix or a start\/end range/],
    ['a limit of 0', 'limit=0', 400, /"limit" must be at least 1/],
    ['a limit over 1000', 'limit=1001', 400, /"limit" must be at most 1000/],
    ['a limit that is not a number', 'limit=ten', 400, /"limit" must be a positive integer/],
    ['an unknown parameter', 'after=x', 400, /unknown field "after"/],
    ['an empty cursor', 'cursor=', 400, /"cursor" must not be empty/],
    ['a prefix over the key limit', `prefix=${'p'.repeat(MAX_KEY_BYTES + 1)}`, 413, /query parameter "prefix"/],
    ['an end over the key limit', `end=${'p'.repeat(MAX_KEY_BYTES + 1)}`, 413, /query parameter "end"/],
  ];
  for (const [what, query, status, message] of bad) {
    it(`rejects ${what} with ${status} and calls nothing`, async () => {
      const { app, tables } = await filled();
      const res = await app.request(`/api/tables/users/keys?${query}`);
      assert.equal(res.status, status);
      assert.match((await errorOf(res)).message, message);
      assert.deepEqual(tables.calls, []);
    });
  }

  it('rejects an unknown X-Consistency with 400', async () => {
    const { app, tables } = await filled();
    const res = await app.request('/api/tables/users/keys', { headers: { 'X-Consistency': 'whatever' } });
    assert.equal(res.status, 400);
    assert.deepEqual(tables.calls, []);
  });
});
