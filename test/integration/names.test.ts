/**
 * Names and singletons across three node processes (test/harness/names-node.ts,
 * driven by forked-node.ts), with `kill -9` as the crash: concurrent
 * registration from every process (exactly one wins), whereis everywhere,
 * and a singleton that fails over when its node is killed, never running
 * twice: each process records every start and stop of its instance on the
 * host's clock, and the killed process's instance counts as running until
 * the kill.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChildCommandError, ForkedNodeGroup, type ForkedNode } from '../harness/forked-node.js';
import { hostNow, type InstanceEvent } from '../harness/names-node.js';
import { freePort } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../harness/names-node.js');

/** Whether two of the reported instance intervals overlap; `killedAt` closes the intervals of killed nodes. */
function overlap(events: readonly InstanceEvent[], killedAt: ReadonlyMap<string, number>): string | null {
  const intervals: { node: string; from: number; to: number }[] = [];
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.running) open.set(e.node, e.at);
    else if (open.has(e.node)) {
      intervals.push({ node: e.node, from: open.get(e.node)!, to: e.at });
      open.delete(e.node);
    }
  }
  for (const [node, from] of open) intervals.push({ node, from, to: killedAt.get(node) ?? Infinity });
  for (const a of intervals) {
    for (const b of intervals) {
      if (a !== b && a.from < b.to && b.from < a.to) return `${a.node} [${a.from}, ${a.to}] and ${b.node} [${b.from}, ${b.to}]`;
    }
  }
  return null;
}

describe('names and singletons across three processes, kill -9', () => {
  const group = new ForkedNodeGroup();
  const nodes: ForkedNode[] = [];
  const killedAt = new Map<string, number>();
  /** Every instance start and stop reported so far, from the processes still running (a killed one's were read before the kill). */
  const events: InstanceEvent[] = [];
  const poll = async (): Promise<void> => {
    const reported = await Promise.all(nodes.filter((n) => n.alive).map((n) => n.call<InstanceEvent[]>('instances')));
    const fromKilled = events.filter((e) => killedAt.has(e.node));
    events.splice(0, events.length, ...fromKilled, ...reported.flat());
    events.sort((x, y) => x.at - y.at);
  };
  const running = (): string[] => {
    const state = new Map<string, boolean>();
    for (const e of events) state.set(e.node, e.running);
    return [...state].filter(([node, on]) => on && !killedAt.has(node)).map(([node]) => node);
  };
  const live = (): ForkedNode[] => nodes.filter((n) => n.alive);

  before(async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    nodes.push(...ports.map((_, i) => group.start({ script: SCRIPT, name: `mp${i}` })));
    for (const [i, n] of nodes.entries()) await n.call('start', { name: `mp${i}`, clusterPort: ports[i], seeds: i === 0 ? [] : [`mp0@127.0.0.1:${ports[0]}`], dataDir: n.dataDir });
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.call<number>('up')))).every((up) => up === 3) || undefined, { timeoutMs: 20_000, what: 'three nodes up on every node' });
  });
  after(() => group.cleanup());

  it('of three concurrent registrations from three processes exactly one wins; the others get NameTakenError naming it', async () => {
    const outcomes = await Promise.allSettled(nodes.map((n) => n.call('register', { name: 'lobby', actor: 'lobby' })));
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [nodes[i]!.nodeName] : []));
    assert.equal(winners.length, 1, `one winner: ${outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok')).join(' | ')}`);
    const holder = `${winners[0]}/lobby`;
    for (const o of outcomes) {
      if (o.status === 'fulfilled') continue;
      assert.ok(o.reason instanceof ChildCommandError && o.reason.remoteName === 'NameTakenError', String(o.reason));
      assert.ok(o.reason.message.includes(`registered to ${holder} (by ${winners[0]})`), o.reason.message);
    }
    for (const n of nodes) assert.equal(await n.call('whereis', { name: 'lobby' }), holder, `whereis on ${n.nodeName}`);
  });

  it('runs a singleton on exactly one process, moves it when that process is killed, never two at once; the killed node\'s names are released', async () => {
    await Promise.all(nodes.map((n) => n.call('singleton', { name: 'clock' })));
    const holderName = await waitFor(async () => (await poll(), running().length === 1 ? running()[0] : undefined), { timeoutMs: 20_000, what: 'one instance running' });
    const holder = nodes.find((n) => n.nodeName === holderName)!;
    await holder.call('register', { name: 'tenant', actor: 'tenant' });
    for (const n of nodes) await waitFor(async () => (await n.call('whereis', { name: 'tenant' })) !== null || undefined, { timeoutMs: 10_000, what: `tenant seen on ${n.nodeName}` });

    await poll();
    killedAt.set(holder.nodeName, hostNow());
    await holder.kill();
    const next = await waitFor(async () => (await poll(), running()[0]), { timeoutMs: 30_000, what: 'an instance on another process after the kill' });
    assert.notEqual(next, holder.nodeName);
    const started = events.filter((e) => e.node === next && e.running).at(-1)!;
    assert.ok(started.at > killedAt.get(holder.nodeName)!, 'the new instance started after the old one was killed');
    for (const n of live()) await waitFor(async () => (await n.call('whereis', { name: 'tenant' })) === null || undefined, { timeoutMs: 20_000, what: `the killed node's name released, seen on ${n.nodeName}` });
    for (const n of live()) await waitFor(async () => (await n.call('whereis', { name: '$singleton/clock' })) === `${next}/$singleton-clock` || undefined, { timeoutMs: 10_000, what: `whereis of the moved singleton on ${n.nodeName}` });
    await poll();
    assert.equal(running().length, 1);
    assert.equal(overlap(events, killedAt), null, 'no two instances ran at once');
  });
});
