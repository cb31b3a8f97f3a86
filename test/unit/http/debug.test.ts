import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpApp } from '../../../lib/http/app.js';
import { UnknownNodeError } from '../../../lib/errors.js';
import { createMetrics } from '../../../lib/metrics.js';
import { FakeNode, LOOPBACK, REMOTE, silentLog } from './fake-node.js';
import { errorOf, jsonInit, makeApp } from './helpers.js';

function appWithHooks() {
  const node = new FakeNode();
  const blocked: number[] = [];
  const crashed: string[] = [];
  const hooks = {
    block: (ms: number) => void blocked.push(ms),
    crash: (actor: string) => {
      if (actor !== 'membership') throw new UnknownNodeError(actor);
      crashed.push(actor);
    },
    restarts: () => crashed.length,
  };
  const app = createHttpApp(node, { metrics: createMetrics(() => node.stats()), log: silentLog, debug: hooks });
  return { app, blocked, crashed };
}

describe('/debug hooks', () => {
  it('do not exist unless enabled', async () => {
    const { app } = makeApp();
    assert.equal((await app.request('/debug/restarts')).status, 404);
  });

  it('block answers 202 and then blocks', async () => {
    const { app, blocked } = appWithHooks();
    const res = await app.request('/debug/block', jsonInit('POST', { ms: 5 }), LOOPBACK);
    assert.equal(res.status, 202);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(blocked, [5]);
  });

  it('block validates its body', async () => {
    const { app, blocked } = appWithHooks();
    const res = await app.request('/debug/block', jsonInit('POST', { ms: 'long' }), LOOPBACK);
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /field "ms"/);
    assert.deepEqual(blocked, []);
  });

  it('crash and restarts', async () => {
    const { app } = appWithHooks();
    assert.equal((await app.request('/debug/crash/membership', { method: 'POST' }, LOOPBACK)).status, 202);
    assert.equal((await app.request('/debug/crash/nobody', { method: 'POST' }, LOOPBACK)).status, 404);
    assert.deepEqual(await (await app.request('/debug/restarts')).json(), { restarts: 1 });
  });

  it('mutating hooks pass the operator guard', async () => {
    const { app, crashed } = appWithHooks();
    assert.equal((await app.request('/debug/crash/membership', { method: 'POST' }, REMOTE)).status, 403);
    assert.deepEqual(crashed, []);
  });
});
