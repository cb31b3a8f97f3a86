/**
 * close() leaves nothing of multicast discovery behind: no socket, no timer
 * (unref'd ones included, which `process.getActiveResourcesInfo()` does not
 * list), however often a discovery is started and closed in one process.
 * Its own file, so that no other test's sockets or timers are about.
 *
 * Resources are followed with async_hooks from creation to destruction; a
 * resource counts as ours when the stack that created it runs through this
 * discovery, bonjour-service or multicast-dns. Anything else the process
 * does (the test runner) is left alone.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { MulticastDiscovery } from '../../../discovery/multicast.js';
import { defaultConfig } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';
import { waitFor } from '../../harness/wait-for.js';

const mdnsPort = randomInt(20_000, 60_000);
const cluster = `close-${randomBytes(4).toString('hex')}`;
/** Frames of multicast discovery (compiled), bonjour-service and multicast-dns. */
const DISCOVERY_DIR = new URL('../../../discovery/', import.meta.url).href;
const isOurs = (frame: string) => (frame.includes(DISCOVERY_DIR) && frame.includes('/multicast')) || /[\\/](bonjour-service|multicast-dns)[\\/]/.test(frame);
const FOLLOWED = new Set(['Timeout', 'UDPWRAP']);

function discovery(name: string, port: number): MulticastDiscovery {
  const config = { ...defaultConfig('127.0.0.1'), clusterName: cluster, multicastInterface: '127.0.0.1' };
  const self = { name: `${name}@127.0.0.1`, address: `127.0.0.1:${port}`, host: '127.0.0.1', port, generation: 1 };
  return new MulticastDiscovery({ config, log: createLogger('silent'), self }, { mdnsPort, firstRequeryMs: 50, queryIntervalMs: 200 });
}

/** Resources created by our code and not destroyed yet: type and the frame of ours that made it. */
function follow(): { alive(): string[]; stop(): void } {
  const alive = new Map<number, string>();
  const hook = createHook({
    init(asyncId, type) {
      if (!FOLLOWED.has(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      const frame = stack.split('\n').find(isOurs);
      if (frame) alive.set(asyncId, `${type} ${frame.trim()}`);
    },
    destroy(asyncId) {
      alive.delete(asyncId);
    },
  });
  hook.enable();
  return { alive: () => [...alive.values()], stop: () => hook.disable() };
}

const count = (type: string) => process.getActiveResourcesInfo().filter((t) => t === type).length;

describe('MulticastDiscovery close', () => {
  it('leaves no socket and no timer behind after repeated start and close', async () => {
    const udpBefore = count('UDPWrap');
    const timersBefore = count('Timeout');
    const followed = follow();
    try {
      for (let round = 0; round < 3; round++) {
        const a = discovery('a', 19501);
        const b = discovery('b', 19502);
        await Promise.all([a.start(), b.start()]);
        // Announcements, answers and re-queries all ran before the close.
        await waitFor(() => a.candidates().length === 1 && b.candidates().length === 1, { timeoutMs: 5000, what: `a and b to find each other (round ${round})` });
        await waitFor(() => a.state().queries >= 3, { timeoutMs: 5000, what: 'a few re-queries' });
        await Promise.all([a.close(), b.close()]);
      }
      // Handles close asynchronously: give destroy hooks a moment.
      await waitFor(() => followed.alive().length === 0, { timeoutMs: 2000, what: 'every socket and timer of ours to be gone', intervalMs: 20 }).catch(() => {});
      assert.deepEqual(followed.alive(), [], 'sockets or timers created by multicast discovery outlive close()');
      assert.ok(count('UDPWrap') <= udpBefore, `UDP sockets: ${udpBefore} before, ${count('UDPWrap')} after`);
      assert.ok(count('Timeout') <= timersBefore, `timers: ${timersBefore} before, ${count('Timeout')} after`);
    } finally {
      followed.stop();
    }
  });
});
