/**
 * Spawns the compiled CLI (dist/lib/cli/main.js). Client commands run
 * against an in-process facade over a fake node; spawns are asynchronous so
 * that facade keeps answering while the CLI waits on it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpApp } from '../../lib/http/app.js';
import { startHttpServer, type RunningHttpServer } from '../../lib/http/server.js';
import { UnknownNodeError } from '../../lib/errors.js';
import { createMetrics } from '../../lib/metrics.js';
import type { NodeStatus } from '../../lib/node-api.js';
import { FakeNode, silentLog } from './http/fake-node.js';
import { FakeTablesNode } from './http/fake-tables.js';

/** dist/test/unit → repository root. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(REPO_ROOT, 'dist/lib/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function troupe(args: string[], env: Record<string, string> = {}, cwd = workDir): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolveRun({ code, stdout, stderr });
    });
  });
}

function assertOneErrorLine(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}; stderr: ${run.stderr}`);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr, got: ${run.stderr}`);
  assert.match(lines[0]!, /^troupe: /);
  assert.match(lines[0]!, pattern);
  assert.equal(run.stdout, '');
}

let workDir: string;
before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'troupe-cli-'));
});
after(() => rmSync(workDir, { recursive: true, force: true }));

describe('troupe start: configuration errors exit 2 with one line', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['a port out of range', { PORT: '70000' }, /PORT="70000".*0 to 65535/],
    ['HEARTBEAT_TIMEOUT <= HEARTBEAT_INTERVAL', { HEARTBEAT_INTERVAL: '1000', HEARTBEAT_TIMEOUT: '1000' }, /HEARTBEAT_TIMEOUT.*greater than HEARTBEAT_INTERVAL/],
    ['an unknown discovery type', { CLUSTER_DISCOVERY_TYPE: 'carrier-pigeon' }, /CLUSTER_DISCOVERY_TYPE="carrier-pigeon"/],
    ['a 2,000-character NODE_NAME', { NODE_NAME: `${'n'.repeat(2000)}@127.0.0.1` }, /NODE_NAME=.*\(2010 characters\)": must be name@host: a name of 1-64 letters/],
    ['a NODE_NAME with a space', { NODE_NAME: 'my node@127.0.0.1' }, /NODE_NAME="my node@127\.0\.0\.1": must be name@host/],
    ['a reversed CLUSTER_PORT_RANGE', { CLUSTER_PORT_RANGE: '9155-9100' }, /CLUSTER_PORT_RANGE="9155-9100": must be first-last/],
  ];
  for (const [what, env, pattern] of cases) {
    it(what, async () => assertOneErrorLine(await troupe(['start'], env), 2, pattern));
  }

  it('a bad flag value names the flag', async () => {
    assertOneErrorLine(await troupe(['start', '--cluster-port', 'x']), 2, /--cluster-port/);
  });

  it('a rejected secret in the config file is not echoed', async () => {
    const dir = join(workDir, 'secret-file');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ cookie: 98765432123 }));
    const run = await troupe(['config', '--config', 'c.json'], {}, dir);
    assertOneErrorLine(run, 2, /cookie \(a secret, value not shown\)/);
    assert.doesNotMatch(run.stderr, /98765432123/);
  });

  it('a missing --config file', async () => {
    assertOneErrorLine(await troupe(['start', '--config', 'nope.json']), 2, /--config.*does not exist/);
  });
});

describe('troupe start', () => {
  it('prints one up line, and a SIGTERM stops the node and exits 0', async () => {
    const dataDir = join(workDir, 'start-data');
    const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--cluster-port', '0'], {
      cwd: workDir,
      env: { PATH: process.env.PATH ?? '', NODE_NAME: 'solo@127.0.0.1', HTTP_BIND: '127.0.0.1', CLUSTER_BIND: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    const deadline = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      await new Promise<void>((resolveUp, reject) => {
        const check = () => {
          if (stdout.includes('\n')) return resolveUp();
          if (child.exitCode !== null) return reject(new Error(`exited early (${child.exitCode}): ${stderr}`));
          setTimeout(check, 20);
        };
        check();
      });
      assert.match(stdout, /^troupe solo@127\.0\.0\.1 up: http=http:\/\/127\.0\.0\.1:\d+ cluster=127\.0\.0\.1:\d+\n$/);
      const port = /http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)![1];
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/health`)).json(), { status: 'ok' });
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      clearTimeout(deadline);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('troupe config', () => {
  it('prints the effective configuration with secrets masked', async () => {
    const run = await troupe(['config', '--cluster-port', '9200'], { NODE_NAME: 'n7@10.0.0.7', COOKIE: 'very-secret', CLUSTER_API_TOKEN: 'tok' });
    assert.equal(run.code, 0, run.stderr);
    const config = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(config.nodeName, 'n7@10.0.0.7');
    assert.equal(config.clusterPort, 9200);
    assert.equal(config.cookie, '***');
    assert.equal(config.apiToken, '***');
    assert.equal(config.tls, null);
    assert.doesNotMatch(run.stdout, /very-secret|"tok"/);
  });

  it('reads the config file, below the environment', async () => {
    const dir = join(workDir, 'with-file');
    mkdirSync(join(dir, 'config'), { recursive: true });
    writeFileSync(join(dir, 'config', 'clustering.json'), JSON.stringify({ port: 4100, clusterName: 'blue' }));
    const run = await troupe(['config'], { PORT: '4200' }, dir);
    assert.equal(run.code, 0, run.stderr);
    const config = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(config.port, 4200);
    assert.equal(config.clusterName, 'blue');
  });
});

describe('usage', () => {
  it('help exits 0 with the usage on stdout', async () => {
    const run = await troupe(['help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^usage: troupe/);
    assert.match(run.stdout, /^ {2}cas TABLE KEY EXPECTED NEW/m);
    assert.match(run.stdout, /Exit status: 0 done, 1 failed \(get: not found\), 2 usage error, 3 cas not\s+applied/);
  });

  it('an unknown command exits 2 with the usage on stderr', async () => {
    const run = await troupe(['frobnicate']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown command "frobnicate"/);
    assert.match(run.stderr, /usage: troupe/);
  });

  it('an unknown option exits 2', async () => {
    assertOneErrorLine(await troupe(['status', '--verbose']), 2, /unknown option '--verbose'/);
  });

  it('join without NODE exits 2', async () => {
    assertOneErrorLine(await troupe(['join']), 2, /join takes one NODE/);
  });
});

describe('client commands', () => {
  let server: RunningHttpServer;
  let node: FakeNode;
  let url: string;
  const TOKEN = 'cli-test-token';

  before(async () => {
    node = new FakeNode();
    const app = createHttpApp(node, { apiToken: TOKEN, metrics: createMetrics(() => node.stats()), log: silentLog });
    server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('status prints the member table', async () => {
    const run = await troupe(['status', '--url', url]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^node n1@127\.0\.0\.1 \(up, generation 1\) in cluster troupe: healthy, 2 of 2 members up$/);
    assert.match(lines[1]!, /^NAME\s+ADDRESS\s+STATE\s+INCARNATION\s+LAST HEARTBEAT\s+LAG$/);
    assert.match(lines[2]!, /^n1@127\.0\.0\.1 \(self\)\s+127\.0\.0\.1:9100\s+up\s+3\s+-\s+2ms$/);
    assert.match(lines[3]!, /^n2@127\.0\.0\.1\s+127\.0\.0\.1:9100\s+up\s+1\s+120ms ago\s+2ms$/);
  });

  it('status --json prints the raw status, found through PORT', async () => {
    const run = await troupe(['status', '--json'], { PORT: String(server.port) });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as NodeStatus).node.name, 'n1@127.0.0.1');
  });

  it('join sends the token and prints the new table', async () => {
    const run = await troupe(['join', 'n3@127.0.0.1:9103', '--url', url], { CLUSTER_API_TOKEN: TOKEN });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^joined n3@127\.0\.0\.1:9103\n/);
    assert.match(run.stdout, /^n3@127\.0\.0\.1\s/m);
  });

  it('a mutation without the token reports the 401 in one line', async () => {
    assertOneErrorLine(await troupe(['leave', '--url', url]), 1, /CLUSTER_API_TOKEN.*HTTP 401 ERR_UNAUTHORIZED/);
  });

  it('remove of an unknown node reports the 404 in one line', async () => {
    node.removeImpl = (name) => {
      throw new UnknownNodeError(name);
    };
    assertOneErrorLine(await troupe(['remove', 'ghost@10.0.0.1', '--url', url], { CLUSTER_API_TOKEN: TOKEN }), 1, /no member named "ghost@10\.0\.0\.1".*HTTP 404 ERR_UNKNOWN_NODE/);
  });

  it('leave prints the node that left', async () => {
    const run = await troupe(['leave', '--url', url], { CLUSTER_API_TOKEN: TOKEN });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^n1@127\.0\.0\.1 left the cluster/);
  });

  it('an unreachable node is one line and exit 1', async () => {
    const closed = await startHttpServer({ fetch: () => new Response('') }, { host: '127.0.0.1', port: 0 });
    const port = closed.port;
    await closed.close();
    assertOneErrorLine(await troupe(['status', '--url', `http://127.0.0.1:${port}`]), 1, /cannot reach a troupe node at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('a malformed --url exits 2', async () => {
    assertOneErrorLine(await troupe(['status', '--url', 'not a url']), 2, /invalid node URL/);
  });
});

describe('table commands', () => {
  let server: RunningHttpServer;
  let url: string;

  before(async () => {
    const node = new FakeTablesNode();
    await node.tables.create('users', { partitions: 1, replicationFactor: 3 });
    await node.tables.put('users', 'ada', { born: 1815 });
    const app = createHttpApp(node, { metrics: createMetrics(() => node.stats()), log: silentLog });
    server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('put then get exit 0 with the value', async () => {
    const put = await troupe(['put', 'users', 'grace', '{"born":1906}', '--url', url]);
    assert.equal(put.code, 0, put.stderr);
    const get = await troupe(['get', 'users', 'grace', '--json', '--url', url]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual((JSON.parse(get.stdout) as { value: unknown }).value, { born: 1906 });
  });

  it('get of an absent key exits 1 saying not found', async () => {
    assertOneErrorLine(await troupe(['get', 'users', 'nobody', '--url', url]), 1, /not found/);
  });

  it('a cas that does not apply exits 3', async () => {
    assertOneErrorLine(await troupe(['cas', 'users', 'ada', 'null', '1', '--url', url]), 3, /cas not applied: ada holds \{"born":1815\}/);
  });

  it('a usage error exits 2', async () => {
    assertOneErrorLine(await troupe(['cas', 'users', 'ada', '--url', url]), 2, /cas takes TABLE KEY EXPECTED NEW/);
  });
});
