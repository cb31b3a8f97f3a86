/**
 * Pub/sub between three nodes in one process (real transport and HTTP on
 * loopback): fan-out to subscribers on every node exactly once and in
 * publish order per publisher, one frame per node; a gone subscriber and a
 * stopped node's subscriptions dropped everywhere; the SSE endpoint followed
 * by a plain node:http client (ids, keep-alive, Last-Event-ID resume, gaps)
 * and the `$cluster` system topic.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn, stop, type Ref } from 'nact';
import { pino } from 'pino';
import { createHttpApp } from '../../lib/http/app.js';
import { startHttpServer } from '../../lib/http/server.js';
import { createMetrics } from '../../lib/metrics.js';
import { startNode, type TroupeNode } from '../../lib/index.js';
import type { TopicMessage } from '../../lib/remote/topics.js';
import { httpRequest } from '../harness/http.js';
import { SseClient } from '../harness/sse-client.js';
import { freePort } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

describe('pub/sub across three nodes in one process', () => {
  const dirs: string[] = [];
  const nodes: TroupeNode[] = [];
  const streams: SseClient[] = [];
  let a: TroupeNode;
  let b: TroupeNode;
  let c: TroupeNode;

  async function start(name: string, seeds: string[]): Promise<TroupeNode> {
    const dataDir = mkdtempSync(join(tmpdir(), `troupe-pubsub-${name}-`));
    dirs.push(dataDir);
    const node = await startNode({
      config: {
        nodeName: `${name}@127.0.0.1`, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: seeds, clusterPort: await freePort(), port: 0,
        httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir, cookie: 'pubsub-test', heartbeatIntervalMs: 300, heartbeatTimeoutMs: 1500, logLevel: 'silent',
      },
    });
    nodes.push(node);
    return node;
  }

  const upCount = (node: TroupeNode) => node.members().filter((m) => m.state === 'up').length;
  /** An actor on `node` that records the messages of its topics. */
  function recorder(node: TroupeNode, name: string): { ref: Ref<any>; seen: unknown[] } {
    const seen: unknown[] = [];
    const ref = spawn(node.system!, (state: undefined, msg: TopicMessage) => {
      seen.push(msg.message);
      return state;
    }, name);
    return { ref, seen };
  }
  const subscribersOn = (observer: TroupeNode, topic: string) => observer.topics!.subscribers(topic).map((r) => r.toString()).sort();
  const publishOverHttp = (node: TroupeNode, topic: string, body: unknown) =>
    httpRequest('POST', `http://127.0.0.1:${node.httpPort}/api/topics/${topic}`, JSON.stringify(body), { 'content-type': 'application/json' });
  async function follow(node: TroupeNode, topic: string, headers: Record<string, string> = {}, port = node.httpPort): Promise<SseClient> {
    const client = await SseClient.open(`http://127.0.0.1:${port}/api/topics/${topic}/events`, headers);
    streams.push(client);
    return client;
  }

  before(async () => {
    a = await start('pa', []);
    const seed = [`pa@127.0.0.1:${a.clusterPort}`];
    [b, c] = [await start('pb', seed), await start('pc', seed)];
    await waitFor(() => [a, b, c].every((n) => upCount(n) === 3), { timeoutMs: 20_000, what: 'three nodes up on every node' });
  });
  after(async () => {
    for (const s of streams) s.close();
    await Promise.all(nodes.map((n) => n.stop({ leave: false })));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers each message once to every subscriber on every node, in publish order per publisher, one frame per node', async () => {
    const recorders = [a, b, c].flatMap((node, i) => [recorder(node, `fan-${i}-x`), recorder(node, `fan-${i}-y`)]);
    [a, a, b, b, c, c].forEach((node, i) => node.topics!.subscribe('fanout', recorders[i]!.ref));
    for (const observer of [a, b, c]) {
      await waitFor(() => subscribersOn(observer, 'fanout').length === 6 || undefined, { timeoutMs: 10_000, what: `${observer.name} knowing the 6 subscribers` });
    }
    const framesBefore = c.topics!.stats.framesReceived;
    for (let n = 0; n < 100; n++) {
      for (const publisher of [a, b]) {
        const receipt = publisher.topics!.publish('fanout', { from: publisher.name, n });
        assert.deepEqual(receipt, { remoteNodes: 2, localSubscribers: 2 });
      }
    }
    await waitFor(() => recorders.every((r) => r.seen.length >= 200) || undefined, { timeoutMs: 10_000, what: 'every subscriber receiving the 200 messages' });
    for (const { seen } of recorders) {
      assert.equal(seen.length, 200, 'each message exactly once');
      for (const publisher of [a, b]) {
        const order = (seen as Array<{ from: string; n: number }>).filter((m) => m.from === publisher.name).map((m) => m.n);
        assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i), `in ${publisher.name}'s publish order`);
      }
    }
    assert.equal(c.topics!.stats.framesReceived - framesBefore, 200, 'one frame per publish reached c, not one per subscriber');
  });

  it('drops a subscriber whose actor stopped, on every node; unsubscribe spreads too', async () => {
    const gone = recorder(b, 'soon-gone');
    const stays = recorder(b, 'stays');
    b.topics!.subscribe('drops', gone.ref);
    b.topics!.subscribe('drops', stays.ref);
    await waitFor(() => subscribersOn(a, 'drops').length === 2 || undefined, { timeoutMs: 10_000, what: 'a knowing both subscribers on b' });
    stop(gone.ref);
    a.topics!.publish('drops', 'hello');
    await waitFor(() => subscribersOn(a, 'drops').join() === `${b.name}/stays` || undefined, { timeoutMs: 10_000, what: 'the stopped subscriber dropped from a\'s view' });
    assert.deepEqual(stays.seen, ['hello']);
    assert.ok(b.topics!.stats.dropped['subscriber-gone'] >= 1);
    assert.equal(b.topics!.unsubscribe('drops', stays.ref), true);
    await waitFor(() => subscribersOn(c, 'drops').length === 0 || undefined, { timeoutMs: 10_000, what: 'the unsubscribe reaching c' });
    assert.deepEqual(a.topics!.publish('drops', 'nobody'), { remoteNodes: 0, localSubscribers: 0 });
  });

  it('streams a topic over SSE to a plain HTTP client and resumes after Last-Event-ID', async () => {
    const first = await follow(c, 'sse');
    await waitFor(() => subscribersOn(a, 'sse').some((r) => r.startsWith(`${c.name}/`)) || undefined, { timeoutMs: 10_000, what: 'a knowing c\'s stream subscribed' });
    for (let n = 1; n <= 3; n++) assert.equal((await publishOverHttp(a, 'sse', { n })).status, 202);
    await waitFor(() => first.events.length >= 3 || undefined, { timeoutMs: 10_000, what: 'three events on the stream' });
    assert.deepEqual(first.messages(), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const ids = first.events.map((e) => e.id!);
    assert.equal(new Set(ids).size, 3, 'every event has its own id');
    first.close();
    await waitFor(() => c.topics!.stats.streams === 0 || undefined, { timeoutMs: 5_000, what: 'c noticing the client left' });

    const delivered = c.topics!.stats.delivered;
    for (const n of [4, 5]) await publishOverHttp(a, 'sse', { n });
    await waitFor(() => c.topics!.stats.delivered >= delivered + 2 || undefined, { timeoutMs: 10_000, what: 'c receiving the messages published while nobody streamed' });
    const resumed = await follow(c, 'sse', { 'Last-Event-ID': ids[2]! });
    await waitFor(() => resumed.events.length >= 2 || undefined, { timeoutMs: 10_000, what: 'the two missed messages on the resumed stream' });
    assert.deepEqual(resumed.messages(), [{ n: 4 }, { n: 5 }]);
    const earlier = await follow(c, 'sse', { 'Last-Event-ID': ids[0]! });
    await waitFor(() => earlier.events.length >= 4 || undefined, { timeoutMs: 10_000, what: 'a resume from the first id' });
    assert.deepEqual(earlier.messages(), [{ n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);

    const foreign = await follow(c, 'sse', { 'Last-Event-ID': 'f00d-1' });
    await waitFor(() => foreign.events.length >= 1 || undefined, { timeoutMs: 10_000, what: 'the gap event' });
    assert.equal(foreign.events[0]!.event, 'gap');
    await publishOverHttp(a, 'sse', { n: 6 });
    await waitFor(() => resumed.events.length >= 3 && foreign.events.length >= 2 || undefined, { timeoutMs: 10_000, what: 'a live message on every open stream' });
    assert.deepEqual(foreign.messages(), [{ n: 6 }], 'after a gap from another run the stream goes on live');
  });

  it('sends a keep-alive comment on an idle stream', async () => {
    const app = createHttpApp(c, { metrics: createMetrics(() => c.stats()), log: pino({ level: 'silent' }), topicKeepAliveMs: 50 });
    const server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const idle = await follow(c, 'quiet', {}, server.port);
      await waitFor(() => idle.comments.filter((line) => line === 'keep-alive').length >= 2 || undefined, { timeoutMs: 10_000, what: 'two keep-alive comments' });
      assert.deepEqual(idle.events, []);
      idle.close();
    } finally {
      await server.close();
    }
  });

  it('streams $cluster: this node\'s view of a member joining and going down; the down node\'s subscriptions are dropped', async () => {
    const cluster = await follow(a, '$cluster');
    const d = await start('pd', [`pa@127.0.0.1:${a.clusterPort}`]);
    const seenOnA = (event: string) => cluster.messages().some((m) => (m as { event: string; node?: string }).event === event && (m as { node?: string }).node === d.name);
    await waitFor(() => seenOnA('member-up') || undefined, { timeoutMs: 20_000, what: 'member-up of pd on a\'s $cluster stream' });
    assert.equal((cluster.messages()[0] as { seenBy: string }).seenBy, a.name);

    const listener = recorder(d, 'listener');
    d.topics!.subscribe('leaving', listener.ref);
    await waitFor(() => subscribersOn(a, 'leaving').length === 1 || undefined, { timeoutMs: 10_000, what: 'a knowing pd\'s subscriber' });
    await d.stop({ leave: false });
    await waitFor(() => seenOnA('member-down') || undefined, { timeoutMs: 20_000, what: 'member-down of pd on a\'s $cluster stream' });
    for (const observer of [a, b, c]) {
      await waitFor(() => subscribersOn(observer, 'leaving').length === 0 || undefined, { timeoutMs: 10_000, what: `${observer.name} dropping pd's subscriptions` });
    }
    assert.deepEqual(a.topics!.publish('leaving', 'anyone?'), { remoteNodes: 0, localSubscribers: 0 });
    assert.equal((await publishOverHttp(a, '$cluster', {})).status, 400, 'only the runtime publishes on a system topic');
  });
});
