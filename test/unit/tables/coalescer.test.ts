/**
 * The coalescer of a partition's requests, against a fake `send` the test
 * settles by hand: what one turn batches together, Nagle's rule and the
 * hold, the key and size limits of a batch, batch failures, and the
 * per-caller deadlines and signals. Timeouts here are only deadlines for
 * waiting; nothing asserts a duration.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError, TimeoutError } from '../../../lib/errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, type RequestOptions } from '../../../lib/raft/requests.js';
import { Coalescer, type CoalescedRequest, type CoalescerOptions } from '../../../lib/tables/coalescer.js';
import { waitFor } from '../../harness/wait-for.js';

/** A hold no test waits for: whatever is sent was sent by the rule under test, not by the hold. */
const NO_HOLD = 60_000;
const WAIT_MS = 5_000;

/** One call of the fake send, settled by the test. */
interface Call {
  items: string[];
  options: RequestOptions;
  resolve(results: string[]): void;
  reject(err: unknown): void;
}

/** A coalescer of strings whose batches are recorded in `calls`, each settled by hand. */
function setup(opts: Partial<CoalescerOptions<string, string>> = {}): { c: Coalescer<string, string>; calls: Call[] } {
  const calls: Call[] = [];
  const send = (items: string[], options: RequestOptions): Promise<string[]> =>
    new Promise<string[]>((resolve, reject) => calls.push({ items, options, resolve, reject }));
  return { c: new Coalescer<string, string>({ send, what: 'test request', isWrite: false, maxHoldMs: NO_HOLD, ...opts }), calls };
}

/** Answers a batch with each item in upper case. */
const answer = (call: Call | undefined): void => {
  assert.ok(call, 'the batch was sent');
  call.resolve(call.items.map((i) => i.toUpperCase()));
};

const req = (item: string, keys: string[] = [], bytes = 1): CoalescedRequest<string> => ({ item, bytes, keys });

/** Waits until `n` batches were sent (a deadline, not a delay). */
const sent = (calls: Call[], n: number): Promise<true> =>
  waitFor(() => calls.length >= n || undefined, { timeoutMs: WAIT_MS, what: `${n} batch(es) to be sent (sent: ${calls.length})`, intervalMs: 1 });

/** Lets the current turn end: the coalescer's end-of-turn flush, queued before this, has run. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A promise whose outcome can be inspected without awaiting it. */
class Tracked<T> {
  state: 'pending' | 'resolved' | 'rejected' = 'pending';
  value: T | undefined;
  error: unknown;
  readonly done: Promise<void>;
  constructor(p: Promise<T>) {
    this.done = p.then(
      (v) => {
        this.state = 'resolved';
        this.value = v;
      },
      (e: unknown) => {
        this.state = 'rejected';
        this.error = e;
      },
    );
  }
}
const track = <T>(p: Promise<T>): Tracked<T> => new Tracked(p);

describe('coalescer: batching', () => {
  it('sends the requests of one turn as one batch; each caller gets its own result, in order', async () => {
    const { c, calls } = setup();
    const ps = ['a', 'b', 'c', 'd'].map((x) => c.submit(req(x, [x])));
    await sent(calls, 1);
    assert.deepEqual(calls[0]!.items, ['a', 'b', 'c', 'd']);
    calls[0]!.resolve(['result a', 'result b', 'result c', 'result d']);
    assert.deepEqual(await Promise.all(ps), ['result a', 'result b', 'result c', 'result d']);
    await nextTurn();
    assert.equal(calls.length, 1, 'nothing else was sent');
    assert.deepEqual(c.stats, { requests: 4, batches: 1 });
  });

  it('sends a lone request at the end of its turn when nothing is in flight, without waiting for the hold', async () => {
    const { c, calls } = setup();
    const p = c.submit(req('solo'));
    assert.equal(calls.length, 0, 'not sent within submit: later requests of the turn may join');
    await nextTurn();
    assert.equal(calls.length, 1, 'sent at the end of the turn');
    assert.deepEqual(calls[0]!.items, ['solo']);
    answer(calls[0]);
    assert.equal(await p, 'SOLO');

    // Again once the first has finished: nothing in flight, so no wait.
    const q = c.submit(req('again'));
    await nextTurn();
    assert.equal(calls.length, 2);
    answer(calls[1]);
    assert.equal(await q, 'AGAIN');
  });

  it("Nagle's rule: while a batch is in flight, later requests wait and go together when it succeeds or fails", async () => {
    const { c, calls } = setup();
    const a = track(c.submit(req('a')));
    await sent(calls, 1);
    // Three requests in three later turns, all while `a` is in flight.
    const held: Tracked<string>[] = [];
    for (const x of ['b', 'c', 'd']) {
      held.push(track(c.submit(req(x))));
      await nextTurn();
      await nextTurn();
    }
    assert.equal(calls.length, 1, 'nothing more is sent while a batch is in flight');
    assert.deepEqual(held.map((t) => t.state), ['pending', 'pending', 'pending']);

    answer(calls[0]);
    await a.done;
    assert.equal(a.value, 'A');
    await sent(calls, 2);
    assert.deepEqual(calls[1]!.items, ['b', 'c', 'd'], 'the held requests travel as one batch');

    // The same after a failure: what arrived during the round trip goes when it fails.
    const e = track(c.submit(req('e')));
    const f = track(c.submit(req('f')));
    await nextTurn();
    await nextTurn();
    assert.equal(calls.length, 2);
    const failure = new Error('no leader');
    calls[1]!.reject(failure);
    await Promise.all(held.map((t) => t.done));
    for (const t of held) assert.equal(t.error, failure);
    await sent(calls, 3);
    assert.deepEqual(calls[2]!.items, ['e', 'f']);
    answer(calls[2]);
    await Promise.all([e.done, f.done]);
    assert.deepEqual([e.value, f.value], ['E', 'F']);
    assert.deepEqual(c.stats, { requests: 6, batches: 3 });
  });

  it('with maxInFlight 2, two batches may be on their way and the third waits', async () => {
    const { c, calls } = setup({ maxInFlight: 2 });
    const a = track(c.submit(req('a')));
    await sent(calls, 1);
    const b = track(c.submit(req('b')));
    await sent(calls, 2);
    assert.deepEqual(calls[1]!.items, ['b'], 'a second batch goes while one is in flight');
    const d = track(c.submit(req('d')));
    await nextTurn();
    await nextTurn();
    assert.equal(calls.length, 2, 'the third waits');
    answer(calls[1]);
    await sent(calls, 3);
    assert.deepEqual(calls[2]!.items, ['d']);
    answer(calls[0]);
    answer(calls[2]);
    await Promise.all([a.done, b.done, d.done]);
    assert.deepEqual([a.value, b.value, d.value], ['A', 'B', 'D']);
  });

  it('sends a held batch after maxHoldMs even if the batch in flight never finishes', async () => {
    const { c, calls } = setup({ maxHoldMs: 20 });
    const a = track(c.submit(req('a')));
    await sent(calls, 1);
    const b = track(c.submit(req('b')));
    const d = track(c.submit(req('d')));
    await sent(calls, 2);
    assert.deepEqual(calls[1]!.items, ['b', 'd']);
    assert.equal(a.state, 'pending', 'the first batch is still in flight');
    answer(calls[1]);
    await Promise.all([b.done, d.done]);
    assert.deepEqual([b.value, d.value], ['B', 'D']);
    answer(calls[0]);
    await a.done;
    assert.equal(a.value, 'A');
    assert.deepEqual(c.stats, { requests: 3, batches: 2 });
  });
});

describe('coalescer: what a batch may hold', () => {
  it('never puts two requests for the same key in one batch; different keys share', async () => {
    const { c, calls } = setup();
    const ps = [
      c.submit(req('a1', ['a'])),
      c.submit(req('b1', ['b'])),
      c.submit(req('a2', ['a'])),
      c.submit(req('c1', ['c'])),
      c.submit(req('bc', ['x', 'b'])),
    ];
    await sent(calls, 1);
    assert.deepEqual(calls[0]!.items, ['a1', 'b1']);
    await nextTurn();
    assert.equal(calls.length, 1, "the second write of a key waits for the first's batch to finish");
    answer(calls[0]);
    await sent(calls, 2);
    assert.deepEqual(calls[1]!.items, ['a2', 'c1', 'bc'], 'a request sharing no key with the open batch joins it');
    answer(calls[1]);
    assert.deepEqual(await Promise.all(ps), ['A1', 'B1', 'A2', 'C1', 'BC']);
  });

  it('a request that shares any one of its keys goes in a later batch', async () => {
    const { c, calls } = setup({ maxInFlight: 10 });
    const ps = [c.submit(req('xy', ['x', 'y'])), c.submit(req('yz', ['y', 'z'])), c.submit(req('w', ['w']))];
    await sent(calls, 2);
    assert.deepEqual(calls.map((call) => call.items), [['xy'], ['yz', 'w']]);
    calls.forEach(answer);
    assert.deepEqual(await Promise.all(ps), ['XY', 'YZ', 'W']);
  });

  it('splits batches at maxItems', async () => {
    const { c, calls } = setup({ maxItems: 3, maxInFlight: 10 });
    const items = ['1', '2', '3', '4', '5', '6', '7'];
    const ps = items.map((x) => c.submit(req(x)));
    await sent(calls, 3);
    assert.deepEqual(calls.map((call) => call.items), [['1', '2', '3'], ['4', '5', '6'], ['7']]);
    calls.forEach(answer);
    assert.deepEqual(await Promise.all(ps), items);
    assert.deepEqual(c.stats, { requests: 7, batches: 3 });
  });

  it('splits batches at maxBytes; a request larger than maxBytes goes alone', async () => {
    const { c, calls } = setup({ maxBytes: 100, maxInFlight: 10 });
    const ps = [
      c.submit(req('a', [], 40)),
      c.submit(req('b', [], 40)),
      c.submit(req('c', [], 40)), // 120 > 100: a new batch
      c.submit(req('big', [], 150)), // larger than maxBytes: alone
      c.submit(req('d', [], 10)),
      c.submit(req('e', [], 90)), // exactly 100 with d: they share
      c.submit(req('f', [], 1)),
    ];
    await sent(calls, 5);
    await nextTurn();
    assert.deepEqual(calls.map((call) => call.items), [['a', 'b'], ['c'], ['big'], ['d', 'e'], ['f']]);
    calls.forEach(answer);
    assert.deepEqual(await Promise.all(ps), ['A', 'B', 'C', 'BIG', 'D', 'E', 'F']);
  });

  it('a request larger than maxBytes goes alone even when it comes first', async () => {
    const { c, calls } = setup({ maxBytes: 100, maxInFlight: 10 });
    const ps = [c.submit(req('big', [], 101)), c.submit(req('small', [], 1)), c.submit(req('tiny', [], 1))];
    await sent(calls, 2);
    await nextTurn();
    assert.deepEqual(calls.map((call) => call.items), [['big'], ['small', 'tiny']]);
    calls.forEach(answer);
    assert.deepEqual(await Promise.all(ps), ['BIG', 'SMALL', 'TINY']);
  });
});

describe('coalescer: failures, deadlines and signals', () => {
  it("a batch's failure fails each of its callers with that error, and the next batch is unaffected", async () => {
    const { c, calls } = setup();
    const first = ['a', 'b', 'c'].map((x) => track(c.submit(req(x))));
    await sent(calls, 1);
    const next = track(c.submit(req('d')));
    await nextTurn();
    const failure = new Error('the leader stepped down');
    calls[0]!.reject(failure);
    await Promise.all(first.map((t) => t.done));
    for (const t of first) {
      assert.equal(t.state, 'rejected');
      assert.equal(t.error, failure, 'the same error, not a copy');
    }
    await sent(calls, 2);
    assert.deepEqual(calls[1]!.items, ['d']);
    answer(calls[1]);
    await next.done;
    assert.equal(next.value, 'D');
  });

  it('a send that throws instead of returning a rejected promise fails its batch the same way', async () => {
    let calls = 0;
    const failure = new Error('thrown by send');
    const c = new Coalescer<string, string>({
      what: 'test request',
      isWrite: false,
      maxHoldMs: NO_HOLD,
      send: (items) => {
        if (++calls === 1) throw failure;
        return Promise.resolve(items.map((i) => i.toUpperCase()));
      },
    });
    const ps = [c.submit(req('a')), c.submit(req('b'))];
    for (const p of ps) await assert.rejects(p, (e: unknown) => e === failure);
    // Nothing is left in flight: the next request goes at the end of its turn, not after the hold.
    assert.equal(await c.submit(req('d')), 'D');
    assert.deepEqual(c.stats, { requests: 3, batches: 2 });
  });

  it('a batch failing with something that is not an Error fails its callers with an Error', async () => {
    const { c, calls } = setup();
    const ps = [c.submit(req('a')), c.submit(req('b'))];
    await sent(calls, 1);
    calls[0]!.reject('boom');
    for (const p of ps) await assert.rejects(p, (e: unknown) => e instanceof Error && e.message === 'boom');
  });

  it("a caller with an earlier deadline than its batch's times out alone; the others get their results", async () => {
    const { c, calls } = setup({ isWrite: true });
    const short = track(c.submit(req('short'), { timeoutMs: 30 }));
    const long = track(c.submit(req('long'), { timeoutMs: 60_000 }));
    const dflt = track(c.submit(req('default')));
    await sent(calls, 1);
    assert.deepEqual(calls[0]!.items, ['short', 'long', 'default']);
    await waitFor(() => short.state !== 'pending', { timeoutMs: WAIT_MS, what: 'the short caller to be answered', intervalMs: 1 });
    assert.equal(short.state, 'rejected');
    assert.ok(short.error instanceof TimeoutError, `a TimeoutError, got ${String(short.error)}`);
    assert.equal(short.error.code, 'ERR_TIMEOUT');
    assert.match(short.error.message, /^test request \(outcome unknown\) did not complete/, 'a write timed out alone: its outcome is unknown');
    assert.deepEqual([long.state, dflt.state], ['pending', 'pending'], 'the batch goes on for the others');
    calls[0]!.resolve(['S', 'L', 'D']);
    await Promise.all([long.done, dflt.done, short.done]);
    assert.deepEqual([long.value, dflt.value], ['L', 'D']);
    assert.equal(short.state, 'rejected', 'a late result does not reach a caller already answered');
  });

  it('a read caller timed out alone is not told of an unknown outcome', async () => {
    const { c, calls } = setup({ isWrite: false });
    const short = track(c.submit(req('short'), { timeoutMs: 20 }));
    const long = track(c.submit(req('long'), { timeoutMs: 60_000 }));
    await sent(calls, 1);
    await short.done;
    assert.ok(short.error instanceof TimeoutError);
    assert.match(short.error.message, /^test request did not complete/);
    answer(calls[0]);
    await long.done;
    assert.equal(long.value, 'LONG');
  });

  it('refuses a request whose deadline has passed (timeoutMs <= 0) at once, sending nothing', async () => {
    const { c, calls } = setup();
    for (const timeoutMs of [0, -5]) {
      const p = c.submit(req('late'), { timeoutMs });
      const first = await Promise.race([p.then(() => 'resolved', (e: unknown) => e), nextTurn().then(() => 'pending')]);
      assert.ok(first instanceof TimeoutError, `refused before the turn ended, got ${String(first)}`);
      assert.equal(first.timeoutMs, timeoutMs);
    }
    await nextTurn();
    await nextTurn();
    assert.equal(calls.length, 0);
    assert.deepEqual(c.stats, { requests: 0, batches: 0 });
  });

  it('refuses a request whose signal is already aborted at once, sending nothing', async () => {
    const { c, calls } = setup();
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    ac.abort(reason);
    const p = c.submit(req('x'), { signal: ac.signal });
    const first = await Promise.race([p.then(() => 'resolved', (e: unknown) => e), nextTurn().then(() => 'pending')]);
    assert.ok(first instanceof AbortError, `refused before the turn ended, got ${String(first)}`);
    assert.equal(first.code, 'ERR_ABORTED');
    assert.equal(first.cause, reason);
    await nextTurn();
    assert.equal(calls.length, 0);
    assert.deepEqual(c.stats, { requests: 0, batches: 0 });
  });

  it('a caller that aborts while its batch is in flight is answered at once; the others get their results', async () => {
    const { c, calls } = setup({ isWrite: true });
    const ac = new AbortController();
    const quiet = new AbortController(); // a signal that never aborts: its caller is answered as usual
    const aborted = track(c.submit(req('a'), { signal: ac.signal }));
    const b = track(c.submit(req('b'), { signal: quiet.signal }));
    const d = track(c.submit(req('d')));
    await sent(calls, 1);
    assert.deepEqual(calls[0]!.items, ['a', 'b', 'd']);
    assert.equal(calls[0]!.options.signal, undefined, "a caller's signal does not abort the whole batch");
    const reason = new Error('stop');
    ac.abort(reason);
    const first = await Promise.race([aborted.done.then(() => 'answered'), nextTurn().then(() => 'pending')]);
    assert.equal(first, 'answered', 'answered on abort, not when the batch ends');
    assert.ok(aborted.error instanceof AbortError, `an AbortError, got ${String(aborted.error)}`);
    assert.equal(aborted.error.cause, reason);
    assert.match(aborted.error.message, /outcome unknown/);
    assert.deepEqual([b.state, d.state], ['pending', 'pending']);
    answer(calls[0]);
    await Promise.all([b.done, d.done]);
    assert.deepEqual([b.value, d.value], ['B', 'D']);
    assert.equal(aborted.state, 'rejected');
    quiet.abort(); // after its answer: changes nothing
    await nextTurn();
    assert.equal(b.state, 'resolved');
  });

  it("passes the batch's latest caller deadline to send", async () => {
    const { c, calls } = setup({ maxInFlight: 10 });
    const ps = [c.submit(req('a'), { timeoutMs: 1_000 }), c.submit(req('b'), { timeoutMs: 40_000 }), c.submit(req('c'), { timeoutMs: 20_000 })];
    await sent(calls, 1);
    const timeoutMs = calls[0]!.options.timeoutMs!;
    assert.ok(timeoutMs > 40_000 - WAIT_MS && timeoutMs <= 40_000, `about the latest deadline (40 s), got ${timeoutMs} ms`);
    // A lone caller without a timeout: the default request timeout.
    const q = c.submit(req('d'));
    await sent(calls, 2);
    const dflt = calls[1]!.options.timeoutMs!;
    assert.ok(dflt > DEFAULT_REQUEST_TIMEOUT_MS - WAIT_MS / 2 && dflt <= DEFAULT_REQUEST_TIMEOUT_MS, `about the default timeout, got ${dflt} ms`);
    calls.forEach(answer);
    // 'a' may time out first on a very slow run; b and c are answered either way.
    const [a, ...rest] = await Promise.allSettled([...ps, q]);
    assert.deepEqual(rest.map((r) => (r.status === 'fulfilled' ? r.value : r.reason)), ['B', 'C', 'D']);
    assert.ok(a!.status === 'fulfilled' ? a.value === 'A' : a.reason instanceof TimeoutError);
  });

  it('counts requests and batches', async () => {
    const { c, calls } = setup();
    const first = ['a', 'b', 'c', 'd', 'e'].map((x) => c.submit(req(x)));
    await sent(calls, 1);
    assert.deepEqual(c.stats, { requests: 5, batches: 1 });
    answer(calls[0]);
    await Promise.all(first);
    const second = [c.submit(req('f')), c.submit(req('g'))];
    await sent(calls, 2);
    answer(calls[1]);
    await Promise.all(second);
    assert.deepEqual(c.stats, { requests: 7, batches: 2 });
  });
});

describe('coalescer: callers who give up while their batch waits', () => {
  it('answers an aborted or expired waiting caller without sending it, and sends the others', async () => {
    const { c, calls } = setup();
    const first = c.submit(req('first', ['first']));
    await sent(calls, 1);
    const controller = new AbortController();
    const aborted = track(c.submit(req('aborted', ['aborted']), { signal: controller.signal }));
    const expiresBy = performance.now() + 1;
    const expiring = track(c.submit(req('expiring', ['expiring']), { timeoutMs: 1 }));
    const kept = c.submit(req('kept', ['kept']));
    await nextTurn();
    controller.abort();
    await waitFor(() => performance.now() > expiresBy + 1 || undefined, { timeoutMs: WAIT_MS, what: 'the 1 ms deadline to pass', intervalMs: 1 });
    answer(calls[0]);
    assert.equal(await first, 'FIRST');
    await sent(calls, 2);
    assert.deepEqual(calls[1]!.items, ['kept'], 'the callers who gave up were not sent');
    answer(calls[1]);
    assert.equal(await kept, 'KEPT');
    await Promise.all([aborted.done, expiring.done]);
    assert.ok(aborted.error instanceof AbortError, `aborted: ${String(aborted.error)}`);
    assert.ok(expiring.error instanceof TimeoutError, `expiring: ${String(expiring.error)}`);
  });
});
