import { strict as assert } from 'node:assert';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { ConflictError, QueueFullError, TimeoutError, TroupeError } from '../../lib/errors.js';
import { SeededRandom } from '../../lib/protocol/random.js';
import { NotLeaderError } from '../../lib/protocol/raft/errors.js';
import { RemoteError, Rpc, RPC_CHANNEL } from '../../lib/rpc/rpc.js';
import { createMemoryTransport, MemoryHub } from '../../lib/transport/memory-transport.js';
import type { Transport } from '../../lib/transport/transport.js';

const started: Transport[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

async function pair(options: { maxInFlight?: number } = {}): Promise<{ a: Rpc; b: Rpc; aAddress: string; bAddress: string; bTransport: Transport }> {
  const hub = new MemoryHub();
  const make = (name: string) => {
    const transport = createMemoryTransport(hub, {
      self: { name, generation: 1 },
      advertisedAddress: 'mem:0',
      bindHost: 'mem',
      port: 0,
      clusterName: 'rpc',
      cookie: 'rpc-cookie',
      random: new SeededRandom(name.length),
      log: pino({ level: 'silent' }),
    });
    started.push(transport);
    return transport;
  };
  const ta = make('a');
  const tb = make('b');
  const [{ address: aAddress }, { address: bAddress }] = await Promise.all([ta.start(), tb.start()]);
  return { a: new Rpc(ta, options.maxInFlight), b: new Rpc(tb), aAddress, bAddress, bTransport: tb };
}

describe('Rpc', () => {
  it('calls a method on the other node and returns its result', async () => {
    const { a, b, bAddress } = await pair();
    b.handle('add', (arg, from) => ({ sum: (arg as number[]).reduce((x, y) => x + y, 0), caller: from.name }));
    assert.deepEqual(await a.call(bAddress, 'add', [1, 2, 3]), { sum: 6, caller: 'a' });
  });

  it('carries a typed error of the handler back as a RemoteError with its code', async () => {
    const { a, b, bAddress } = await pair();
    b.handle('fail', () => {
      throw new ConflictError('not now');
    });
    await assert.rejects(a.call(bAddress, 'fail', null), (err: unknown) => err instanceof RemoteError && err.code === 'ERR_CONFLICT' && /b: not now/.test(err.message));
  });

  it('carries a NotLeaderError\'s leader hint and retryability to the caller', async () => {
    const { a, b, bAddress } = await pair();
    b.handle('propose', () => {
      throw new NotLeaderError('t1/p3', 'n2@127.0.0.1', 7);
    });
    await assert.rejects(a.call(bAddress, 'propose', null), (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.code, 'ERR_NOT_LEADER');
      assert.equal(err.retryable, true);
      assert.deepEqual(err.data, { group: 't1/p3', leaderHint: 'n2@127.0.0.1', term: 7 });
      return true;
    });
  });

  it('answers an unknown method with ERR_NOT_FOUND', async () => {
    const { a, bAddress } = await pair();
    await assert.rejects(a.call(bAddress, 'nope', null), (err: unknown) => err instanceof RemoteError && err.code === 'ERR_NOT_FOUND');
  });

  it('ends a call that gets no reply by its deadline, and counts the late reply', async () => {
    const { a, b, bAddress } = await pair();
    let release: () => void = () => {};
    b.handle('slow', () => new Promise<string>((resolve) => (release = () => resolve('late'))));
    await assert.rejects(a.call(bAddress, 'slow', null, { timeoutMs: 50 }), TimeoutError);
    release();
    await waitUntil(() => a.stats.repliesLate === 1);
  });

  it('ends a call when its signal aborts', async () => {
    const { a, b, bAddress } = await pair();
    b.handle('never', () => new Promise(() => {}));
    const controller = new AbortController();
    const call = a.call(bAddress, 'never', null, { signal: controller.signal, timeoutMs: 10_000 });
    controller.abort();
    await assert.rejects(call, (err: unknown) => err instanceof TroupeError && err.code === 'ERR_ABORTED');
  });

  it('fails pending calls at once when the link to the peer goes down', async () => {
    const { a, b, bAddress, bTransport } = await pair();
    b.handle('hang', () => new Promise(() => {}));
    const outcome = a.call(bAddress, 'hang', null, { timeoutMs: 10_000 }).then(() => null, (err: unknown) => err);
    await waitUntil(() => b.stats.callsReceived === 1);
    await bTransport.stop();
    const err = await outcome;
    assert.ok(err instanceof TroupeError && err.code === 'ERR_LINK_CLOSED', String(err));
  });

  it('aborts the signal of a call being served when the caller\'s link goes down', async () => {
    const { a, b, bAddress, bTransport } = await pair();
    let served: AbortSignal | undefined;
    b.handle('hang', (_arg, _from, signal) => {
      served = signal;
      return new Promise(() => {});
    });
    void a.call(bAddress, 'hang', null, { timeoutMs: 10_000 }).catch(() => {});
    await waitUntil(() => served !== undefined);
    assert.equal(served!.aborted, false, 'not aborted while the caller is linked');
    await bTransport.stop();
    await waitUntil(() => served!.aborted);
  });

  it('serves a caller\'s concurrent calls with one signal; their listeners leave no warning behind', async () => {
    const { a, b, bAddress } = await pair();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    const signals = new Set<AbortSignal>();
    b.handle('wait', (_arg, _from, signal) => new Promise((resolve) => {
      signals.add(signal);
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve('done');
      };
      signal.addEventListener('abort', done, { once: true }); // as the raft and tables handlers do
      setTimeout(done, 20);
    }));
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => a.call(bAddress, 'wait', null, { timeoutMs: 5_000 })));
      assert.deepEqual(new Set(answers), new Set(['done']));
      assert.equal(signals.size, 1, 'one signal for every call of the link');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((w) => /listener/i.test(w)), []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('bounds the calls in flight per peer', async () => {
    const { a, b, bAddress } = await pair({ maxInFlight: 2 });
    b.handle('hang', () => new Promise(() => {}));
    const pending = [a.call(bAddress, 'hang', 1, { timeoutMs: 200 }), a.call(bAddress, 'hang', 2, { timeoutMs: 200 })];
    await assert.rejects(a.call(bAddress, 'hang', 3), QueueFullError);
    await Promise.allSettled(pending);
    b.handle('ok', () => 'fine');
    assert.equal(await a.call(bAddress, 'ok', null), 'fine', 'settled calls free their slots');
  });

  it('drops and counts malformed frames without answering', async () => {
    const { b, aAddress, bAddress } = await pair();
    const sender = started[0]!;
    sender.send(bAddress, RPC_CHANNEL, 'garbage');
    sender.send(bAddress, RPC_CHANNEL, { t: 'call', id: 42 });
    await waitUntil(() => b.stats.malformed === 2);
    assert.ok(aAddress);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
