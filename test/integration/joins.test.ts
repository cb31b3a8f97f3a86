/**
 * Joins that must fail say why, with the same words from the HTTP API, the
 * CLI and cluster.sh (non-zero exit): the node itself, a name nobody has, a
 * refused connection (by the transport's event, not a timeout), a wrong
 * cookie, another cluster name, an HTTP port. And a seed named without a port
 * follows its node when it restarts on another port.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { httpRequest } from '../harness/http.js';
import { ScriptSandbox } from '../harness/script-sandbox.js';
import { waitFor } from '../harness/wait-for.js';

let box: ScriptSandbox;
before(async () => {
  box = new ScriptSandbox();
  await box.ok('PORT=4000 NODE_NAME=hex_hub1 ./scripts/cluster.sh start');
  await box.ok('PORT=4001 NODE_NAME=hex_hub2 ./scripts/cluster.sh start');
});
after(async () => box.cleanup());

async function apiJoin(port: number, node: string): Promise<{ status: number; code: string | undefined; message: string }> {
  const res = await httpRequest('POST', `http://127.0.0.1:${port}/api/cluster/join`, JSON.stringify({ node }), { 'Content-Type': 'application/json' });
  const body = JSON.parse(res.text) as { error?: { code: string; message: string } };
  return { status: res.status, code: body.error?.code, message: body.error?.message ?? '' };
}

describe('joins that must fail, and why', () => {
  const cases: Array<{ what: string; target: string; status: number; code: string; words: RegExp }> = [
    { what: 'the node itself, by name', target: 'hex_hub1@127.0.0.1', status: 409, code: 'ERR_CONFLICT', words: /is this node itself/ },
    { what: 'the node itself, by its port', target: 'hex_hub1@127.0.0.1:9100', status: 409, code: 'ERR_CONFLICT', words: /is this node itself/ },
    { what: 'a name nobody has', target: 'nobody@127.0.0.1', status: 404, code: 'ERR_NODE_NOT_FOUND', words: /no node named nobody on 127\.0\.0\.1 ports 9100-9155 \(found: hex_hub1@127\.0\.0\.1, hex_hub2@127\.0\.0\.1\)/ },
    { what: 'a refused connection', target: 'hex_hub9@127.0.0.1:9150', status: 502, code: 'ERR_UNREACHABLE', words: /cannot reach .*127\.0\.0\.1:9150.*ECONNREFUSED/ },
    { what: 'an HTTP port', target: 'hex_hub2@127.0.0.1:4001', status: 502, code: 'ERR_NOT_A_NODE', words: /is not a troupe cluster port/ },
    { what: 'a host that does not resolve', target: 'hex_hub2@no-such-host.invalid', status: 502, code: 'ERR_UNREACHABLE', words: /ENOTFOUND|EAI_AGAIN/ },
  ];
  for (const c of cases) {
    it(`${c.what}: HTTP ${c.status} ${c.code}, and cluster.sh exits non-zero with the same words`, async () => {
      const answer = await apiJoin(4000, c.target);
      assert.equal(answer.status, c.status, answer.message);
      assert.equal(answer.code, c.code, answer.message);
      assert.match(answer.message, c.words);
      const run = await box.sh(`PORT=4000 ./scripts/cluster.sh join ${c.target}`);
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stderr, c.words);
      assert.match(run.stderr, new RegExp(c.code));
      assert.doesNotMatch(run.stdout, /joined/);
    });
  }

  it('a node with another cookie: 502 ERR_AUTHENTICATION, never a member on either side', async () => {
    await box.ok('PORT=4002 NODE_NAME=stranger COOKIE=another-cookie ./scripts/cluster.sh start');
    const answer = await apiJoin(4000, 'stranger@127.0.0.1');
    assert.equal(answer.status, 502, answer.message);
    assert.equal(answer.code, 'ERR_AUTHENTICATION');
    assert.match(answer.message, /COOKIE/);
    const run = await box.sh('PORT=4002 ./scripts/cluster.sh join hex_hub1@127.0.0.1');
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /ERR_AUTHENTICATION/);
    const status = JSON.parse((await httpRequest('GET', 'http://127.0.0.1:4000/api/cluster/status')).text) as { members: Array<{ name: string }> };
    assert.ok(!status.members.some((m) => m.name.startsWith('stranger')), 'the stranger is no member');
    await box.ok('PORT=4002 ./scripts/cluster.sh stop');
  });

  it('a node of another CLUSTER_NAME: 502 ERR_CLUSTER_NAME, from the scan, before any dial', async () => {
    await box.ok('PORT=4003 NODE_NAME=elsewhere CLUSTER_NAME=other ./scripts/cluster.sh start');
    const answer = await apiJoin(4000, 'elsewhere@127.0.0.1');
    assert.equal(answer.status, 502, answer.message);
    assert.equal(answer.code, 'ERR_CLUSTER_NAME');
    await box.ok('PORT=4003 ./scripts/cluster.sh stop');
  });

  it('remove says what happened: unknown 404, an up member 409', async () => {
    const unknown = await httpRequest('DELETE', 'http://127.0.0.1:4000/api/cluster/nodes/ghost%40127.0.0.1');
    assert.equal(unknown.status, 404);
    const joined = await apiJoin(4001, 'hex_hub1@127.0.0.1');
    assert.equal(joined.status, 200, joined.message);
    const up = await httpRequest('DELETE', 'http://127.0.0.1:4000/api/cluster/nodes/hex_hub2%40127.0.0.1');
    assert.equal(up.status, 409, up.text);
  });
});

describe('a seed without a port follows its node to another port', () => {
  it('hex_hub1 killed, 9100 taken by another node, hex_hub1 restarted on 9102: hex_hub3 (CLUSTER_NODES=hex_hub1@127.0.0.1) finds it there', async () => {
    const env = 'HEARTBEAT_INTERVAL=500 HEARTBEAT_TIMEOUT=2000';
    await box.ok(`${env} PORT=4010 NODE_NAME=hex_hub3 CLUSTER_NODES=hex_hub1@127.0.0.1 ./scripts/cluster.sh start`);
    const hub1At = async (port: number) => {
      const status = JSON.parse((await httpRequest('GET', `http://127.0.0.1:${port}/api/cluster/status`)).text) as { members: Array<{ name: string; address: string; state: string }> };
      return status.members.find((m) => m.name === 'hex_hub1@127.0.0.1');
    };
    await waitFor(async () => (await hub1At(4010))?.state === 'up', { timeoutMs: 15_000, what: 'hex_hub3 to join hex_hub1 through its seed' });

    process.kill(box.pids().get('hex_hub1@127.0.0.1')!, 'SIGKILL');
    await box.ok('PORT=4011 NODE_NAME=squatter ./scripts/cluster.sh start'); // takes the freed 9100
    await box.ok('PORT=4000 NODE_NAME=hex_hub1 ./scripts/cluster.sh start');
    const restarted = await hub1At(4000);
    assert.notEqual(restarted?.address, '127.0.0.1:9100', 'hex_hub1 came back on another port');
    await waitFor(async () => {
      const seen = await hub1At(4010);
      return seen?.state === 'up' && seen.address === restarted?.address;
    }, { timeoutMs: 30_000, what: `hex_hub3 to see hex_hub1 up at ${restarted?.address}` });
  });
});
