/**
 * A busy node is slow, not dead: one node blocks its event loop for
 * HEARTBEAT_TIMEOUT / 2 several times (a CPU-bound task, through the test
 * hook), and the other nodes must never declare it down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, ProcessGroup, stateOf, type TroupeProcess, waitAllUp } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const HEARTBEAT_INTERVAL = 500;
const HEARTBEAT_TIMEOUT = 2000;
const BLOCKS = 5;

describe('a node whose event loop is blocked for HEARTBEAT_TIMEOUT / 2', () => {
  const group = new ProcessGroup();
  let nodes: TroupeProcess[] = [];

  before(async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((port, i) => `b${i + 1}@127.0.0.1:${port}`);
    const env = { HEARTBEAT_INTERVAL: String(HEARTBEAT_INTERVAL), HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT), TROUPE_TEST_HOOKS: '1' };
    nodes = ports.map((port, i) => group.start({ name: `b${i + 1}`, clusterPort: port, seeds, env }));
    await Promise.all(nodes.map((n) => n.ready()));
    await waitAllUp(nodes);
  });

  after(() => group.cleanup());

  it('is never declared down by the others', async (t) => {
    const busy = nodes[0]!;
    const observers = nodes.slice(1);
    const seen = new Set<string>();
    for (let i = 0; i < BLOCKS; i++) {
      const res = await busy.request('POST', '/debug/block', { ms: HEARTBEAT_TIMEOUT / 2 });
      assert.equal(res.status, 202, res.text);
      // While it is blocked, and after, record every state the observers report for it.
      const until = performance.now() + HEARTBEAT_TIMEOUT;
      while (performance.now() < until) {
        for (const observer of observers) seen.add((await stateOf(observer, busy.nodeName)) ?? 'missing');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await waitFor(async () => {
        for (const observer of observers) if ((await stateOf(observer, busy.nodeName)) !== 'up') return false;
        return true;
      }, { timeoutMs: 10_000, what: `observers to see ${busy.nodeName} up after block ${i + 1}` });
    }
    t.diagnostic(`states the observers reported for ${busy.nodeName}: ${[...seen].sort().join(', ')}`);
    assert.ok(!seen.has('down'), `states seen: ${[...seen].join(', ')}`);
    assert.ok(!seen.has('missing'), `states seen: ${[...seen].join(', ')}`);
    for (const observer of observers) {
      assert.ok(!observer.stderr.split('\n').some((line) => line.includes('"msg":"member-down"') && line.includes(busy.nodeName)), `${observer.nodeName} logged ${busy.nodeName} down`);
    }
    const lagReported = (await observers[0]!.status()).members.find((m) => m.name === busy.nodeName);
    t.diagnostic(`last lag ${busy.nodeName} reported to ${observers[0]!.nodeName}: ${JSON.stringify(lagReported)}`);
  });
});
