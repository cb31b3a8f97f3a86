/**
 * The actor layer between two nodes in one process (real transport on
 * loopback): dispatch and query on remote references, references inside
 * messages, replies by reference, dead letters, the typed failures.
 * Multi-process behaviour (kill -9, order under load) is in actors.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dispatch, query, spawn, stop, type Ref } from 'nact';
import { NodeDownError, NoSuchActorError, RemoteRef, startNode, TimeoutError, type TroupeNode } from '../../lib/index.js';
import { encode } from '../../lib/remote/wire.js';
import { freePort } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

describe('actors across two nodes in one process', () => {
  const dirs: string[] = [];
  let a: TroupeNode;
  let b: TroupeNode;

  async function start(name: string, clusterPort: number, seeds: string[]): Promise<TroupeNode> {
    const dataDir = mkdtempSync(join(tmpdir(), `troupe-actors-${name}-`));
    dirs.push(dataDir);
    return startNode({
      config: {
        nodeName: `${name}@127.0.0.1`, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: seeds, clusterPort, port: 0,
        httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir, cookie: 'actors-test', heartbeatIntervalMs: 300, heartbeatTimeoutMs: 1500, logLevel: 'silent',
      },
    });
  }

  before(async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    a = await start('aa', pa, []);
    b = await start('ab', pb, [`aa@127.0.0.1:${pa}`]);
    await waitFor(() => a.members().filter((m) => m.state === 'up').length === 2 && b.members().filter((m) => m.state === 'up').length === 2, { timeoutMs: 15_000, what: 'both nodes up' });
  });
  after(async () => {
    await Promise.all([a?.stop({ leave: false }), b?.stop({ leave: false })]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('dispatches and queries an actor on the other node, a reference inside a message included', async () => {
    const seen: unknown[] = [];
    // On b: a counter that answers queries (nact style: to ctx.sender) and tells a reference it was given.
    const counter = spawn(b.system!, (state: number, msg: { type: string; n?: number; tell?: RemoteRef }, ctx) => {
      if (msg.type === 'add') return state + (msg.n ?? 0);
      if (msg.type === 'get') dispatch((ctx as unknown as { sender: Ref<any> }).sender, state); // nact's typings omit ctx.sender
      if (msg.type === 'tell' && msg.tell) b.actors!.dispatch(msg.tell, { count: state, from: ctx.self });
      return state;
    }, 'counter', { initialState: 0 });
    const remote = new RemoteRef(b.name, ['counter']);
    assert.deepEqual(b.actors!.refOf(counter), remote);
    for (let i = 1; i <= 10; i++) a.actors!.dispatch(remote, { type: 'add', n: i });
    assert.equal(await a.actors!.query(remote, { type: 'get' }, 2_000), 55, 'the messages arrived in order before the query');

    const listener = spawn(a.system!, (_s: unknown, msg: unknown) => { seen.push(msg); }, 'listener');
    a.actors!.dispatch(remote, { type: 'tell', tell: listener });
    await waitFor(() => seen.length === 1 || undefined, { timeoutMs: 5_000, what: 'the answer sent to the reference inside the message' });
    const answer = seen[0] as { count: number; from: RemoteRef };
    assert.equal(answer.count, 55);
    assert.ok(answer.from instanceof RemoteRef && answer.from.equals(remote), 'a local reference sent from b arrives as b\'s reference');
  });

  it('nact\'s own dispatch and query work on a reference that came from another node: a plain nact actor answers a remote sender unchanged', async () => {
    // On b: an actor written for nact alone — it answers ctx.sender and the reference inside the message with nact's dispatch, and asks one with nact's query.
    spawn(b.system!, async (_s: unknown, msg: { ping: number; replyTo: Ref<any>; ask: Ref<any> }, ctx) => {
      dispatch((ctx as unknown as { sender: Ref<any> }).sender, { pong: msg.ping });
      dispatch(msg.replyTo, { alsoPong: msg.ping });
      const answer = await query(msg.ask, { q: msg.ping } as never, 2_000);
      dispatch(msg.replyTo, { asked: answer });
    }, 'plain-nact');
    const seen: unknown[] = [];
    const listener = spawn(a.system!, (_s: unknown, msg: unknown) => { seen.push(msg); }, 'plain-listener');
    spawn(a.system!, (_s: unknown, msg: { q: number }, ctx) => { dispatch((ctx as unknown as { sender: Ref<any> }).sender, msg.q * 2); }, 'doubler');
    const doubler = a.actors!.refOf(spawn(a.system!, (_s: unknown, msg: { q: number }, ctx) => { dispatch((ctx as unknown as { sender: Ref<any> }).sender, msg.q * 3); }, 'tripler'));
    a.actors!.dispatch(new RemoteRef(b.name, ['plain-nact']), { ping: 7, replyTo: listener, ask: doubler }, listener);
    await waitFor(() => seen.length === 3 || undefined, { timeoutMs: 5_000, what: 'the three answers of the nact actor on b' });
    assert.deepEqual(seen, [{ pong: 7 }, { alsoPong: 7 }, { asked: 21 }]);

    // Two nodes run in this process: a reference built by hand does not say which should send it.
    assert.throws(() => dispatch(new RemoteRef(b.name, ['plain-nact']) as unknown as Ref<any>, 'hi'), /node\.actors\.dispatch/);
    assert.doesNotThrow(() => stop(new RemoteRef(b.name, ['plain-nact']) as unknown as Ref<any>), 'stop of a remote reference does nothing, as nact\'s does for an actor it does not find');
  });

  it('a query takes only answers meant for this process: an answer or reply reference naming another generation of the node is refused', async () => {
    // On b: an actor that holds the sender of a query until told to answer it.
    let held: Ref<any> | undefined;
    spawn(b.system!, (_s: unknown, msg: string, ctx) => {
      if (msg === 'answer now') dispatch(held!, 'genuine');
      else held = (ctx as unknown as { sender: Ref<any> }).sender;
    }, 'holder');
    const holder = new RemoteRef(b.name, ['holder']);
    const asked = a.actors!.query(holder, 'hold this', 5_000);
    const id = (a.actors as unknown as { nextId: number }).nextId - 1; // the query's id on the wire (internal)
    await waitFor(() => held !== undefined || undefined, { timeoutMs: 5_000, what: 'the query to reach the holder' });
    // What a former process of a would have been sent (it numbered its queries from 1 too): an answer to the same id.
    const bTransport = (b as unknown as { transport: { send(to: string, channel: string, payload: unknown): boolean } }).transport;
    bTransport.send(a.address, 'actor', ['r', id, true, encode(b.name, 'for a former process of a'), a.generation - 1]);
    const deadBefore = a.actors!.stats.deadLetters['no-such-actor'];
    a.actors!.dispatch(new RemoteRef(a.name, ['$reply', `${a.generation - 1}.${id}`]), 'also for a former process');
    assert.equal(a.actors!.stats.deadLetters['no-such-actor'], deadBefore + 1, 'a reply reference of another generation is a dead letter');
    a.actors!.dispatch(holder, 'answer now'); // its answer follows the forged one on the same ordered link
    assert.equal(await asked, 'genuine');
  });

  it('an answer that cannot travel (an unencodable value) fails the query with why; the actor lives on', async () => {
    spawn(b.system!, (_s: unknown, msg: string, ctx) => {
      dispatch((ctx as unknown as { sender: Ref<any> }).sender, msg === 'bad' ? { s: Symbol('not encodable') } : 'fine');
    }, 'answers-badly');
    const ref = new RemoteRef(b.name, ['answers-badly']);
    await assert.rejects(a.actors!.query(ref, 'bad', 2_000), /the answer could not be sent: .*symbol/);
    assert.equal(await a.actors!.query(ref, 'good', 2_000), 'fine');
  });

  it('a query whose message is a function of the reply reference is answered by dispatch to it', async () => {
    spawn(b.system!, (_s: unknown, msg: { replyTo: RemoteRef; text: string }) => { b.actors!.dispatch(msg.replyTo, msg.text.toUpperCase()); }, 'shouter');
    const reply = await a.actors!.query(new RemoteRef(b.name, ['shouter']), (replyTo: RemoteRef) => ({ replyTo, text: 'hello' }), 2_000);
    assert.equal(reply, 'HELLO');
  });

  it('a message to an actor that does not exist is a dead letter; a query to it fails with NoSuchActorError', async () => {
    const before = b.actors!.stats.deadLetters['no-such-actor'];
    a.actors!.dispatch(new RemoteRef(b.name, ['nobody-here']), 'hello?');
    await waitFor(() => b.actors!.stats.deadLetters['no-such-actor'] > before || undefined, { timeoutMs: 5_000, what: 'the dead letter counted on b' });
    await assert.rejects(a.actors!.query(new RemoteRef(b.name, ['nobody-here']), 'anyone?', 2_000), NoSuchActorError);
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
      return /troupe_actor_dead_letters_total\{reason="no-such-actor"\} [1-9]/.test(text) || undefined;
    }, { timeoutMs: 5_000, what: 'the dead letters in b\'s /metrics' });
  });

  it('a query to an unknown node fails at once with NodeDownError; one the actor never answers times out', async () => {
    await assert.rejects(a.actors!.query(new RemoteRef('ghost@127.0.0.1', ['x']), 'hi', 60_000), NodeDownError);
    spawn(b.system!, () => undefined, 'silent');
    await assert.rejects(a.actors!.query(new RemoteRef(b.name, ['silent']), 'hi', 200), TimeoutError);
  });

  it('spawnOn starts a behaviour defined on the other node and returns its reference; an unknown behaviour or a taken name is refused', async () => {
    for (const node of [a, b]) node.actors!.defineBehaviour('adder', (args) => ({ initialState: (args as { start: number }).start, f: (state: number, msg: { add?: number; replyTo?: RemoteRef }) => {
      if (msg.replyTo) node.actors!.dispatch(msg.replyTo, state);
      return state + (msg.add ?? 0);
    } }));
    const ref = await a.actors!.spawnOn(b.name, 'adder', { start: 100 }, { name: 'adder-1' });
    assert.ok(ref.equals(new RemoteRef(b.name, ['adder-1'])));
    a.actors!.dispatch(ref, { add: 5 });
    assert.equal(await a.actors!.query(ref, (replyTo: RemoteRef) => ({ replyTo }), 2_000), 105);
    await assert.rejects(a.actors!.spawnOn(b.name, 'no-such-behaviour'), (err: Error & { code?: string }) => /no behaviour named/.test(err.message));
    await assert.rejects(a.actors!.spawnOn(b.name, 'adder', { start: 0 }, { name: 'adder-1' }), (err: Error) => /already runs/.test(err.message));
  });

  it('watch delivers terminated once when a watched actor stops or crashes, at once for a dead one, and not after unwatch', async () => {
    const seen: { ref: RemoteRef; reason: string }[] = [];
    const watcher = spawn(a.system!, (_s: unknown, msg: { type: string; ref: RemoteRef; reason: string }) => { if (msg.type === 'terminated') seen.push(msg); }, 'watcher');
    for (const node of [a, b]) node.actors!.defineBehaviour('fragile', () => ({ f: (_s: unknown, msg: string) => {
      if (msg === 'crash') throw new Error('asked to crash');
      if (msg === 'stop') return undefined;
      return null;
    } }));
    const stopping = await a.actors!.spawnOn(b.name, 'fragile', null, { name: 'stopping' });
    const crashing = await a.actors!.spawnOn(b.name, 'fragile', null, { name: 'crashing' });
    const kept = await a.actors!.spawnOn(b.name, 'fragile', null, { name: 'kept' });
    a.actors!.watch(watcher, stopping);
    a.actors!.watch(watcher, crashing);
    a.actors!.watch(watcher, kept);
    a.actors!.unwatch(watcher, kept);
    a.actors!.watch(watcher, new RemoteRef(b.name, ['never-was']));
    await waitFor(() => seen.some((m) => m.reason === 'not-found') || undefined, { timeoutMs: 5_000, what: 'terminated not-found for an actor that never was' });
    // A round trip on the same link: the watch frames, sent before it, have reached b before the actors go.
    await waitFor(async () => (await a.actors!.query(new RemoteRef(b.name, ['counter']), { type: 'get' }, 2_000)) !== undefined || undefined, { timeoutMs: 5_000, what: 'a round trip to b after the watches' });
    stopActorAt(b, 'stopping');
    b.actors!.dispatch(new RemoteRef(b.name, ['crashing']), 'crash');
    await waitFor(() => seen.length === 3 || undefined, { timeoutMs: 5_000, what: 'terminated for the stopped and the crashed actor' });
    const byName = new Map(seen.map((m) => [m.ref.path.join('/'), m.reason]));
    assert.equal(byName.get('stopping'), 'stopped');
    assert.equal(byName.get('crashing'), 'crashed');
    assert.equal(byName.get('never-was'), 'not-found');
    stopActorAt(b, 'kept');
    a.actors!.dispatch(new RemoteRef(b.name, ['counter']), { type: 'add', n: 0 });
    assert.equal(await a.actors!.query(new RemoteRef(b.name, ['counter']), { type: 'get' }, 2_000), 55);
    assert.ok(!seen.some((m) => m.ref.path[0] === 'kept'), 'no terminated after unwatch');
  });
});

describe('monitors across a node that leaves', () => {
  it('a watcher hears node-left for the actors of a node that leaves, and a query waiting there fails with NodeDownError', async () => {
    const dirs: string[] = [];
    const start = async (name: string, clusterPort: number, seeds: string[]): Promise<TroupeNode> => {
      const dataDir = mkdtempSync(join(tmpdir(), `troupe-actors-${name}-`));
      dirs.push(dataDir);
      return startNode({ config: {
        nodeName: `${name}@127.0.0.1`, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: seeds, clusterPort, port: 0,
        httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir, cookie: 'actors-test-2', heartbeatIntervalMs: 300, heartbeatTimeoutMs: 1500, logLevel: 'silent',
      } });
    };
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await start('ma', pa, []);
    const b = await start('mb', pb, [`ma@127.0.0.1:${pa}`]);
    try {
      await waitFor(() => a.members().filter((m) => m.state === 'up').length === 2 || undefined, { timeoutMs: 15_000, what: 'both nodes up' });
      spawn(b.system!, () => undefined, 'quiet');
      const seen: { reason: string }[] = [];
      const watcher = spawn(a.system!, (_s: unknown, msg: { type: string; reason: string }) => { seen.push(msg); }, 'watcher');
      const quiet = new RemoteRef(b.name, ['quiet']);
      a.actors!.watch(watcher, quiet);
      const waiting = a.actors!.query(quiet, 'never answered', 60_000);
      const outcome = waiting.then(() => 'answered', (err: unknown) => err);
      await b.stop(); // a graceful leave
      await waitFor(() => seen.length === 1 || undefined, { timeoutMs: 15_000, what: 'terminated after the node left' });
      assert.equal(seen[0]!.reason, 'node-left');
      assert.ok((await outcome) instanceof NodeDownError, 'the waiting query failed with NodeDownError, long before its 60 s timeout');
    } finally {
      await Promise.all([a.stop({ leave: false }), b.stop({ leave: false })]);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Stops the top-level actor `name` of `node` with nact's stop. */
function stopActorAt(node: TroupeNode, name: string): void {
  stop({ type: 'actor', path: { parts: [name] }, system: { name: (node.system as unknown as { system: { name: string } }).system.name } } as unknown as Ref<any>);
}
