import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NotLeaderError } from '../../../lib/protocol/raft/errors.js';
import { OutcomeUnknownError } from '../../../lib/raft/requests.js';
import { PartitionUnavailableError } from '../../../lib/errors.js';
import { MAX_BATCH_OPS, MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../../lib/tables/commands.js';
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

const put = (value: unknown) => jsonInit('PUT', { value });

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
    ['a name with a slash', { name: 'a/b' }, /field "name" must start with a letter/],
    ['a name starting with a digit', { name: '1abc' }, /field "name" must start with a letter/],
    ['a long name', { name: 'a'.repeat(65) }, /at most 64/],
    ['zero partitions', { name: 'a', partitions: 0 }, /field "partitions" must be at least 1/],
    ['fractional partitions', { name: 'a', partitions: 1.5 }, /field "partitions" must be an integer/],
    ['too many replicas', { name: 'a', replicationFactor: 8 }, /field "replicationFactor" must be at most 7/],
    ['an unknown field', { name: 'a', shards: 2 }, /unknown field "shards"/],
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

describe('operator guard', () => {
  const mutations: Array<[string, RequestInit]> = [
    ['/api/tables', jsonInit('POST', { name: 'x' })],
    ['/api/tables/users', { method: 'DELETE' }],
    ['/api/tables/users/keys/a', put(1)],
    ['/api/tables/users/keys/a', { method: 'DELETE' }],
    ['/api/tables/users/cas', jsonInit('POST', { key: 'a', value: 1 })],
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
    assert.equal((await app.request('/api/tables/users/scan', {}, REMOTE)).status, 200);
  });
});

describe('keys', () => {
  it('puts, gets with the version, deletes', async () => {
    const { app, tables } = await withTable();
    let res = await app.request('/api/tables/users/keys/alice', put({ age: 30, tags: ['a'] }), LOOPBACK);
    assert.equal(res.status, 200);
    const { version } = (await res.json()) as { version: number };
    assert.ok(version > 0);
    res = await app.request('/api/tables/users/keys/alice');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-consistency'), 'linearizable');
    assert.deepEqual(await res.json(), { key: 'alice', value: { age: 30, tags: ['a'] }, version });
    assert.equal((tables.calls.at(-1)?.args[2] as { consistency: string }).consistency, 'linearizable');
    res = await app.request('/api/tables/users/keys/alice', { method: 'DELETE' }, LOOPBACK);
    assert.deepEqual(((await res.json()) as { existed: boolean }).existed, true);
    res = await app.request('/api/tables/users/keys/alice');
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'ERR_NOT_FOUND');
  });

  it('accepts any JSON but null as a value', async () => {
    const { app } = await withTable();
    for (const value of [0, false, '', 'text', [1, [2]], { a: { b: null } }]) {
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

  it('rejects another X-Consistency with 400', async () => {
    const { app, tables } = await withTable();
    const res = await app.request('/api/tables/users/keys/a', { headers: { 'X-Consistency': 'eventual' } });
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /X-Consistency/);
    assert.deepEqual(tables.calls, []);
  });

  const badPuts: Array<[string, RequestInit, number, RegExp]> = [
    ['a null value', put(null), 400, /field "value".*null/],
    ['no value', jsonInit('PUT', {}), 400, /field "value" is required/],
    ['an unknown field', jsonInit('PUT', { value: 1, ttl: 5 }), 400, /unknown field "ttl"/],
    ['a bare value', jsonInit('PUT', '42'), 400, /JSON object/],
    ['malformed JSON', jsonInit('PUT', '{"value":'), 400, /malformed JSON/],
    ['no content type', { method: 'PUT', body: '{"value":1}' }, 415, /application\/json/],
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

  it('rejects a key over the limit with 413 before calling', async () => {
    const { app, tables } = await withTable();
    const res = await app.request(`/api/tables/users/keys/${'k'.repeat(MAX_KEY_BYTES + 1)}`, put(1), LOOPBACK);
    assert.equal(res.status, 413);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_LIMIT_EXCEEDED');
    assert.match(error.message, /path parameter "key": key is 1025 bytes/);
    assert.deepEqual(tables.calls, []);
  });

  it('rejects a key with a lone surrogate with 400', async () => {
    const { app, tables } = await withTable();
    const res = await app.request('/api/tables/users/keys/%ED%A0%80', {}, LOOPBACK);
    assert.ok(res.status === 400 || res.status === 404, String(res.status));
    assert.deepEqual(tables.calls.filter((c) => c.method === 'get' && /[\uD800-\uDFFF]/.test(String(c.args[1]))), []);
  });

  it('rejects a value over the limit with 413 before calling', async () => {
    const { app, tables } = await withTable();
    const res = await app.request('/api/tables/users/keys/a', put('x'.repeat(MAX_VALUE_BYTES)), LOOPBACK);
    assert.equal(res.status, 413);
    const error = await errorOf(res);
    assert.equal(error.code, 'ERR_LIMIT_EXCEEDED');
    assert.match(error.message, /field "value": value is \d+ bytes encoded, the limit is 1048576/);
    assert.deepEqual(tables.calls, []);
  });

  it('rejects a table body over its limit with 413 ERR_PAYLOAD_TOO_LARGE', async () => {
    const node = new FakeTablesNode();
    const { app } = makeApp({ node });
    const res = await app.request('/api/tables/users/keys/a', put('x'.repeat(5 * 1024 * 1024)), LOOPBACK);
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'ERR_PAYLOAD_TOO_LARGE');
  });

  it('answers 404 ERR_NO_SUCH_TABLE for an unknown table', async () => {
    const { app } = await withTable();
    const res = await app.request('/api/tables/nope/keys/a', put(1), LOOPBACK);
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'ERR_NO_SUCH_TABLE');
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
    tables.failNext = new OutcomeUnknownError('put users/a', 'the leader changed');
    const res = await app.request('/api/tables/users/keys/a', put(1), LOOPBACK);
    assert.equal(res.status, 504);
    assert.equal((await errorOf(res)).code, 'ERR_OUTCOME_UNKNOWN');
  });
});

describe('POST /api/tables/:table/cas', () => {
  it('writes when the key is absent and expected is null, then 412 with the current value', async () => {
    const { app } = await withTable();
    let res = await app.request('/api/tables/users/cas', jsonInit('POST', { key: 'a', expected: null, value: { n: 1 } }), LOOPBACK);
    assert.equal(res.status, 200);
    const { version } = (await res.json()) as { version: number };
    res = await app.request('/api/tables/users/cas', jsonInit('POST', { key: 'a', value: { n: 2 } }), LOOPBACK);
    assert.equal(res.status, 412);
    const body = (await res.json()) as { error: { code: string; details: unknown } };
    assert.equal(body.error.code, 'ERR_PRECONDITION_FAILED');
    assert.deepEqual(body.error.details, { failed: 0, key: 'a', current: { value: { n: 1 }, version } });
    res = await app.request('/api/tables/users/cas', jsonInit('POST', { key: 'a', expected: { n: 1 }, value: null }), LOOPBACK);
    assert.equal(res.status, 200);
    assert.equal((await app.request('/api/tables/users/keys/a')).status, 404);
  });

  const bad: Array<[string, unknown, number, RegExp]> = [
    ['no key', { value: 1 }, 400, /field "key" is required/],
    ['no value', { key: 'a' }, 400, /field "value" is required/],
    ['an empty key', { key: '', value: 1 }, 400, /field "key": a key must not be empty/],
    ['a key over the limit', { key: 'k'.repeat(MAX_KEY_BYTES + 1), value: 1 }, 413, /field "key"/],
    ['an expected value over the limit', { key: 'a', expected: 'x'.repeat(MAX_VALUE_BYTES), value: 1 }, 413, /field "expected"/],
  ];
  for (const [what, body, status, message] of bad) {
    it(`rejects ${what} with ${status} and calls nothing`, async () => {
      const { app, tables } = await withTable();
      const res = await app.request('/api/tables/users/cas', jsonInit('POST', body), LOOPBACK);
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

  it('412 naming the failed operation, nothing written', async () => {
    const { app, tables } = await withTable();
    const ops = [
      { op: 'put', key: 'a1', value: 1 },
      { op: 'check', key: 'a2', expected: 'there' },
    ];
    const res = await app.request('/api/tables/users/batch', jsonInit('POST', { ops }), LOOPBACK);
    assert.equal(res.status, 412);
    const body = (await res.json()) as { error: { message: string; details: unknown } };
    assert.match(body.error.message, /batch operation 1/);
    assert.deepEqual(body.error.details, { failed: 1, key: 'a2', current: null });
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
    ['an empty list', { ops: [] }, 400, /at least one/],
    ['an unknown op', { ops: [{ op: 'incr', key: 'a' }] }, 400, /field "ops.0.op" must be one of "put", "delete", "cas", "check"/],
    ['a put without value', { ops: [{ op: 'put', key: 'a' }] }, 400, /field "ops.0.value" is required/],
    ['a delete with a value', { ops: [{ op: 'delete', key: 'a', value: 1 }] }, 400, /unknown field "value"/],
    ['a null put value', { ops: [{ op: 'delete', key: 'a' }, { op: 'put', key: 'a', value: null }] }, 400, /field "ops.1.value"/],
    ['a key over the limit', { ops: [{ op: 'delete', key: 'k'.repeat(MAX_KEY_BYTES + 1) }] }, 413, /field "ops.0.key"/],
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

describe('GET /api/tables/:table/scan', () => {
  async function filled() {
    const t = await withTable();
    for (const k of ['a1', 'a2', 'a3', 'b1', 'b2']) await t.tables.put('users', k, k.toUpperCase());
    t.tables.calls = [];
    return t;
  }

  it('scans a prefix page by page with the cursor', async () => {
    const { app } = await filled();
    let res = await app.request('/api/tables/users/scan?prefix=a&limit=2');
    assert.equal(res.status, 200);
    let page = (await res.json()) as { items: Array<{ key: string; value: unknown; version: number }>; cursor: string | null };
    assert.deepEqual(page.items.map((i) => i.key), ['a1', 'a2']);
    assert.equal(page.items[0]?.value, 'A1');
    assert.equal(typeof page.items[0]?.version, 'number');
    res = await app.request(`/api/tables/users/scan?prefix=a&limit=2&cursor=${encodeURIComponent(page.cursor!)}`);
    page = (await res.json()) as typeof page;
    assert.deepEqual(page.items.map((i) => i.key), ['a3']);
    assert.equal(page.cursor, null);
  });

  it('scans a range and passes the stale header through', async () => {
    const { app, tables } = await filled();
    const res = await app.request('/api/tables/users/scan?start=a2&end=b2', { headers: { 'X-Consistency': 'stale' } });
    assert.equal(res.headers.get('x-consistency'), 'stale');
    const page = (await res.json()) as { items: Array<{ key: string }> };
    assert.deepEqual(page.items.map((i) => i.key), ['a2', 'a3', 'b1']);
    const options = tables.calls[0]?.args[1] as { consistency: string; start: string; end: string };
    assert.equal(options.consistency, 'stale');
    assert.equal(options.start, 'a2');
  });

  const bad: Array<[string, string, number, RegExp]> = [
    ['a prefix with a range', 'prefix=a&start=a', 400, /prefix or a start\/end range/],
    ['a limit of 0', 'limit=0', 400, /"limit" must be at least 1/],
    ['a limit over 1000', 'limit=1001', 400, /"limit" must be at most 1000/],
    ['a limit that is not a number', 'limit=ten', 400, /"limit" must be a positive integer/],
    ['an unknown parameter', 'after=x', 400, /unknown field "after"/],
    ['an empty cursor', 'cursor=', 400, /"cursor" must not be empty/],
    ['a prefix over the key limit', `prefix=${'p'.repeat(MAX_KEY_BYTES + 1)}`, 413, /query parameter "prefix"/],
  ];
  for (const [what, query, status, message] of bad) {
    it(`rejects ${what} with ${status} and calls nothing`, async () => {
      const { app, tables } = await filled();
      const res = await app.request(`/api/tables/users/scan?${query}`);
      assert.equal(res.status, status);
      assert.match((await errorOf(res)).message, message);
      assert.deepEqual(tables.calls, []);
    });
  }
});
