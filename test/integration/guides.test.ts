/**
 * The HexHub clustering guide's quick start, typed as the guide prints it:
 * only PORT and NODE_NAME set, no inter-node port anywhere, bare
 * `hex_hub1@127.0.0.1` joins — by script (Option A, the same join line typed
 * in each node's terminal) and by curl (Option B) — plus a single node with no
 * variables at all, status, leave and Daptin's `GET /health`.
 *
 * The commands use the guide's fixed ports: HTTP 4000-4004, and the first
 * ports of the cluster range 9100-9155. Each test runs in its own sandbox
 * (test/harness/script-sandbox.ts) and kills every node it started.
 */
import { strict as assert } from 'node:assert';
import { afterEach, describe, it } from 'node:test';
import { httpRequest } from '../harness/http.js';
import { ScriptSandbox } from '../harness/script-sandbox.js';
import { CLI } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

interface Member {
  name: string;
  address: string;
  state: string;
}

let sandbox: ScriptSandbox | undefined;
afterEach(async () => {
  await sandbox?.cleanup();
  sandbox = undefined;
});

async function status(port: number): Promise<{ node: { name: string; clusterPort: number; state: string }; members: Member[] }> {
  const res = await httpRequest('GET', `http://127.0.0.1:${port}/api/cluster/status`);
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text);
}

async function postJoin(port: number, node: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const res = await httpRequest('POST', `http://127.0.0.1:${port}/api/cluster/join`, JSON.stringify({ node }), { 'Content-Type': 'application/json' });
  return { status: res.status, body: JSON.parse(res.text) };
}

/** Every node at `ports` lists exactly `names`, all up: at once for the two ends of a join, by gossip (a few HEARTBEAT_INTERVALs, 5 s by default) for the others. */
async function allUp(ports: number[], names: string[]): Promise<void> {
  const expected = [...names].sort().map((name) => `${name}=up`).join(' ');
  for (const port of ports) {
    const seen = async () => (await status(port)).members.map((m) => `${m.name}=${m.state}`).sort().join(' ');
    await waitFor(async () => (await seen()) === expected, { timeoutMs: 30_000, what: `the node at HTTP ${port} to list ${expected}` });
  }
}

const HUBS = ['hex_hub1@127.0.0.1', 'hex_hub2@127.0.0.1', 'hex_hub3@127.0.0.1'];

async function startThreeHubs(box: ScriptSandbox, prefix = ''): Promise<void> {
  await box.ok(`${prefix}PORT=4000 NODE_NAME=hex_hub1 ./scripts/cluster.sh start`);
  await box.ok(`${prefix}PORT=4001 NODE_NAME=hex_hub2 ./scripts/cluster.sh start`);
  await box.ok(`${prefix}PORT=4002 NODE_NAME=hex_hub3 ./scripts/cluster.sh start`);
}

describe('HexHub quick start, verbatim', () => {
  it('Option A: three nodes with only PORT and NODE_NAME take 9100, 9101, 9102; the guide\'s join line, typed in two terminals, forms one cluster', async () => {
    const box = (sandbox = new ScriptSandbox());
    await startThreeHubs(box);
    assert.deepEqual(await Promise.all([4000, 4001, 4002].map(async (p) => (await status(p)).node.clusterPort)), [9100, 9101, 9102]);
    const config = JSON.parse((await box.ok(`NODE_NAME=hex_hub2@127.0.0.1 node ${CLI} config`)).stdout) as { clusterPort: number | null; running: { clusterPort: number } | null };
    assert.equal(config.clusterPort, null, 'not set');
    assert.equal(config.running?.clusterPort, 9101, 'troupe config shows the port the running node took');

    // "From hex_hub2 node" and "From hex_hub3 node": the same line, with nothing else set.
    const first = await box.ok('./scripts/cluster.sh join hex_hub1@127.0.0.1');
    assert.match(first.stdout, /joined hex_hub1@127\.0\.0\.1/);
    await box.ok('./scripts/cluster.sh join hex_hub1@127.0.0.1');
    await allUp([4000, 4001, 4002], HUBS);

    const view = await box.ok('./scripts/cluster.sh status');
    assert.match(view.stdout, /3 of 3 members up/);
  });

  it('Option A with PORT given: exactly that node joins; a fourth joins through the API with a bare name; a second hex_hub2 is refused', async () => {
    const box = (sandbox = new ScriptSandbox());
    await startThreeHubs(box);
    const joined = await box.ok('PORT=4001 ./scripts/cluster.sh join hex_hub1@127.0.0.1');
    assert.match(joined.stdout, /joined hex_hub1@127\.0\.0\.1/);
    await allUp([4000, 4001], HUBS.slice(0, 2));
    assert.deepEqual((await status(4002)).members.map((m) => m.name), ['hex_hub3@127.0.0.1'], 'hex_hub3 was not asked to join');
    await box.ok('PORT=4002 ./scripts/cluster.sh join hex_hub1@127.0.0.1');

    await box.ok('PORT=4003 NODE_NAME=hex_hub4 ./scripts/cluster.sh start');
    const answer = await postJoin(4003, 'hex_hub2@127.0.0.1');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await allUp([4000, 4001, 4002, 4003], [...HUBS, 'hex_hub4@127.0.0.1']);

    // Another hex_hub2 on this host, in another directory: refused with one clear line, nothing started.
    const twin = await box.sh(`cd /tmp && PORT=4004 NODE_NAME=hex_hub2@127.0.0.1 CLUSTERING_ENABLED=true DATA_DIR=${box.root}/twin node ${CLI} start`);
    assert.notEqual(twin.code, 0);
    assert.match(twin.stderr, /NODE_NAME hex_hub2@127\.0\.0\.1 is already used by a running node at 127\.0\.0\.1:9101/);
    assert.equal((await status(4001)).members.length, 4, 'the cluster is untouched');
  });

  it('Option B: nodes started with a cookie, joined by curl with bare name@127.0.0.1', async () => {
    const box = (sandbox = new ScriptSandbox());
    await startThreeHubs(box, 'COOKIE=hex_hub_cluster ');
    // curl -X POST http://localhost:4001/api/cluster/join -H "Content-Type: application/json" -d '{"node": "hex_hub1@127.0.0.1"}'
    for (const port of [4001, 4002]) {
      const run = await box.ok(`curl -sS -X POST http://localhost:${port}/api/cluster/join -H "Content-Type: application/json" -d '{"node": "hex_hub1@127.0.0.1"}' -w '\\n%{http_code}'`);
      assert.equal(run.stdout.trim().split('\n').at(-1), '200', run.stdout);
    }
    await allUp([4000, 4001, 4002], HUBS);
  });

  it('a single development node with no variables at all; status, leave, GET /health', async () => {
    const box = (sandbox = new ScriptSandbox());
    const started = await box.ok('./scripts/cluster.sh start');
    assert.match(started.stdout, /troupe@127\.0\.0\.1 up .*http:\/\/127\.0\.0\.1:4000/);
    const view = await box.ok('./scripts/cluster.sh status');
    assert.match(view.stdout, /1 of 1 members up/);
    const health = await httpRequest('GET', 'http://127.0.0.1:4000/health');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.text), { status: 'ok' });
    const left = await box.ok('./scripts/cluster.sh leave');
    assert.match(left.stdout, /left the cluster/);
    assert.equal((await status(4000)).node.state, 'left');
    await box.ok('./scripts/cluster.sh stop');
  });

  it('leave answers after the others saw it: they list the node left at once', async () => {
    const box = (sandbox = new ScriptSandbox());
    await startThreeHubs(box);
    await box.ok('./scripts/cluster.sh join hex_hub1@127.0.0.1');
    await allUp([4000, 4001, 4002], HUBS);
    await box.ok('PORT=4002 ./scripts/cluster.sh leave');
    for (const port of [4000, 4001]) {
      const hub3 = (await status(port)).members.find((m) => m.name === 'hex_hub3@127.0.0.1');
      assert.equal(hub3?.state, 'left', `hex_hub3 as seen at HTTP ${port} right after leave answered`);
    }
  });
});
