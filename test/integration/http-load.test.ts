/**
 * Load is not death: 200 keep-alive HTTP clients alternate
 * `GET /api/cluster/status` and `GET /metrics` on one node of three for 30 s
 * (from a separate process), and the other two must never declare it down.
 * The loaded node must keep serving: 200s, and any 503 must carry
 * Retry-After.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runHttpLoad } from '../harness/http-load.js';
import { freePort, ProcessGroup, type TroupeProcess, waitAllUp } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const HEARTBEAT_INTERVAL = 500;
const HEARTBEAT_TIMEOUT = 2000;
const CLIENTS = 200;
const LOAD_MS = 30_000;
/** How often the observers' views are sampled during the load, ms. */
const SAMPLE_EVERY_MS = 100;

/**
 * Counts, from now on, the lines of `observer`'s log that report `event` about `member`. Reads the
 * stream itself: the harness keeps only the tail of stderr.
 */
function countLogged(observer: TroupeProcess, event: string, member: string): () => number {
  let count = 0;
  let partial = '';
  observer.child.stderr!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.includes(`"msg":"${event}"`) && line.includes(`"member":"${member}"`)) count++;
  });
  return () => count;
}

describe(`${CLIENTS} HTTP clients on one node for ${LOAD_MS / 1000} s`, () => {
  const group = new ProcessGroup();
  let nodes: TroupeProcess[] = [];

  before(async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((port, i) => `l${i + 1}@127.0.0.1:${port}`);
    const env = { HEARTBEAT_INTERVAL: String(HEARTBEAT_INTERVAL), HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT) };
    nodes = ports.map((port, i) => group.start({ name: `l${i + 1}`, clusterPort: port, seeds, env }));
    await Promise.all(nodes.map((n) => n.ready()));
    await waitAllUp(nodes);
  });

  after(() => group.cleanup());

  it('is never declared down, and answers every request with a 200 or a 503 with Retry-After', async (t) => {
    const loaded = nodes[0]!;
    const observers = nodes.slice(1);
    const downCounts = observers.map((o) => countLogged(o, 'member-down', loaded.nodeName));
    const suspectCounts = observers.map((o) => countLogged(o, 'member-suspect', loaded.nodeName));
    const load = runHttpLoad({ url: loaded.url, paths: ['/api/cluster/status', '/metrics'], clients: CLIENTS, durationMs: LOAD_MS });
    let loadDone = false;
    void load.finally(() => (loadDone = true)).catch(() => {});

    // The observers' views of the loaded node, sampled while the load runs.
    const seen = new Map<string, number>();
    while (!loadDone) {
      for (const observer of observers) {
        const state = (await observer.status()).members.find((m) => m.name === loaded.nodeName)?.state ?? 'missing';
        seen.set(state, (seen.get(state) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    }
    const summary = await load;

    assert.equal(loaded.exitedReason(), undefined, 'the loaded node is still running');
    const downs = downCounts.map((count) => count());
    const suspects = suspectCounts.map((count) => count());
    t.diagnostic(`load: ${JSON.stringify(summary)}`);
    t.diagnostic(`observer samples of ${loaded.nodeName}: ${JSON.stringify(Object.fromEntries(seen))}; member-down logged ${downs.join('+')}, member-suspect ${suspects.join('+')}`);

    assert.deepEqual(downs, [0, 0], `observers logged ${loaded.nodeName} down`);
    assert.ok(!seen.has('down') && !seen.has('missing'), `observer samples: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.ok((summary.byStatus['200'] ?? 0) > 0, `no request succeeded: ${JSON.stringify(summary.byStatus)}`);
    const other = Object.keys(summary.byStatus).filter((s) => s !== '200' && s !== '503');
    assert.deepEqual(other, [], `statuses other than 200 and 503: ${JSON.stringify(summary.byStatus)}`);
    assert.equal(summary.unavailableWithoutRetryAfter, 0, 'every 503 carries Retry-After');
    assert.equal(summary.errors, 0, `requests failed below HTTP: ${summary.firstError}`);

    // After the load the loaded node is up everywhere, itself included.
    for (const node of nodes) {
      await waitFor(async () => (await node.status()).members.every((m) => m.state === 'up'), { timeoutMs: 10_000, what: `${node.nodeName} to see every member up after the load` });
    }
  });
});
