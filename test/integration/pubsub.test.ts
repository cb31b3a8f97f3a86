/**
 * Pub/sub across node processes: three real nodes on 127.0.0.1, each a
 * forked child running test/harness/pubsub-node.ts (`startNode` with HTTP on
 * its own port, recorder actors and IPC commands), with its own data dir.
 * The in-process test (pubsub-in-process.test.ts) covers the same features
 * with the nodes sharing one event loop; here every frame crosses a real
 * socket between processes, and a node crash is `kill -9`.
 *
 * Covered: fan-out to several subscribers on each of the three nodes from
 * two publishing nodes, through the library and through
 * `POST /api/topics/:topic`, each message received exactly once and in
 * publish order per publisher, one frame per node; a topic followed over
 * SSE by a plain node:http client on another node than the publisher's
 * (`data:` JSON with ids, in order), the client closing mid-stream and
 * resuming with `Last-Event-ID` with no message missed or repeated, and an
 * id of one node refused as a gap by another; a subscriber node killed:
 * once membership sees it down its subscriptions are dropped on every node,
 * publishes reach the others exactly once and no frame goes toward it
 * (publish receipts, `stats` and `/metrics`), and A's `$cluster` stream
 * reports it down. The kill runs last: it takes node B away.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { TopicsStats } from '../../lib/remote/topics.js';
import { ForkedNodeGroup, type ForkedNode } from '../harness/forked-node.js';
import { httpRequest } from '../harness/http.js';
import { reservePorts } from '../harness/ports.js';
import { SseClient } from '../harness/sse-client.js';
import { waitFor } from '../harness/wait-for.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../harness/pubsub-node.js');
/** Library publishes of each publishing node in the fan-out test. */
const LIB_PUBLISHES = 200;
/** HTTP publishes of each publishing node in the fan-out test (one request at a time). */
const HTTP_PUBLISHES = 40;

interface Published {
  from: string;
  n: number;
}
interface Receipts {
  remoteNodes: number[];
  localSubscribers: number[];
}

/** One node process and its HTTP port. */
interface PubsubNode {
  proc: ForkedNode;
  name: string;
  http: number;
}

const range = (first: number, count: number): number[] => Array.from({ length: count }, (_, i) => first + i);
/** The `n` of the messages from `from`, in the order received. */
const numbersFrom = (received: Published[], from: string): number[] => received.filter((m) => m.from === from).map((m) => m.n);

describe('pub/sub across node processes', () => {
  const group = new ForkedNodeGroup();
  const streams: SseClient[] = [];
  /** Nodes the test killed on purpose: their exit does not fail a wait. */
  const killed = new Set<ForkedNode>();
  let a: PubsubNode;
  let b: PubsubNode;
  let c: PubsubNode;

  const exited = (): string | undefined => [a, b, c].filter((n) => n !== undefined && !killed.has(n.proc)).map((n) => n.proc.exitedReason()).find((r) => r !== undefined);
  const memberStates = (n: PubsubNode) => n.proc.call<Record<string, string>>('member-states');
  const subscribersOn = (n: PubsubNode, topic: string) => n.proc.call<string[]>('subscribers', { topic });
  const received = (n: PubsubNode, name: string) => n.proc.call<Published[]>('received', { name });
  const stats = (n: PubsubNode) => n.proc.call<TopicsStats>('stats');
  const publishLib = (n: PubsubNode, topic: string, from: string, first: number, count: number) =>
    n.proc.call<Receipts>('publish', { topic, from, first, count }, 60_000);

  async function publishHttp(n: PubsubNode, topic: string, body: unknown): Promise<{ remoteNodes: number; localSubscribers: number }> {
    const res = await httpRequest('POST', `http://127.0.0.1:${n.http}/api/topics/${topic}`, JSON.stringify(body), { 'content-type': 'application/json' });
    assert.equal(res.status, 202, `POST /api/topics/${topic} on ${n.name}: ${res.text}`);
    const answer = JSON.parse(res.text) as { published: boolean; topic: string; remoteNodes: number; localSubscribers: number };
    assert.equal(answer.published, true);
    return { remoteNodes: answer.remoteNodes, localSubscribers: answer.localSubscribers };
  }
  /** `count` HTTP publishes of `{ from, n }`, one request at a time; the distinct receipts. */
  async function publishHttpSeries(n: PubsubNode, topic: string, from: string, first: number, count: number): Promise<Receipts> {
    const remoteNodes = new Set<number>();
    const localSubscribers = new Set<number>();
    for (const i of range(first, count)) {
      const receipt = await publishHttp(n, topic, { from, n: i });
      remoteNodes.add(receipt.remoteNodes);
      localSubscribers.add(receipt.localSubscribers);
    }
    return { remoteNodes: [...remoteNodes].sort(), localSubscribers: [...localSubscribers].sort() };
  }
  async function follow(n: PubsubNode, topic: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await SseClient.open(`http://127.0.0.1:${n.http}/api/topics/${encodeURIComponent(topic)}/events`, headers);
    streams.push(client);
    return client;
  }
  async function metric(n: PubsubNode, name: string): Promise<number> {
    const res = await httpRequest('GET', `http://127.0.0.1:${n.http}/metrics`);
    assert.equal(res.status, 200);
    const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(res.text);
    assert.ok(line !== null, `${name} on ${n.name}'s /metrics`);
    return Number(line[1]);
  }
  /** Waits until every node in `observers` sees exactly `expected` as the subscribers of `topic`. */
  async function waitForSubscribers(observers: PubsubNode[], topic: string, expected: string[]): Promise<void> {
    const want = [...expected].sort();
    for (const observer of observers) {
      await waitFor(async () => JSON.stringify(await subscribersOn(observer, topic)) === JSON.stringify(want), {
        timeoutMs: 15_000, what: `${observer.name} to see the ${want.length} subscribers of ${topic}`, abortIf: exited,
      });
    }
  }
  /** Waits until recorder `name` on `n` has at least `count` messages, and returns them. */
  function waitForReceived(n: PubsubNode, name: string, count: number): Promise<Published[]> {
    return waitFor(async () => {
      const got = await received(n, name);
      return got.length >= count ? got : undefined;
    }, { timeoutMs: 30_000, what: `${count} messages at ${n.name}'s ${name}`, abortIf: exited });
  }

  before(async () => {
    const ports = await reservePorts(6);
    const names = ['ps-a', 'ps-b', 'ps-c'];
    const seeds = names.map((n, i) => `${n}@127.0.0.1:${ports[i]}`);
    [a, b, c] = names.map((name, i) => ({ proc: group.start({ script: SCRIPT, name }), name: `${name}@127.0.0.1`, http: ports[3 + i]! })) as [PubsubNode, PubsubNode, PubsubNode];
    await Promise.all([a, b, c].map(async (n, i) => {
      const started = await n.proc.call<{ pid: number; httpPort: number }>('start', { name: names[i], clusterPort: ports[i], httpPort: n.http, seeds, dataDir: n.proc.dataDir });
      assert.equal(started.httpPort, n.http, `${n.name} serves HTTP on the port reserved for it`);
    }));
    for (const n of [a, b, c]) {
      await waitFor(async () => Object.values(await memberStates(n)).filter((s) => s === 'up').length === 3, {
        timeoutMs: 20_000, what: `${n.name} to see 3 members up`, abortIf: exited,
      });
    }
  });
  after(async () => {
    for (const s of streams) s.close();
    await group.cleanup();
  });

  it('fans out to several subscribers on every node, from two publishing nodes through the library and HTTP: each message once, in publish order per publisher', async () => {
    const topic = 'fanout';
    const subscribers = new Map([a, b, c].map((n, i) => [n, range(0, 3).map((k) => `fan-${i}-${k}`)]));
    for (const [n, recorders] of subscribers) await n.proc.call('subscribe', { topic, names: recorders });
    await waitForSubscribers([a, b, c], topic, [...subscribers].flatMap(([n, recorders]) => recorders.map((r) => `${n.name}/${r}`)));
    const before = await Promise.all([a, b, c].map(stats));

    // Four publishers at once: the library and HTTP on a, the same on b. The library publishes yield every few
    // messages, so the HTTP publishes of the same node interleave with them.
    const publishers = [a, b].flatMap((n) => [{ node: n, from: `${n.name}/lib`, count: LIB_PUBLISHES }, { node: n, from: `${n.name}/http`, count: HTTP_PUBLISHES }]);
    const receipts = await Promise.all(publishers.map((p) => (p.from.endsWith('/lib') ? publishLib(p.node, topic, p.from, 0, p.count) : publishHttpSeries(p.node, topic, p.from, 0, p.count))));
    for (const [i, receipt] of receipts.entries()) {
      assert.deepEqual(receipt, { remoteNodes: [2], localSubscribers: [3] }, `every publish of ${publishers[i]!.from}: one frame to each other node, delivered to the 3 subscribers of its own`);
    }

    const total = 2 * (LIB_PUBLISHES + HTTP_PUBLISHES);
    for (const [n, recorders] of subscribers) {
      for (const name of recorders) {
        const got = await waitForReceived(n, name, total);
        assert.equal(got.length, total, `${n.name}/${name}: each message exactly once`);
        for (const p of publishers) assert.deepEqual(numbersFrom(got, p.from), range(0, p.count), `${n.name}/${name}: ${p.from}'s messages, each once, in publish order`);
      }
    }
    const after = await Promise.all([a, b, c].map(stats));
    const perNode = LIB_PUBLISHES + HTTP_PUBLISHES;
    assert.deepEqual(after.map((s, i) => s.framesReceived - before[i]!.framesReceived), [perNode, perNode, 2 * perNode],
      'one frame per publish reached each other node (a gets b\'s, b gets a\'s, c gets both), not one per subscriber');
    assert.deepEqual(after.map((s, i) => s.framesSent - before[i]!.framesSent), [2 * perNode, 2 * perNode, 0]);
    for (const [i, s] of after.entries()) assert.deepEqual(s.dropped, before[i]!.dropped, `nothing dropped on ${[a, b, c][i]!.name}`);
  });

  it('streams a topic over SSE to a plain HTTP client on another node than the publisher\'s; a reconnect with Last-Event-ID resumes with nothing missed or repeated', async (t) => {
    const topic = 'feed';
    const first = await follow(c, topic);
    assert.match(String(first.response.headers['content-type']), /^text\/event-stream/);
    // The stream is a subscriber of the topic on c; a's publishes reach it once a knows of it.
    await waitFor(async () => (await subscribersOn(a, topic)).some((s) => s.startsWith(`${c.name}/`)), { timeoutMs: 15_000, what: 'a knowing c\'s stream subscribed', abortIf: exited });

    // 0–29 live over HTTP on a; then 30–59 over HTTP while the client goes away.
    assert.deepEqual(await publishHttpSeries(a, topic, 'http', 0, 30), { remoteNodes: [1], localSubscribers: [0] });
    await waitFor(() => first.events.length >= 30 || undefined, { timeoutMs: 10_000, what: 'the first 30 events on c\'s stream', abortIf: exited });
    const racing = publishHttpSeries(a, topic, 'http', 30, 30);
    await waitFor(() => first.events.length >= 35 || undefined, { timeoutMs: 10_000, what: 'a few of the next events on c\'s stream', abortIf: exited });
    first.close();
    await racing;
    await waitFor(async () => (await stats(c)).streams === 0, { timeoutMs: 10_000, what: 'c noticing the client left', abortIf: exited });
    // 60–159 through the library while nobody streams: c's feed stays subscribed and keeps them.
    assert.deepEqual(await publishLib(a, topic, 'lib', 60, 100), { remoteNodes: [1], localSubscribers: [0] });

    // The client comes back with the id of the last event it parsed, while a publishes 160–199.
    const lastSeen = first.events.at(-1)!;
    const resumed = await follow(c, topic, { 'Last-Event-ID': lastSeen.id! });
    await publishHttpSeries(a, topic, 'http', 160, 40);
    const lastN = (s: SseClient) => (s.messages().at(-1) as Published | undefined)?.n;
    await waitFor(() => lastN(resumed) === 199 || undefined, { timeoutMs: 15_000, what: 'the last message on the resumed stream', abortIf: exited });

    t.diagnostic(`the client left after ${first.events.length} of the 60 events published over HTTP before the library publishes; the resumed stream carried the other ${resumed.events.length}`);
    const events = [...first.events, ...resumed.events];
    assert.ok(events.every((e) => e.event === 'message' && e.id !== undefined && e.id !== ''), 'every event is a message with an id (no gap, no overflow)');
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'every event has its own id');
    const messages = events.map((e) => JSON.parse(e.data) as Published);
    assert.deepEqual(messages.map((m) => m.n), range(0, 200), 'the first stream and the resumed one together: every message once, in publish order');
    assert.ok(messages.every((m) => m.from === (m.n >= 60 && m.n < 160 ? 'lib' : 'http')), 'the data is the published JSON');

    // Ids are per node: c's id means nothing to a, which says so with a gap before going on live.
    const elsewhere = await follow(a, topic, { 'Last-Event-ID': lastSeen.id! });
    await waitFor(() => elsewhere.events.length >= 1 || undefined, { timeoutMs: 10_000, what: 'the first event of a\'s stream', abortIf: exited });
    assert.equal(elsewhere.events[0]!.event, 'gap');
    await publishHttp(a, topic, { from: 'http', n: 200 });
    await waitFor(() => lastN(elsewhere) === 200 && lastN(resumed) === 200 || undefined, { timeoutMs: 10_000, what: 'message 200 on both open streams', abortIf: exited });
    assert.deepEqual(elsewhere.messages(), [{ from: 'http', n: 200 }], 'after the gap, a\'s stream goes on live');
    resumed.close();
    elsewhere.close();
  });

  it('a subscriber node killed (kill -9): once it is seen down its subscriptions are dropped everywhere, publishes reach the others exactly once and nothing goes toward it; $cluster on a shows it', async () => {
    const topic = 'after-crash';
    const subscribers = new Map([a, b, c].map((n, i) => [n, [`crash-${i}-0`, `crash-${i}-1`]]));
    for (const [n, recorders] of subscribers) await n.proc.call('subscribe', { topic, names: recorders });
    const all = [...subscribers].flatMap(([n, recorders]) => recorders.map((r) => `${n.name}/${r}`));
    await waitForSubscribers([a, b, c], topic, all);
    const cluster = await follow(a, '$cluster');

    killed.add(b.proc);
    await b.proc.kill();
    assert.notEqual(b.proc.exitCode, 0, 'b was killed, not stopped');
    for (const observer of [a, c]) {
      await waitFor(async () => (await memberStates(observer))[b.name] === 'down', { timeoutMs: 20_000, what: `${observer.name} to see ${b.name} down`, abortIf: exited });
    }
    const survivors = all.filter((s) => !s.startsWith(`${b.name}/`));
    await waitForSubscribers([a, c], topic, survivors);
    for (const observer of [a, c]) {
      assert.deepEqual((await subscribersOn(observer, 'fanout')).filter((s) => s.startsWith(`${b.name}/`)), [], `${observer.name} dropped b's subscribers of every topic`);
    }
    const bDown = await waitFor(() => cluster.messages().find((m) => (m as { event?: string; node?: string }).event === 'member-down' && (m as { node?: string }).node === b.name), {
      timeoutMs: 10_000, what: `member-down of ${b.name} on a's $cluster stream`, abortIf: exited,
    });
    assert.equal((bDown as { seenBy: string }).seenBy, a.name);

    const [aBefore, cBefore] = await Promise.all([a, c].map(stats));
    const aMetricBefore = await metric(a, 'troupe_pubsub_frames_sent_total');
    const receipts = await Promise.all([
      publishLib(a, topic, `${a.name}/lib`, 0, 50),
      publishHttpSeries(a, topic, `${a.name}/http`, 0, 10),
      publishLib(c, topic, `${c.name}/lib`, 0, 50),
    ]);
    assert.deepEqual(receipts, Array(3).fill({ remoteNodes: [1], localSubscribers: [2] }), 'every publish: one frame, to the other survivor, and its own 2 subscribers');

    for (const n of [a, c]) {
      for (const name of subscribers.get(n)!) {
        const got = await waitForReceived(n, name, 110);
        assert.equal(got.length, 110, `${n.name}/${name}: each message exactly once`);
        for (const [from, count] of [[`${a.name}/lib`, 50], [`${a.name}/http`, 10], [`${c.name}/lib`, 50]] as const) {
          assert.deepEqual(numbersFrom(got, from), range(0, count), `${n.name}/${name}: ${from}'s messages in order`);
        }
      }
    }
    const [aAfter, cAfter] = await Promise.all([a, c].map(stats));
    assert.equal(aAfter!.framesSent - aBefore!.framesSent, 60, 'a sent one frame per publish (to c), none toward b');
    assert.equal(cAfter!.framesSent - cBefore!.framesSent, 50, 'c sent one frame per publish (to a), none toward b');
    assert.deepEqual([aAfter!.dropped, cAfter!.dropped], [aBefore!.dropped, cBefore!.dropped], 'nothing dropped: no frame was refused for the dead node');
    const aMetric = await waitFor(async () => {
      const value = await metric(a, 'troupe_pubsub_frames_sent_total');
      return value >= aMetricBefore + 60 ? value : undefined;
    }, { timeoutMs: 10_000, what: 'a\'s /metrics to count the 60 frames', abortIf: exited });
    assert.equal(aMetric, aMetricBefore + 60, 'troupe_pubsub_frames_sent_total on a: one per publish');
  });
});
