/**
 * Actors across node processes: three real nodes on 127.0.0.1, each a forked
 * child running test/harness/actor-node.ts (`startNode` plus the test
 * behaviours and IPC commands), with its own ports and data dir.
 *
 * Covered: dispatch and query across nodes (a query answered to the
 * sender, and one answered by dispatch to a reference); order per
 * sender→receiver pair under load, with nothing lost, duplicated or dropped
 * while the senders acknowledge every few thousand messages; a burst past
 * the receiver's mailbox bound, where what is not delivered (in order) is
 * counted as a dead letter; references inside messages, including one
 * passed on by a node that does not own it; dead letters for a missing
 * actor; spawnOn across processes; NodeDownError for a query in flight when
 * its node is killed (kill -9) and for one sent after membership saw the
 * node down, each settling before its own timeout. The kill runs last: it
 * takes the third node away.
 *
 * Why the order test acknowledges: nact runs one message of an actor per
 * event-loop turn, while a turn of the receiving node decodes every frame
 * its socket read holds, so an unacknowledged stream of 20,000 fills the
 * mailbox to its bound (10,000 messages from other nodes) and the rest is
 * dropped — at most once, counted — as the burst test shows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ref, startActorCluster, type QueryOutcome, type Recorded, type Ref } from '../harness/actor-cluster.js';
import { ForkedNodeGroup, type ForkedNode } from '../harness/forked-node.js';
import { waitFor } from '../harness/wait-for.js';

/** Messages each pump sends: twice the mailbox bound on messages from other nodes. */
const PUMPED = 20_000;
/** Messages a pump dispatches per event-loop turn. */
const PUMP_BATCH = 500;
/** Messages a pump sends between two acknowledgements in the order test; 2 pumps × this stays below the mailbox bound (10,000). */
const WINDOW = 2_000;

interface Stats {
  actors: { sent: number; received: number; deadLetters: Record<string, number> };
  linkFramesDropped: number;
}

const sameRef = (a: unknown, b: Ref): boolean => JSON.stringify(a) === JSON.stringify(b);
const seqsFrom = (received: Recorded[], sender: Ref): number[] => received.filter((r) => sameRef(r.sender, sender)).map((r) => r.message.seq as number);
const deadLetterTotal = (s: Stats): number => Object.values(s.actors.deadLetters).reduce((x, y) => x + y, 0);

/**
 * The query's outcome, or 'timed out' when a timer of the query's own timeout, started before the query,
 * fires first: a query that settles through NodeDownError must win this race.
 */
async function queryRace(from: ForkedNode, to: Ref, message: unknown, timeoutMs: number): Promise<QueryOutcome | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)));
  try {
    return await Promise.race([from.call<QueryOutcome>('query', { to, message, timeoutMs }, timeoutMs + 10_000), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('actors across node processes', () => {
  const group = new ForkedNodeGroup();
  let a: ForkedNode;
  let b: ForkedNode;
  let c: ForkedNode;

  const exited = (): string | undefined => [a, b, c].map((n) => n?.exitedReason()).find((r) => r !== undefined);

  before(async () => {
    [a, b, c] = (await startActorCluster(group, ['actor-a', 'actor-b', 'actor-c'])).nodes as [ForkedNode, ForkedNode, ForkedNode];
  });
  after(() => group.cleanup());

  it('dispatches and queries across nodes: a query answered to its sender, one answered by dispatch to a reference', async () => {
    const counter = await b.call<Ref>('spawn', { behaviour: 'counter', name: 'counter' });
    assert.deepEqual(counter, ref(b, 'counter'));
    for (let i = 1; i <= 10; i++) await a.call('dispatch', { to: counter, message: { add: i } });
    assert.deepEqual(await a.call<QueryOutcome>('query', { to: counter, message: { get: true }, timeoutMs: 5_000 }), { value: { count: 55, node: b.nodeName } },
      'a\'s messages arrived before its query, in order, and the answer came back to a');

    const echo = await c.call<Ref>('spawn', { behaviour: 'echo', name: 'echo' });
    const asked = await a.call<QueryOutcome>('query', { to: echo, message: { text: 'to the sender' }, timeoutMs: 5_000 });
    assert.ok('value' in asked, JSON.stringify(asked));
    assert.equal(asked.value.echo, 'to the sender');
    assert.ok(sameRef(asked.value.from, ref(c, 'echo')), 'ctx.self answered from c arrives as c\'s reference');
    const byRef = await b.call<QueryOutcome>('query', { to: echo, message: { text: 'by reference' }, timeoutMs: 5_000, byRef: true });
    assert.ok('value' in byRef && byRef.value.echo === 'by reference', JSON.stringify(byRef));
  });

  it('nact\'s own dispatch and query on a RemoteRef built by hand, in a process running one node: sent through that node', async () => {
    const counter = await b.call<Ref>('spawn', { behaviour: 'counter', name: 'nact-counter' });
    for (let i = 1; i <= 5; i++) await a.call('dispatch', { to: counter, message: { add: i }, nact: true });
    assert.deepEqual(await a.call<QueryOutcome>('query', { to: counter, message: { get: true }, timeoutMs: 5_000, nact: true }), { value: { count: 15, node: b.nodeName } });
  });

  it('keeps order per sender→receiver pair under load: two pumps on two nodes, 20,000 numbered messages each, none lost, duplicated or dropped', async () => {
    const sink = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'sink' });
    const pumps = [a, c];
    for (const n of pumps) await n.call('spawn', { behaviour: 'pump', name: 'pump' });
    const statsBefore = await Promise.all([a, b, c].map((n) => n.call<Stats>('stats')));
    // Each pump queries the sink after every WINDOW messages (an acknowledgement at the application level), so at most
    // 2 × WINDOW messages wait in the sink's mailbox: within the bound on messages from other nodes, so none is dropped.
    await Promise.all(pumps.map((n) => n.call('pump', { pump: 'pump', to: sink, count: PUMPED, batch: PUMP_BATCH, window: WINDOW }, 60_000)));
    const statsAfter = await Promise.all([a, b, c].map((n) => n.call<Stats>('stats')));
    for (const [i, n] of [a, b, c].entries()) {
      assert.equal(deadLetterTotal(statsAfter[i]!) - deadLetterTotal(statsBefore[i]!), 0, `dead letters on ${n.nodeName}: ${JSON.stringify(statsAfter[i]!.actors.deadLetters)}`);
      assert.equal(statsAfter[i]!.linkFramesDropped - statsBefore[i]!.linkFramesDropped, 0, `frames the transport of ${n.nodeName} dropped`);
    }
    // The last acknowledgement came after every message of its pump: all are recorded now.
    const received = await b.call<Recorded[]>('recorded', { name: 'sink' });
    assert.equal(received.length, 2 * PUMPED, 'every message arrived once');
    for (const pump of pumps) {
      const seqs = seqsFrom(received, ref(pump, 'pump'));
      assert.equal(seqs.length, PUMPED, `messages from ${pump.nodeName}'s pump`);
      const firstOutOfPlace = seqs.findIndex((seq, i) => seq !== i);
      assert.equal(firstOutOfPlace, -1, `${pump.nodeName}'s messages in order: position ${firstOutOfPlace} holds ${seqs[firstOutOfPlace]}`);
    }
  });

  it('a burst past the mailbox bound: every message is delivered in order or counted as a dead letter, none duplicated', async (t) => {
    const sink = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'burst-sink' });
    await a.call('spawn', { behaviour: 'pump', name: 'burst-pump' });
    const [aBefore, bBefore] = await Promise.all([a, b].map((n) => n.call<Stats>('stats')));
    await a.call('pump', { pump: 'burst-pump', to: sink, count: PUMPED, batch: PUMP_BATCH }, 60_000);
    const dropped = async (): Promise<number> => {
      const [aNow, bNow] = await Promise.all([a, b].map((n) => n.call<Stats>('stats')));
      return deadLetterTotal(aNow!) - deadLetterTotal(aBefore!) + deadLetterTotal(bNow!) - deadLetterTotal(bBefore!); // a frame the link refused is a link-full dead letter
    };
    // Accounted for: recorded at the sink, or counted as a dead letter on either side (mailbox-full at b, link-full at a).
    const recorded = await waitFor(async () => {
      const count = await b.call<number>('recorded-count', { name: 'burst-sink' });
      return count + (await dropped()) === PUMPED ? count : undefined;
    }, { timeoutMs: 30_000, what: `all ${PUMPED} messages recorded or counted as dead letters`, abortIf: exited });
    const bAfter = await b.call<Stats>('stats');
    t.diagnostic(`${recorded} delivered, ${PUMPED - recorded} dead letters: ${JSON.stringify(bAfter.actors.deadLetters)} at the sink's node`);
    const seqs = seqsFrom(await b.call<Recorded[]>('recorded', { name: 'burst-sink' }), ref(a, 'burst-pump'));
    assert.equal(seqs.length, recorded);
    const firstOutOfOrder = seqs.findIndex((seq, i) => i > 0 && seq <= seqs[i - 1]!);
    assert.equal(firstOutOfOrder, -1, `delivered in increasing order, none twice: position ${firstOutOfOrder} holds ${seqs[firstOutOfOrder]} after ${seqs[firstOutOfOrder - 1]}`);
  });

  it('references inside messages: a reply to a reference a sent, directly and after a node that does not own it passed it on', async () => {
    await a.call('spawn', { behaviour: 'asker', name: 'asker' });
    const bEcho = await b.call<Ref>('spawn', { behaviour: 'echo', name: 'echo' });
    const cEcho = ref(c, 'echo'); // spawned by the first test
    // a's asker sends { text, replyTo: ctx.self } (a local nact reference) to b's echo, which answers to it.
    await a.call('dispatch', { to: ref(a, 'asker'), message: { ask: bEcho, text: 'direct' } });
    // a → b's echo with via: b forwards a's reference (re-encoded by b) to c's echo, which answers a.
    await a.call('dispatch', { to: bEcho, message: { text: 'passed on', replyTo: ref(a, 'asker'), via: cEcho } });
    const got = await waitFor(async () => {
      const r = await a.call<Recorded[]>('recorded', { name: 'asker' });
      return r.length >= 2 ? r : undefined;
    }, { timeoutMs: 10_000, what: 'both answers at a\'s asker', abortIf: exited });
    const byText = new Map(got.map((r) => [r.message.echo as string, r]));
    assert.ok(sameRef(byText.get('direct')?.message.from, bEcho) && sameRef(byText.get('direct')?.sender, bEcho), JSON.stringify(byText.get('direct')));
    assert.ok(sameRef(byText.get('passed on')?.message.from, cEcho) && sameRef(byText.get('passed on')?.sender, cEcho), JSON.stringify(byText.get('passed on')));
  });

  it('a message to an actor that does not exist is a dead letter where it was to run; a query to it fails with NoSuchActorError', async () => {
    const before = await b.call<Stats>('stats');
    await a.call('dispatch', { to: ref(b, 'nobody-here'), message: 'hello?' });
    await waitFor(async () => (await b.call<Stats>('stats')).actors.deadLetters['no-such-actor']! > before.actors.deadLetters['no-such-actor']!, {
      timeoutMs: 5_000, what: 'the dead letter counted on b', abortIf: exited,
    });
    const outcome = await a.call<QueryOutcome>('query', { to: ref(b, 'nobody-here'), message: 'anyone?', timeoutMs: 5_000 });
    assert.ok('error' in outcome && outcome.error.name === 'NoSuchActorError', JSON.stringify(outcome));
    const aBefore = await a.call<Stats>('stats');
    await a.call('dispatch', { to: { $ref: 'ghost@127.0.0.1', path: ['x'] }, message: 'hello?' });
    assert.equal((await a.call<Stats>('stats')).actors.deadLetters['node-down'], aBefore.actors.deadLetters['node-down']! + 1, 'a message to an unknown node is a node-down dead letter at once');
  });

  it('spawnOn starts a behaviour on another node process; the reference works from a third; an unknown behaviour is refused', async () => {
    const spawned = await a.call<{ value?: Ref; error?: unknown }>('spawn-on', { node: b.nodeName, behaviour: 'counter', args: { start: 100 }, name: 'spawned' });
    assert.deepEqual(spawned.value, ref(b, 'spawned'), JSON.stringify(spawned));
    await c.call('dispatch', { to: spawned.value, message: { add: 5 } });
    assert.deepEqual(await c.call<QueryOutcome>('query', { to: spawned.value, message: { get: true }, timeoutMs: 5_000 }), { value: { count: 105, node: b.nodeName } });
    const unknown = await a.call<{ error?: { message: string } }>('spawn-on', { node: c.nodeName, behaviour: 'no-such-behaviour', name: 'x' });
    assert.match(unknown.error?.message ?? '', /no behaviour named/);
  });

  it('NodeDownError before the timeout: for a query in flight when its node is killed (kill -9), and for one after membership saw it down', async () => {
    const timeoutMs = 30_000;
    const silent = await c.call<Ref>('spawn', { behaviour: 'recorder', name: 'silent' });
    const inFlight = queryRace(a, silent, { waiting: true }, timeoutMs);
    await waitFor(async () => (await c.call<number>('recorded-count', { name: 'silent' })) === 1, { timeoutMs: 5_000, what: 'the query to reach c\'s silent actor', abortIf: exited });
    await c.kill();
    const first = await inFlight;
    assert.ok(first !== 'timed out' && 'error' in first && first.error.name === 'NodeDownError', `the query in flight: ${JSON.stringify(first)}`);

    await waitFor(async () => (await a.call<Record<string, string>>('member-states'))[c.nodeName] === 'down', { timeoutMs: 20_000, what: 'a to see c down' });
    const second = await queryRace(a, silent, { after: 'down' }, timeoutMs);
    assert.ok(second !== 'timed out' && 'error' in second && second.error.name === 'NodeDownError', `the query after c was seen down: ${JSON.stringify(second)}`);
  });
});
