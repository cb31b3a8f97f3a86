/**
 * The library API in one process: startNode, members(), membership events,
 * access to the actor system, and stop() as a graceful leave.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { dispatch, query, spawn } from 'nact';
import { startNode, type MemberStatus, type TroupeNode } from '../../lib/index.js';
import { freePort } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

describe('startNode (library API)', () => {
  const dirs: string[] = [];
  const nodes: TroupeNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop({ leave: false })));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, clusterPort: number, seeds: string[]): Promise<TroupeNode> {
    const dataDir = mkdtempSync(join(tmpdir(), `troupe-lib-${name}-`));
    dirs.push(dataDir);
    const node = await startNode({
      config: {
        nodeName: `${name}@127.0.0.1`,
        clusteringEnabled: true,
        discoveryTypes: ['static'],
        clusterNodes: seeds,
        clusterPort,
        port: 0,
        httpBind: '127.0.0.1',
        clusterBind: '127.0.0.1',
        dataDir,
        cookie: 'library-test',
        heartbeatIntervalMs: 300,
        heartbeatTimeoutMs: 1500,
        logLevel: 'silent',
      },
    });
    nodes.push(node);
    return node;
  }

  it('forms a cluster, emits member events, exposes the actor system, and leaves gracefully', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await start('la', portA, []);
    const upEvents: MemberStatus[] = [];
    a.on('member-up', (m) => upEvents.push(m));
    a.on('member-up', () => {
      throw new Error('a careless listener');
    });
    const b = await start('lb', portB, [`la@127.0.0.1:${portA}`]);

    await waitFor(() => a.members().filter((m) => m.state === 'up').length === 2 && b.members().filter((m) => m.state === 'up').length === 2, { timeoutMs: 15_000, what: 'both nodes to see 2 up' });
    assert.ok(upEvents.some((m) => m.name === 'lb@127.0.0.1'), 'member-up for lb');
    assert.equal(a.isReady(), true);
    assert.equal(a.members().filter((m) => m.state === 'up').length, 2, 'a throwing listener does not disturb membership');
    assert.equal(a.members().find((m) => m.self)?.name, 'la@127.0.0.1');

    // Application actors run in the node's actor system.
    const echo = spawn(a.system!, (state: number, msg: { sender: any; n: number }) => {
      dispatch(msg.sender, state + msg.n);
      return state + msg.n;
    }, 'echo', { initialState: 0 });
    assert.equal(await query(echo, (sender: any) => ({ sender, n: 2 }), 1000), 2);

    const left = once(a, 'member-left');
    await b.stop();
    const [member] = (await left) as [MemberStatus];
    assert.equal(member.name, 'lb@127.0.0.1');
    assert.equal(a.members().find((m) => m.name === 'lb@127.0.0.1')?.state, 'left');
    assert.equal(b.isLive(), false);
    await b.stop(); // idempotent
  });
});
