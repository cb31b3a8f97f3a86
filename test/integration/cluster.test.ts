/**
 * Three real troupe processes on 127.0.0.1: forming a cluster, failure
 * detection after kill -9, restart as a new generation, graceful leave, a
 * node with the wrong cookie, bad HTTP input, and a crashed system actor.
 * HEARTBEAT_INTERVAL=500, HEARTBEAT_TIMEOUT=2000; deadlines are generous
 * because CI machines are shared — nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, ProcessGroup, stateOf, type TroupeProcess } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const group = new ProcessGroup();

async function allSee(observers: TroupeProcess[], name: string, state: string, timeoutMs: number): Promise<void> {
  for (const observer of observers) {
    await waitFor(async () => (await stateOf(observer, name)) === state, {
      timeoutMs,
      what: `${observer.nodeName} to see ${name} ${state}`,
      abortIf: observer.exitedReason,
    });
  }
}

describe('a three-node cluster', () => {
  let nodes: TroupeProcess[] = [];
  let ports: number[] = [];

  before(async () => {
    ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((port, i) => `n${i + 1}@127.0.0.1:${port}`);
    nodes = ports.map((port, i) => group.start({ name: `n${i + 1}`, clusterPort: port, seeds, env: { TROUPE_TEST_HOOKS: '1' } }));
    await Promise.all(nodes.map((n) => n.ready()));
  });

  after(() => group.cleanup());

  it('forms: every node shows 3 members up', async () => {
    for (const node of nodes) {
      await waitFor(async () => {
        const status = await node.status();
        return status.members.length === 3 && status.members.every((m) => m.state === 'up') && status.healthy;
      }, { timeoutMs: 20_000, what: `${node.nodeName} to show 3 members up`, abortIf: node.exitedReason });
    }
    const report = (await nodes[0]!.request('GET', '/api/cluster/discovery')).json;
    const outcomes = Object.fromEntries(report.candidateReports.map((c: { address: string; outcome: string }) => [c.address, c.outcome]));
    assert.deepEqual(outcomes, { [`127.0.0.1:${ports[0]}`]: 'self', [`127.0.0.1:${ports[1]}`]: 'joined', [`127.0.0.1:${ports[2]}`]: 'joined' });
    assert.deepEqual(report.modes, ['static']);
    const status = await nodes[0]!.status();
    assert.deepEqual(status.discovery.candidates.length, 3);
    for (const member of status.members) {
      assert.match(member.address, /^127\.0\.0\.1:\d+$/);
      assert.equal(typeof member.incarnation, 'number');
    }
  });

  it('rejects bad HTTP input with a 4xx JSON error and keeps serving', async () => {
    const node = nodes[0]!;
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/api/cluster/join', '{not json', 400],
      ['POST', '/api/cluster/join', { nodes: 'x' }, 400],
      ['POST', '/api/cluster/join', { node: 'bad name with spaces' }, 400],
      ['DELETE', '/api/cluster/nodes/nobody@nowhere', undefined, 404],
      ['DELETE', `/api/cluster/nodes/${encodeURIComponent(nodes[1]!.nodeName)}`, undefined, 409],
      ['GET', '/api/cluster/nope', undefined, 404],
      ['PUT', '/api/cluster/status', undefined, 405],
      ['POST', '/api/cluster/join', { node: 'x'.repeat(200_000) }, 413],
    ];
    for (const [method, path, body, expected] of cases) {
      const res = await node.request(method, path, body);
      assert.equal(res.status, expected, `${method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(typeof res.json?.error?.message, 'string', `${method} ${path} has a JSON error`);
    }
    const health = await node.request('GET', '/health');
    assert.deepEqual(health.json, { status: 'ok' });
  });

  it('a crashed membership actor is restarted and the node stays in the cluster', async () => {
    const node = nodes[2]!;
    const res = await node.request('POST', '/debug/crash/membership');
    assert.equal(res.status, 202, res.text);
    await waitFor(async () => (await node.request('GET', '/debug/restarts')).json?.restarts >= 1, {
      timeoutMs: 5000,
      what: 'the supervisor to restart the membership actor',
      abortIf: node.exitedReason,
    });
    await waitFor(async () => {
      const status = await node.status();
      return status.node.state === 'up' && status.members.filter((m) => m.state === 'up').length === 3;
    }, { timeoutMs: 10_000, what: 'the restarted actor to see 3 members up', abortIf: node.exitedReason });
    for (const other of nodes.slice(0, 2)) assert.equal(await stateOf(other, node.nodeName), 'up');
  });

  it('declares a kill -9 node down on every other node, and admits its restart as a new generation', async () => {
    const victim = nodes[1]!;
    const before = await nodes[0]!.status();
    const oldGeneration = before.members.find((m) => m.name === victim.nodeName)!.generation;
    await victim.kill();
    await allSee([nodes[0]!, nodes[2]!], victim.nodeName, 'down', 15_000);

    const restarted = group.start({ ...victim.options, dataDir: victim.dataDir });
    nodes[1] = restarted;
    await restarted.ready();
    await allSee([nodes[0]!, nodes[2]!, restarted], restarted.nodeName, 'up', 20_000);
    const after = await nodes[0]!.status();
    const entry = after.members.filter((m) => m.name === restarted.nodeName);
    assert.equal(entry.length, 1, 'one entry per node name');
    assert.ok(entry[0]!.generation > oldGeneration, `generation ${entry[0]!.generation} > ${oldGeneration}`);
  });

  it('refuses a node with the wrong cookie: it is absent from every member list', async () => {
    const intruderPort = await freePort();
    const intruder = group.start({ name: 'intruder', clusterPort: intruderPort, seeds: nodes.map((n) => n.seed), env: { COOKIE: 'wrong-cookie' } });
    await intruder.ready();
    await waitFor(async () => {
      const metrics = (await nodes[0]!.request('GET', '/metrics')).text;
      return /troupe_link_handshake_failures_total\{reason="bad-cookie"\} [1-9]/.test(metrics);
    }, { timeoutMs: 15_000, what: 'a bad-cookie handshake failure in the metrics of n1' });
    await waitFor(async () => {
      const report = (await intruder.request('GET', '/api/cluster/discovery')).json;
      return report.candidateReports.find((c: { address: string }) => c.address === `127.0.0.1:${nodes[0]!.options.clusterPort}`)?.outcome === 'wrong-cookie';
    }, { timeoutMs: 15_000, what: 'the intruder to report its seed n1 as wrong-cookie' });
    const joinRefused = await intruder.request('POST', '/api/cluster/join', { node: nodes[0]!.seed });
    assert.equal(joinRefused.status, 502, joinRefused.text);
    assert.equal(joinRefused.json?.error?.code, 'ERR_AUTHENTICATION');
    for (const node of [...nodes, intruder]) {
      const status = await node.status();
      const names = status.members.map((m) => m.name);
      if (node === intruder) assert.deepEqual(names, [intruder.nodeName]);
      else assert.ok(!names.includes(intruder.nodeName), `${node.nodeName} lists the intruder`);
    }
    await intruder.kill();
  });

  it('a graceful leave is seen as left, never down', async () => {
    const leaver = nodes[2]!;
    await leaver.terminate();
    assert.equal(leaver.exitCode, 0, leaver.stderr.slice(-2000));
    await allSee([nodes[0]!, nodes[1]!], leaver.nodeName, 'left', 10_000);
    for (const node of [nodes[0]!, nodes[1]!]) {
      assert.ok(!node.stderr.split('\n').some((line) => line.includes('"msg":"member-down"') && line.includes(`"member":"${leaver.nodeName}"`)), `${node.nodeName} logged ${leaver.nodeName} down`);
    }
  });

  it('removes a left member for good, on every node', async () => {
    const gone = 'n3@127.0.0.1';
    const res = await nodes[0]!.request('DELETE', `/api/cluster/nodes/${gone}`);
    assert.equal(res.status, 200, res.text);
    assert.ok(!res.json.members.some((m: { name: string }) => m.name === gone), 'gone from the answer');
    await waitFor(async () => !(await nodes[1]!.status()).members.some((m) => m.name === gone), { timeoutMs: 10_000, what: `n2 to forget ${gone}` });
    const again = await nodes[0]!.request('DELETE', `/api/cluster/nodes/${gone}`);
    assert.equal(again.status, 404, again.text);
  });
});
