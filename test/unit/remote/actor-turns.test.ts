import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { dispatch, spawn, spawnStateless, start, stop, type Ref } from 'nact';
import { actorMessagesPerTurn, DEFAULT_ACTOR_MESSAGES_PER_TURN, setActorMessagesPerTurn } from '../../../lib/remote/actor-turns.js';
import { replyReference, systemNameOf } from '../../../lib/remote/local-actors.js';

/** nact passes the sender as dispatch's third argument and in ctx.sender; its typings show neither. */
const dispatchFrom = dispatch as unknown as (ref: Ref<any>, message: unknown, sender: unknown) => void;
const senderOf = (ctx: unknown): Ref<unknown> => (ctx as { sender: Ref<unknown> }).sender;

/** Counts event-loop turns (check phases) while running. */
function turnCounter(): { turn: () => number; stop: () => void } {
  let turn = 0;
  let running = true;
  const tick = (): void => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return { turn: () => turn, stop: () => void (running = false) };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('actor messages per turn', () => {
  const system = start();
  after(() => stop(system));
  afterEach(() => setActorMessagesPerTurn(1));

  it('handles up to the budget of mailbox messages in one turn, in order', async () => {
    setActorMessagesPerTurn(4);
    assert.equal(actorMessagesPerTurn(), 4);
    const seen: Array<{ n: number; turn: number }> = [];
    const turns = turnCounter();
    const actor = spawnStateless(system, (n: number) => void seen.push({ n, turn: turns.turn() }), 'batched');
    for (let n = 0; n < 10; n++) dispatch(actor, n);
    await until(() => seen.length === 10, 'ten messages');
    turns.stop();
    assert.deepEqual(seen.map((s) => s.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const perTurn = new Map<number, number>();
    for (const s of seen) perTurn.set(s.turn, (perTurn.get(s.turn) ?? 0) + 1);
    assert.deepEqual([...perTurn.values()], [4, 4, 2]);
  });

  it('1 is nact\'s own scheduling: one message per turn', async () => {
    setActorMessagesPerTurn(1);
    const seen: Array<{ n: number; turn: number }> = [];
    const turns = turnCounter();
    const actor = spawnStateless(system, (n: number) => void seen.push({ n, turn: turns.turn() }), 'one-per-turn');
    for (let n = 0; n < 5; n++) dispatch(actor, n);
    await until(() => seen.length === 5, 'five messages');
    turns.stop();
    assert.equal(new Set(seen.map((s) => s.turn)).size, 5);
  });

  it('threads state through async handlers, each awaited before the next', async () => {
    setActorMessagesPerTurn(DEFAULT_ACTOR_MESSAGES_PER_TURN);
    const states: number[] = [];
    const actor = spawn(system, async (state: number = 0, n: number) => {
      await Promise.resolve();
      states.push(state + n);
      return state + n;
    }, 'async-state');
    for (let n = 1; n <= 5; n++) dispatch(actor, n);
    await until(() => states.length === 5, 'five states');
    assert.deepEqual(states, [1, 3, 6, 10, 15]);
  });

  it('a crash in a batch goes to supervision; a resumed actor goes on with the rest', async () => {
    setActorMessagesPerTurn(8);
    const seen: number[] = [];
    const actor = spawnStateless(system, (n: number) => {
      if (n === 2) throw new Error('boom');
      seen.push(n);
    }, 'crashes-once');
    for (let n = 0; n < 6; n++) dispatch(actor, n);
    await until(() => seen.length === 5, 'the five good messages');
    assert.deepEqual(seen, [0, 1, 3, 4, 5]);
  });

  it('an actor stopped in the middle of a batch handles nothing more', async () => {
    setActorMessagesPerTurn(8);
    const seen: number[] = [];
    let self: Ref<number> | undefined;
    self = spawnStateless(system, (n: number) => {
      seen.push(n);
      if (n === 1) stop(self!);
    }, 'stops-itself');
    for (let n = 0; n < 6; n++) dispatch(self, n);
    await until(() => seen.length >= 2, 'two messages');
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve)); // ten turns: nothing further may run
    assert.deepEqual(seen, [0, 1]);
  });

  it('refuses a budget that is not a whole number ≥ 1', () => {
    assert.throws(() => setActorMessagesPerTurn(0), RangeError);
    assert.throws(() => setActorMessagesPerTurn(2.5), RangeError);
  });
});

describe('reply references', () => {
  const system = start();
  after(() => stop(system));

  it('an actor answering ctx.sender with nact\'s dispatch reaches onAnswer once, then the reference is gone', async () => {
    const answers: unknown[] = [];
    const echo = spawnStateless(system, (msg: unknown, ctx) => {
      dispatch(senderOf(ctx), { echo: msg });
      dispatch(senderOf(ctx), 'second answer is dropped');
    }, 'echo');
    const reply = replyReference(systemNameOf(system), (value) => answers.push(value));
    dispatchFrom(echo, 'hi', reply.ref);
    await until(() => answers.length === 1, 'the answer');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(answers, [{ echo: 'hi' }]);
  });

  it('released before the answer: the answer is dropped', async () => {
    const answers: unknown[] = [];
    let handled = 0;
    const echo = spawnStateless(system, (msg: unknown, ctx) => {
      handled++;
      dispatch(senderOf(ctx), msg);
    }, 'echo-late');
    const reply = replyReference(systemNameOf(system), (value) => answers.push(value));
    reply.release();
    dispatchFrom(echo, 'late', reply.ref);
    await until(() => handled === 1, 'the message');
    assert.deepEqual(answers, []);
  });
});
