/**
 * Monitors across node processes (lib/remote/monitors.ts; docs/ACTORS.md
 * "Monitors"): three real nodes on 127.0.0.1, each a forked
 * test/harness/actor-node.ts, with its own ports and data dir. A watcher is
 * a recorder actor, so the terminated notices it receives are read back
 * over IPC; a monitor callback records its notices the same way.
 *
 * Covered, each notice checked for its reference and reason and for being
 * the only one:
 * - a watcher node restarted under its name (kill -9, started again at
 *   once, well within the down verdict's 2.5 s): its new process is not told
 *   about the watches of its former one, whose monitor ids it reuses (they
 *   start at 1 in every process). Should the restart lose that race, the
 *   target's node drops the former watches at the verdict instead, and the
 *   outcome is the same;
 * - an actor stopped, and one crashed, on one node, heard by watches on the
 *   two others and by a monitor callback; the stop of an actor spawned with
 *   nact directly (found by its node's periodic check); nothing heard after
 *   unwatch;
 * - watching an actor that never existed, or has stopped, on another node
 *   (not-found at once);
 * - kill -9 of a node: node-down for every watch of its actors, on each
 *   surviving node, once membership declared it down, and at once for a
 *   watch placed after that;
 * - a node that leaves gracefully: node-left, and at once after it left.
 * - a target node restarted under its name at once: node-down for the watch
 *   of its former process's actor, not a silent move to the new actor the
 *   new process runs at the same path.
 * The restart runs first (see there); the kill and the leave run last, in
 * that order: each takes a node away.
 *
 * "Only one" is checked once every frame that could still carry a notice
 * has arrived: a query to an actor on the notifying node is answered on the
 * same ordered link as its terminated frames (roundTrips), and a sync
 * through the watcher's mailbox puts it past every notice dispatched to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ref, startActorCluster, type ActorCluster, type QueryOutcome, type Recorded, type Ref } from '../harness/actor-cluster.js';
import { ForkedNodeGroup, type ForkedNode } from '../harness/forked-node.js';
import { waitFor } from '../harness/wait-for.js';

/** Deadline of a query the tests make to settle the links and mailboxes, ms. */
const SYNC_TIMEOUT_MS = 5_000;
/** How long a notice may take when nothing has to detect a failure first (a stop, a crash, a missing actor), ms. */
const NOTICE_TIMEOUT_MS = 10_000;
/** How long a node-down or node-left notice may take: membership's verdict first (SWIM down after about 2.5 s with the harness's timers), ms. */
const VERDICT_TIMEOUT_MS = 20_000;

/** A notice as `node/path reason`, for comparing whole lists. */
const describeNotice = (r: Recorded): string => `${r.message?.type} ${r.message?.ref?.$ref}/${(r.message?.ref?.path ?? []).join('/')} ${r.message?.reason}`;
const notice = (target: Ref, reason: string): string => `terminated ${target.$ref}/${target.path.join('/')} ${reason}`;

async function query(from: ForkedNode, to: Ref, message: unknown): Promise<any> {
  const outcome = await from.call<QueryOutcome>('query', { to, message, timeoutMs: SYNC_TIMEOUT_MS });
  if ('error' in outcome) throw new Error(`${from.nodeName}'s query of ${to.$ref}/${to.path.join('/')} failed: ${JSON.stringify(outcome.error)}`);
  return outcome.value;
}

/** Returns once every frame each of `others` sent to `at` before now has arrived there: a query to its anchor, answered on the same ordered link. */
async function roundTrips(at: ForkedNode, others: ForkedNode[]): Promise<void> {
  await Promise.all(others.map((o) => query(at, ref(o, 'anchor'), { sync: 'round trip' })));
}

/** The notices recorder `name` of `at` received, after a sync through its mailbox (past everything dispatched to it so far). */
async function watched(at: ForkedNode, name: string): Promise<string[]> {
  await query(at, ref(at, name), { sync: 'mailbox' });
  return (await at.call<Recorded[]>('recorded', { name })).map(describeNotice).sort();
}

/** The notices the monitor callbacks of `at` recorded as `as` (recorded when they fire: no mailbox to pass). */
async function monitored(at: ForkedNode, as: string): Promise<string[]> {
  return (await at.call<Recorded[]>('recorded', { name: as })).map(describeNotice).sort();
}

describe('monitors across node processes', () => {
  const group = new ForkedNodeGroup();
  let cluster: ActorCluster;
  let a: ForkedNode;
  let b: ForkedNode;
  let c: ForkedNode;

  /** Fails a wait when one of `nodes` (those meant to be running) exited. */
  const exitedAny = (...nodes: ForkedNode[]) => (): string | undefined => nodes.map((n) => n.exitedReason()).find((r) => r !== undefined);

  before(async () => {
    cluster = await startActorCluster(group, ['watch-a', 'watch-b', 'watch-c']);
    [a, b, c] = cluster.nodes as [ForkedNode, ForkedNode, ForkedNode];
    for (const n of [a, b, c]) await n.call('spawn', { behaviour: 'recorder', name: 'anchor' });
  });
  after(() => group.cleanup());

  // First in the file: the former process's watch is its first monitor, so it has the id the new process gives its own first one.
  it('a watcher node restarted under its name at once (kill -9): its new process hears about its own watch only, not about its former process\'s', async () => {
    const formerTarget = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'watched-by-former' });
    const target = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'watched-by-restarted' });
    await c.call('spawn', { behaviour: 'recorder', name: 'watcher-0' });
    await c.call('watch', { watcher: ref(c, 'watcher-0'), target: formerTarget });
    await roundTrips(c, [b]);

    c = await cluster.restart(c); // kill -9, then started again with its name, port and data dir
    await c.call('spawn', { behaviour: 'recorder', name: 'anchor' });
    await c.call('spawn', { behaviour: 'recorder', name: 'watcher-0' });
    await c.call('watch', { watcher: ref(c, 'watcher-0'), target });
    await roundTrips(c, [b]);
    await b.call('stop', { name: 'watched-by-former' });
    await roundTrips(c, [b]);
    assert.deepEqual(await watched(c, 'watcher-0'), [], 'the new process is not told about the former process\'s target (nor, wrongly, about its own)');

    await b.call('stop', { name: 'watched-by-restarted' });
    await waitFor(async () => (await watched(c, 'watcher-0')).length >= 1, { timeoutMs: NOTICE_TIMEOUT_MS, what: 'the new process\'s notice', abortIf: exitedAny(a, b, c) });
    await roundTrips(c, [b]);
    assert.deepEqual(await watched(c, 'watcher-0'), [notice(target, 'stopped')]);
  });

  it('a target node restarted under its name at once (kill -9): the watch of its actor fires node-down once, and does not move to a new actor at the same path', async () => {
    const target = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'lives-in-former-b' });
    await a.call('spawn', { behaviour: 'recorder', name: 'watcher-r' });
    await a.call('watch', { watcher: ref(a, 'watcher-r'), target });
    await roundTrips(a, [b]);

    b = await cluster.restart(b); // kill -9, then started again with its name, port and data dir
    await b.call('spawn', { behaviour: 'recorder', name: 'anchor' });
    await b.call('spawn', { behaviour: 'recorder', name: 'lives-in-former-b' }); // the same path, in the new process
    await waitFor(async () => (await watched(a, 'watcher-r')).length >= 1, { timeoutMs: VERDICT_TIMEOUT_MS, what: 'the notice of the former process\'s actor', abortIf: exitedAny(a, b, c) });
    await roundTrips(a, [b]);
    assert.deepEqual(await watched(a, 'watcher-r'), [notice(target, 'node-down')], 'its actor died with the former process; the new actor at that path is another actor');
  });

  it('an actor stopped, and one crashed, on another node: each watch (on two nodes) and a monitor callback hear it once, with its reference and reason; none after unwatch', async () => {
    const stopping = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'stopping' });
    const crashing = await b.call<Ref>('spawn', { behaviour: 'crasher', name: 'crashing' });
    const unwatched = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'unwatched' });
    const direct = await b.call<Ref>('spawn-direct', { name: 'direct' }); // its stop is found by b's periodic check
    for (const n of [a, c]) await n.call('spawn', { behaviour: 'recorder', name: 'watcher-1' });
    const [aWatcher, cWatcher] = [ref(a, 'watcher-1'), ref(c, 'watcher-1')];
    for (const target of [stopping, stopping, crashing, direct, unwatched]) await a.call('watch', { watcher: aWatcher, target }); // stopping twice: one watch
    await a.call('monitor', { target: stopping, as: 'monitor-1' });
    await a.call('unwatch', { watcher: aWatcher, target: unwatched });
    await c.call('watch', { watcher: cWatcher, target: stopping });
    // b has the watches (and the unwatch) before it stops anything: they went before these queries on the same links.
    await Promise.all([roundTrips(a, [b]), roundTrips(c, [b])]);

    await b.call('stop', { name: 'unwatched' });
    await b.call('stop', { name: 'stopping' });
    await b.call('stop', { name: 'direct' });
    await a.call('dispatch', { to: crashing, message: 'crash' });
    await waitFor(async () => (await watched(a, 'watcher-1')).length >= 3 && (await watched(c, 'watcher-1')).length >= 1 && (await monitored(a, 'monitor-1')).length >= 1, {
      timeoutMs: NOTICE_TIMEOUT_MS, what: 'the notices of the stops and the crash on b at a\'s and c\'s watchers and a\'s monitor', abortIf: exitedAny(a, b, c),
    });

    await Promise.all([roundTrips(a, [b]), roundTrips(c, [b])]);
    assert.deepEqual(await watched(a, 'watcher-1'), [notice(crashing, 'crashed'), notice(direct, 'stopped'), notice(stopping, 'stopped')], 'a\'s watcher: one notice per watched actor, none for the one unwatched');
    assert.deepEqual(await watched(c, 'watcher-1'), [notice(stopping, 'stopped')], 'c\'s watcher');
    assert.deepEqual(await monitored(a, 'monitor-1'), [notice(stopping, 'stopped')], 'a\'s monitor callback');
  });

  it('watching an actor that never existed, or has already stopped, on another node: terminated with not-found at once, once', async () => {
    await b.call('spawn', { behaviour: 'recorder', name: 'short-lived' });
    await b.call('stop', { name: 'short-lived' });
    await a.call('spawn', { behaviour: 'recorder', name: 'watcher-2' });
    const targets = [ref(b, 'short-lived'), ref(b, 'never-was'), ref(c, 'never-was')];
    for (const target of targets) await a.call('watch', { watcher: ref(a, 'watcher-2'), target });
    await a.call('monitor', { target: ref(c, 'never-was'), as: 'monitor-2' });
    await waitFor(async () => (await watched(a, 'watcher-2')).length >= targets.length && (await monitored(a, 'monitor-2')).length >= 1, {
      timeoutMs: NOTICE_TIMEOUT_MS, what: 'not-found for each actor that is not there', abortIf: exitedAny(a, b, c),
    });

    await roundTrips(a, [b, c]);
    assert.deepEqual(await watched(a, 'watcher-2'), targets.map((t) => notice(t, 'not-found')).sort());
    assert.deepEqual(await monitored(a, 'monitor-2'), [notice(ref(c, 'never-was'), 'not-found')]);
  });

  it('kill -9 of a node: every watch of its actors, on each other node, hears node-down once, after membership declared the node down; a watch placed after that at once', async () => {
    const doomed = [await c.call<Ref>('spawn', { behaviour: 'recorder', name: 'doomed-1' }), await c.call<Ref>('spawn', { behaviour: 'recorder', name: 'doomed-2' })];
    for (const n of [a, b]) {
      await n.call('spawn', { behaviour: 'recorder', name: 'watcher-3' });
      for (const target of doomed) await n.call('watch', { watcher: ref(n, 'watcher-3'), target });
    }
    await a.call('monitor', { target: doomed[0], as: 'monitor-3' });
    // c holds the watches when it dies.
    await Promise.all([roundTrips(a, [c]), roundTrips(b, [c])]);

    await c.kill();
    const expected = doomed.map((t) => notice(t, 'node-down')).sort();
    for (const n of [a, b]) {
      await waitFor(async () => (await watched(n, 'watcher-3')).length >= doomed.length, {
        timeoutMs: VERDICT_TIMEOUT_MS, what: `node-down at ${n.nodeName}'s watcher for both of c's actors`, abortIf: exitedAny(a, b),
      });
      // The notices come from membership's verdict, not from the broken link: by now this node's view has c down.
      assert.equal((await n.call<Record<string, string>>('member-states'))[c.nodeName], 'down', `${n.nodeName}'s view of c once the notices were in`);
    }
    await waitFor(async () => (await monitored(a, 'monitor-3')).length >= 1, { timeoutMs: VERDICT_TIMEOUT_MS, what: 'node-down at a\'s monitor callback', abortIf: exitedAny(a, b) });

    for (const n of [a, b]) assert.deepEqual(await watched(n, 'watcher-3'), expected, `${n.nodeName}'s watcher`);
    assert.deepEqual(await monitored(a, 'monitor-3'), [notice(doomed[0]!, 'node-down')], 'a\'s monitor callback');

    await a.call('spawn', { behaviour: 'recorder', name: 'watcher-3-late' });
    await a.call('watch', { watcher: ref(a, 'watcher-3-late'), target: doomed[1] });
    await waitFor(async () => (await watched(a, 'watcher-3-late')).length >= 1, { timeoutMs: NOTICE_TIMEOUT_MS, what: 'node-down for a watch placed after c was down', abortIf: exitedAny(a, b) });
    assert.deepEqual(await watched(a, 'watcher-3-late'), [notice(doomed[1]!, 'node-down')]);
  });

  it('a node that leaves gracefully: a watch of its actor and a monitor callback hear node-left once; a watch placed after it left at once', async () => {
    const leaving = await b.call<Ref>('spawn', { behaviour: 'recorder', name: 'leaving' });
    await a.call('spawn', { behaviour: 'recorder', name: 'watcher-4' });
    await a.call('watch', { watcher: ref(a, 'watcher-4'), target: leaving });
    await a.call('monitor', { target: leaving, as: 'monitor-4' });
    await roundTrips(a, [b]);

    await b.call('leave');
    await waitFor(async () => (await watched(a, 'watcher-4')).length >= 1 && (await monitored(a, 'monitor-4')).length >= 1, {
      timeoutMs: VERDICT_TIMEOUT_MS, what: 'node-left at a\'s watcher and monitor callback', abortIf: exitedAny(a, b),
    });
    assert.equal((await a.call<Record<string, string>>('member-states'))[b.nodeName], 'left', 'a\'s view of b once the notices were in');
    assert.deepEqual(await watched(a, 'watcher-4'), [notice(leaving, 'node-left')]);
    assert.deepEqual(await monitored(a, 'monitor-4'), [notice(leaving, 'node-left')]);

    await a.call('watch', { watcher: ref(a, 'watcher-4'), target: leaving });
    await waitFor(async () => (await watched(a, 'watcher-4')).length >= 2, { timeoutMs: NOTICE_TIMEOUT_MS, what: 'node-left for a watch placed after b left', abortIf: exitedAny(a, b) });
    assert.deepEqual(await watched(a, 'watcher-4'), [notice(leaving, 'node-left'), notice(leaving, 'node-left')], 'the second watch heard it once');
  });
});
