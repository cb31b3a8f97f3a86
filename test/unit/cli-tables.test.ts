/**
 * The CLI's table commands: argument parsing and usage errors without a
 * node, then each command run in-process against an HTTP facade over the
 * in-memory tables, its output and its exit status.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpApp } from '../../lib/http/app.js';
import { startHttpServer, type RunningHttpServer } from '../../lib/http/server.js';
import { PartitionUnavailableError } from '../../lib/errors.js';
import { createMetrics } from '../../lib/metrics.js';
import { CliError } from '../../lib/cli/client.js';
import { formatItems, formatTableList } from '../../lib/cli/table-format.js';
import { parseTableCommand, parseValueArgument, runTableCommand, type TableRequest } from '../../lib/cli/table-commands.js';
import { FakeNode, silentLog } from './http/fake-node.js';
import { FakeTablesNode } from './http/fake-tables.js';

describe('parseValueArgument', () => {
  const rows: Array<[string, unknown]> = [
    ['42', 42],
    ['-1.5', -1.5],
    ['true', true],
    ['null', null],
    ['"42"', '42'],
    ['{"a":[1,2]}', { a: [1, 2] }],
    ['[1,"x"]', [1, 'x']],
    ['hello', 'hello'],
    ['hello world', 'hello world'],
    ['{bad', '{bad'],
    ['', ''],
  ];
  for (const [text, value] of rows) it(`${JSON.stringify(text)} → ${JSON.stringify(value)}`, () => assert.deepEqual(parseValueArgument(text), value));
});

describe('parseTableCommand', () => {
  const parsed = (command: string, args: string[]) => parseTableCommand(command, args) as TableRequest;

  it('maps each command to its route', () => {
    const rows: Array<[string, string[], Partial<TableRequest>]> = [
      ['tables', ['list'], { method: 'GET', path: '/api/tables' }],
      ['tables', ['create', 'users', '--partitions', '8', '--replication-factor', '3'], { method: 'POST', path: '/api/tables', body: { name: 'users', partitions: 8, replicationFactor: 3 } }],
      ['tables', ['create', 'users'], { method: 'POST', path: '/api/tables', body: { name: 'users' } }],
      ['tables', ['drop', 'users'], { method: 'DELETE', path: '/api/tables/users' }],
      ['get', ['users', 'a/b c'], { method: 'GET', path: '/api/tables/users/keys/a%2Fb%20c', headers: {} }],
      ['get', ['users', 'a', '--stale'], { method: 'GET', path: '/api/tables/users/keys/a', headers: { 'X-Consistency': 'stale' } }],
      ['put', ['users', 'a', '{"n":1}'], { method: 'PUT', path: '/api/tables/users/keys/a', body: { n: 1 } }],
      ['put', ['users', 'a', 'hello'], { method: 'PUT', path: '/api/tables/users/keys/a', body: 'hello' }],
      ['put', ['users', 'a', '--', '-5'], { method: 'PUT', path: '/api/tables/users/keys/a', body: -5 }],
      ['del', ['users', 'a'], { method: 'DELETE', path: '/api/tables/users/keys/a' }],
      ['cas', ['users', 'a', 'null', '1'], { method: 'POST', path: '/api/tables/users/keys/a/cas', body: { expected: null, value: 1 } }],
      ['cas', ['users', 'a', 'old', 'null'], { method: 'POST', path: '/api/tables/users/keys/a/cas', body: { expected: 'old', value: null } }],
      ['scan', ['users'], { method: 'GET', path: '/api/tables/users/keys', headers: {} }],
      ['scan', ['users', '--prefix', 'a/', '--limit', '2', '--cursor', 'c1.YQ', '--stale'], { method: 'GET', path: '/api/tables/users/keys?prefix=a%2F&cursor=c1.YQ&limit=2', headers: { 'X-Consistency': 'stale' } }],
      ['scan', ['users', '--start', 'a', '--end', 'm'], { method: 'GET', path: '/api/tables/users/keys?start=a&end=m' }],
    ];
    for (const [command, args, expected] of rows) {
      const request = parsed(command, args);
      const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, request[k as keyof TableRequest]]));
      assert.deepEqual(actual, expected, `${command} ${args.join(' ')}`);
    }
  });

  it('takes --json and --url on every command', () => {
    const request = parsed('get', ['users', 'a', '--json', '--url', 'http://10.0.0.5:4000']);
    assert.equal(request.json, true);
    assert.equal(request.url, 'http://10.0.0.5:4000');
  });

  it('answers help for --help', () => assert.equal(parseTableCommand('cas', ['--help']), 'help'));

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['tables', [], /tables takes list, create NAME or drop NAME/],
    ['tables', ['show'], /tables takes list, create NAME or drop NAME, not "show"/],
    ['tables', ['create'], /tables create takes NAME, got none/],
    ['tables', ['list', 'x'], /tables list takes no arguments, got "x"/],
    ['tables', ['list', '--partitions', '3'], /--partitions and --replication-factor apply to tables create only/],
    ['tables', ['create', 'u', '--partitions', 'many'], /--partitions must be a positive integer, got "many"/],
    ['tables', ['create', 'u', '--replication-factor', '0'], /--replication-factor must be a positive integer, got "0"/],
    ['get', ['users'], /get takes TABLE KEY, got "users"/],
    ['get', ['users', ''], /get: KEY must not be empty/],
    ['get', ['users', 'a', '--verbose'], /get: unknown option '--verbose'/],
    ['put', ['users', 'a'], /put takes TABLE KEY VALUE/],
    ['put', ['users', 'a', 'null'], /put: VALUE null cannot be stored.*troupe del TABLE KEY/],
    ['put', ['users', 'a', '-5'], /put: unknown option '-5' \(put -- before an argument that starts with "-"\)/],
    ['del', ['users', 'a', 'b'], /del takes TABLE KEY, got "users" "a" "b"/],
    ['cas', ['users', 'a', '1'], /cas takes TABLE KEY EXPECTED NEW/],
    ['scan', [], /scan takes TABLE, got none/],
    ['scan', ['users', '--prefix', 'a', '--start', 'b'], /scan takes --prefix or a --start\/--end range, not both/],
    ['scan', ['users', '--limit', 'ten'], /--limit must be a positive integer, got "ten"/],
    ['scan', ['users', '--stale=yes'], /scan: .*--stale/],
  ];
  for (const [command, args, message] of usageErrors) {
    it(`${command} ${args.join(' ')}: usage error (exit 2)`, () => {
      assert.throws(
        () => parseTableCommand(command, args),
        (err: unknown) => err instanceof CliError && err.exitCode === 2 && message.test(err.message) && /see troupe help$/.test(err.message),
      );
    });
  }
});

describe('table output for people', () => {
  it('lists tables, or says there are none', () => {
    assert.equal(formatTableList([]), 'no tables\n');
    assert.equal(formatTableList([{ name: 'users', partitions: 8, replicationFactor: 3 }]), 'NAME   PARTITIONS  REPLICATION FACTOR  STATE\nusers  8           3                   ready\n');
    assert.equal(formatTableList([{ name: 'old', partitions: 2, replicationFactor: 3, state: 'dropping' }]), 'NAME  PARTITIONS  REPLICATION FACTOR  STATE\nold   2           3                   dropping\n');
  });

  it('shows values as JSON, and how to get the next page', () => {
    const text = formatItems([{ key: 'a', value: '42', version: 3 }, { key: 'b', value: 42, version: 4 }], 'c1.Yg');
    assert.equal(text, 'KEY  VERSION  VALUE\na    3        "42"\nb    4        42\nmore: --cursor c1.Yg\n');
    assert.equal(formatItems([]), 'no keys\n');
  });
});

describe('table commands against a node', () => {
  let server: RunningHttpServer;
  let node: FakeTablesNode;
  let url: string;

  interface Run {
    code: number;
    stdout: string;
    stderr: string;
  }

  async function troupe(command: string, ...args: string[]): Promise<Run> {
    const run = { code: -1, stdout: '', stderr: '' };
    const io = { stdout: (t: string) => void (run.stdout += t), stderr: (t: string) => void (run.stderr += t), env: { PORT: String(server.port) } };
    run.code = await runTableCommand(command, args, io);
    return run;
  }

  function assertFailed(run: Run, code: number, pattern: RegExp): void {
    assert.equal(run.code, code, `exit ${run.code}; stderr: ${run.stderr}`);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `one line on stderr, got: ${run.stderr}`);
    assert.match(lines[0]!, /^troupe: /);
    assert.match(lines[0]!, pattern);
  }

  before(async () => {
    node = new FakeTablesNode();
    const app = createHttpApp(node, { metrics: createMetrics(() => node.stats()), log: silentLog });
    server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());
  beforeEach(async () => {
    node.tables.tables.clear();
    await node.tables.create('users', { partitions: 1, replicationFactor: 3 });
    node.tables.calls = [];
  });

  it('tables create, list and drop', async () => {
    let run = await troupe('tables', 'create', 'orders', '--partitions', '4', '--replication-factor', '3');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'created table orders: 4 partitions, replication factor 3\n');
    run = await troupe('tables', 'list');
    assert.match(run.stdout, /^NAME\s+PARTITIONS\s+REPLICATION FACTOR\s+STATE\norders\s+4\s+3\s+ready\nusers\s+1\s+3\s+ready\n$/);
    run = await troupe('tables', 'list', '--json');
    assert.deepEqual(JSON.parse(run.stdout), { tables: [{ name: 'orders', partitions: 4, replicationFactor: 3 }, { name: 'users', partitions: 1, replicationFactor: 3 }] });
    run = await troupe('tables', 'drop', 'orders');
    assert.equal(run.stdout, 'dropped table orders\n');
    assertFailed(await troupe('tables', 'drop', 'orders'), 1, /no table named "orders".*HTTP 404 ERR_NO_SUCH_TABLE/);
  });

  it('tables create of an existing table fails with the 409', async () => {
    assertFailed(await troupe('tables', 'create', 'users'), 1, /already exists.*HTTP 409 ERR_TABLE_EXISTS/);
  });

  it('put, get, del', async () => {
    let run = await troupe('put', 'users', 'alice', '{"age":30}');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^stored alice \(version \d+\)\n$/);
    run = await troupe('get', 'users', 'alice');
    assert.match(run.stdout, /^KEY\s+VERSION\s+VALUE\nalice\s+\d+\s+\{"age":30\}\n$/);
    run = await troupe('get', 'users', 'alice', '--json');
    const got = JSON.parse(run.stdout) as { key: string; value: unknown; version: number };
    assert.deepEqual({ key: got.key, value: got.value }, { key: 'alice', value: { age: 30 } });
    run = await troupe('del', 'users', 'alice');
    assert.match(run.stdout, /^deleted alice \(version \d+\)\n$/);
    run = await troupe('del', 'users', 'alice', '--json');
    assert.equal((JSON.parse(run.stdout) as { existed: boolean }).existed, false);
  });

  it('put stores what is not JSON as a string, and JSON as its value', async () => {
    for (const [text, value] of [['hello world', 'hello world'], ['42', 42], ['"42"', '42'], ['[1,{"a":true}]', [1, { a: true }]]] as const) {
      assert.equal((await troupe('put', 'users', 'k', text)).code, 0);
      assert.deepEqual(node.tables.tables.get('users')!.data.get('k')?.value, value);
    }
  });

  it('get of an absent key prints not found and exits 1', async () => {
    assertFailed(await troupe('get', 'users', 'nobody'), 1, /^troupe: not found: table "users" has no key "nobody"$/);
  });

  it('get --json of an absent key prints the 404 body and exits 1', async () => {
    const run = await troupe('get', 'users', 'nobody', '--json');
    assert.equal(run.code, 1);
    assert.equal((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'ERR_NOT_FOUND');
  });

  it('get of a table that does not exist is a failure, not "not found"', async () => {
    const run = await troupe('get', 'nope', 'a');
    assertFailed(run, 1, /no table named "nope".*HTTP 404 ERR_NO_SUCH_TABLE/);
    assert.doesNotMatch(run.stderr, /not found:/);
  });

  it('get --stale asks for a stale read', async () => {
    await node.tables.put('users', 'a', 1);
    assert.equal((await troupe('get', 'users', 'a', '--stale')).code, 0);
    assert.equal((node.tables.calls.at(-1)?.args[2] as { consistency: string }).consistency, 'stale');
    await troupe('get', 'users', 'a');
    assert.equal((node.tables.calls.at(-1)?.args[2] as { consistency: string }).consistency, 'linearizable');
  });

  it('cas applies (exit 0), or reports what the key holds (exit 3)', async () => {
    let run = await troupe('cas', 'users', 'lock', 'null', '{"owner":"n1"}');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^cas applied: stored lock \(version \d+\)\n$/);
    run = await troupe('cas', 'users', 'lock', 'null', '{"owner":"n2"}');
    assertFailed(run, 3, /cas not applied: lock holds \{"owner":"n1"\} \(version \d+\), not the expected value; nothing was written/);
    assert.equal(run.stdout, '');
    run = await troupe('cas', 'users', 'lock', '{"owner":"n1"}', 'null');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^cas applied: deleted lock/);
    assertFailed(await troupe('cas', 'users', 'lock', 'x', 'y'), 3, /lock is absent/);
  });

  it('cas --json prints the 409 body on a mismatch', async () => {
    await node.tables.put('users', 'n', 1);
    const run = await troupe('cas', 'users', 'n', '2', '3', '--json');
    assert.equal(run.code, 3);
    const body = JSON.parse(run.stdout) as { ok: boolean; current: { value: unknown } };
    assert.equal(body.ok, false);
    assert.equal(body.current.value, 1);
  });

  it('scan pages with --cursor', async () => {
    for (const k of ['a1', 'a2', 'a3', 'b1']) await node.tables.put('users', k, k);
    let run = await troupe('scan', 'users', '--prefix', 'a', '--limit', '2');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^KEY\s+VERSION\s+VALUE\na1\s+\d+\s+"a1"\na2\s+\d+\s+"a2"\nmore: --cursor (\S+)\n$/);
    const cursor = /--cursor (\S+)/.exec(run.stdout)![1]!;
    run = await troupe('scan', 'users', '--prefix', 'a', '--limit', '2', '--cursor', cursor, '--json');
    const page = JSON.parse(run.stdout) as { items: Array<{ key: string }>; cursor: string | null };
    assert.deepEqual(page.items.map((i) => i.key), ['a3']);
    assert.equal(page.cursor, null);
    run = await troupe('scan', 'users', '--prefix', 'z');
    assert.equal(run.stdout, 'no keys\n');
  });

  it('a rejected request prints the node\'s message and exits 1', async () => {
    assertFailed(await troupe('scan', 'users', '--limit', '5000'), 1, /"limit" must be at most 1000.*HTTP 400 ERR_BAD_REQUEST/);
    assertFailed(await troupe('tables', 'create', '1bad'), 1, /field "name" must start with a letter.*HTTP 400/);
  });

  it('an unavailable partition prints the node\'s message and exits 1', async () => {
    node.tables.failNext = new PartitionUnavailableError('users', 0, ['n2@127.0.0.1'], 3);
    assertFailed(await troupe('put', 'users', 'a', '1'), 1, /partition 0 has no majority.*HTTP 503 ERR_UNAVAILABLE/);
  });

  it('--url picks the node', async () => {
    const run = await troupe('tables', 'list', '--url', url);
    assert.equal(run.code, 0, run.stderr);
  });

  it('an unreachable node exits 1', async () => {
    assertFailed(await troupe('tables', 'list', '--url', 'http://127.0.0.1:1'), 1, /cannot reach a troupe node at http:\/\/127\.0\.0\.1:1/);
  });

  it('a usage error exits 2 and sends nothing', async () => {
    assertFailed(await troupe('put', 'users', 'a', 'null'), 2, /troupe del TABLE KEY/);
    assert.deepEqual(node.tables.calls, []);
  });
});

describe('table commands against a node without tables', () => {
  it('get fails naming the missing route, not "not found"', async () => {
    const node = new FakeNode();
    const server = await startHttpServer(createHttpApp(node, { metrics: createMetrics(() => node.stats()), log: silentLog }), { host: '127.0.0.1', port: 0 });
    try {
      let stderr = '';
      const code = await runTableCommand('get', ['users', 'a', '--url', `http://127.0.0.1:${server.port}`], { stdout: () => {}, stderr: (t) => void (stderr += t), env: {} });
      assert.equal(code, 1);
      assert.match(stderr, /no route GET \/api\/tables\/users\/keys\/a/);
    } finally {
      await server.close();
    }
  });
});
