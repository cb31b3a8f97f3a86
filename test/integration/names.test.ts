/**
 * Names and singletons across three node processes (test/harness/names-node.ts),
 * with `kill -9` as the crash: concurrent registration from every process
 * (exactly one wins), whereis everywhere, and a singleton that fails over
 * when its node is killed, never running twice: each process reports every
 * start and stop of its instance with the host's clock, and the killed
 * process's instance counts as running until the kill.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../harness/troupe-process.js';
import { hostNow, NamesNodeProcess, type CommandError, type InstanceEvent } from '../harness/names-node.js';
import { waitFor } from '../harness/wait-for.js';

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
  const dirs: string[] = [];
  const nodes: NamesNodeProcess[] = [];
  const events: InstanceEvent[] = [];
  const killedAt = new Map<string, number>();
  const running = (): string[] => {
    const state = new Map<string, boolean>();
    for (const e of events) state.set(e.node, e.running);
    return [...state].filter(([node, on]) => on && !killedAt.has(node)).map(([node]) => node);
  };
  const live = (): NamesNodeProcess[] => nodes.filter((n) => n.alive);

  before(async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      const dataDir = mkdtempSync(join(tmpdir(), `troupe-names-mp${i}-`));
      dirs.push(dataDir);
      const proc = new NamesNodeProcess(`mp${i}@127.0.0.1`, (e) => events.push(e));
      nodes.push(proc);
      await proc.call('start', { name: `mp${i}`, clusterPort: port, seeds: i === 0 ? [] : [`mp0@127.0.0.1:${ports[0]}`], dataDir });
    }
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.call<number>('up')))).every((up) => up === 3) || undefined, { timeoutMs: 20_000, what: 'three nodes up on every node' });
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('of three concurrent registrations from three processes exactly one wins; the others get NameTakenError naming it', async () => {
    const outcomes = await Promise.allSettled(nodes.map((n) => n.call('register', { name: 'lobby', actor: 'lobby' })));
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [nodes[i]!.name] : []));
    assert.equal(winners.length, 1, `one winner: ${outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok')).join(' | ')}`);
    const holder = `${winners[0]}/lobby`;
    for (const o of outcomes) {
      if (o.status === 'fulfilled') continue;
      const detail = (o.reason as { detail?: CommandError }).detail;
      assert.equal(detail?.name, 'NameTakenError', String(o.reason));
      assert.equal(detail?.holder, holder);
      assert.equal(detail?.registeredBy, winners[0]);
    }
    for (const n of nodes) assert.equal(await n.call('whereis', { name: 'lobby' }), holder, `whereis on ${n.name}`);
  });

  it('runs a singleton on exactly one process, moves it when that process is killed, never two at once; the killed node\'s names are released', async () => {
    await Promise.all(nodes.map((n) => n.call('singleton', { name: 'clock' })));
    const holderName = await waitFor(() => (running().length === 1 ? running()[0] : undefined), { timeoutMs: 20_000, what: 'one instance running' });
    const holder = nodes.find((n) => n.name === holderName)!;
    await holder.call('register', { name: 'tenant', actor: 'tenant' });
    for (const n of nodes) await waitFor(async () => (await n.call('whereis', { name: 'tenant' })) !== null || undefined, { timeoutMs: 10_000, what: `tenant seen on ${n.name}` });

    killedAt.set(holder.name, hostNow());
    await holder.kill();
    const next = await waitFor(() => running()[0], { timeoutMs: 30_000, what: 'an instance on another process after the kill' });
    assert.notEqual(next, holder.name);
    const started = events.filter((e) => e.node === next && e.running).at(-1)!;
    assert.ok(started.at > killedAt.get(holder.name)!, 'the new instance started after the old one was killed');
    for (const n of live()) await waitFor(async () => (await n.call('whereis', { name: 'tenant' })) === null || undefined, { timeoutMs: 20_000, what: `the killed node's name released, seen on ${n.name}` });
    for (const n of live()) await waitFor(async () => (await n.call('whereis', { name: '$singleton/clock' })) === `${next}/$singleton-clock` || undefined, { timeoutMs: 10_000, what: `whereis of the moved singleton on ${n.name}` });
    assert.equal(running().length, 1);
    assert.equal(overlap(events, killedAt), null, 'no two instances ran at once');
  });
});
