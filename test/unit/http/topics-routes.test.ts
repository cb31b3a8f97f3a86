import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHttpApp } from '../../../lib/http/app.js';
import { createMetrics } from '../../../lib/metrics.js';
import type { FeedEvent, FeedStream } from '../../../lib/remote/topic-feeds.js';
import type { PublishReceipt, TopicsApi } from '../../../lib/remote/topics.js';
import { FakeNode, LOOPBACK, REMOTE, silentLog } from './fake-node.js';
import { errorOf, jsonInit } from './helpers.js';

/** A stream that yields `events`, then stays open until closed when `stayOpen`. */
function scriptedFeed(events: FeedEvent[], stayOpen = false): FeedStream & { closed: () => boolean } {
  let closed = false;
  let wake: (() => void) | undefined;
  return {
    closed: () => closed,
    close() {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      yield* events;
      while (stayOpen && !closed) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

class FakeTopics implements TopicsApi {
  published: Array<[string, unknown]> = [];
  follows: Array<{ topic: string; lastEventId: string | undefined }> = [];
  feed: FeedStream = scriptedFeed([]);
  publish(topic: string, message: unknown): PublishReceipt {
    this.published.push([topic, message]);
    return { remoteNodes: 2, localSubscribers: 1 };
  }
  follow(topic: string, options: { lastEventId?: string | undefined } = {}): FeedStream {
    this.follows.push({ topic, lastEventId: options.lastEventId });
    return this.feed;
  }
}

function appWith(topics: FakeTopics, keepAliveMs?: number) {
  const node = Object.assign(new FakeNode(), { topics });
  return createHttpApp(node, { metrics: createMetrics(() => node.stats()), log: silentLog, ...(keepAliveMs ? { topicKeepAliveMs: keepAliveMs } : {}) });
}

/** Reads the response body until `done` says enough (or it ends). */
async function readUntil(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe('POST /api/topics/:topic', () => {
  it('publishes the JSON body and answers 202 with what it was handed to', async () => {
    const topics = new FakeTopics();
    const res = await appWith(topics).request('/api/topics/chat.room-1', jsonInit('POST', { text: 'hi' }), LOOPBACK);
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { published: true, topic: 'chat.room-1', remoteNodes: 2, localSubscribers: 1 });
    assert.deepEqual(topics.published, [['chat.room-1', { text: 'hi' }]]);
    await appWith(topics).request('/api/topics/n', jsonInit('POST', '42'), LOOPBACK);
    assert.deepEqual(topics.published.at(-1), ['n', 42], 'any JSON value is a message');
  });

  it('refuses bad JSON, a malformed or system topic, another media type, and an unauthorised caller, publishing nothing', async () => {
    const topics = new FakeTopics();
    const app = appWith(topics);
    const cases: Array<[string, RequestInit, object, number, RegExp]> = [
      ['/api/topics/chat', jsonInit('POST', '{"text": '), LOOPBACK, 400, /malformed JSON body/],
      ['/api/topics/chat', jsonInit('POST', ''), LOOPBACK, 400, /body is empty/],
      ['/api/topics/-chat', jsonInit('POST', {}), LOOPBACK, 400, /topic name is letters, digits/],
      ['/api/topics/has%20space', jsonInit('POST', {}), LOOPBACK, 400, /topic name/],
      [`/api/topics/${'x'.repeat(129)}`, jsonInit('POST', {}), LOOPBACK, 400, /at most 128 characters/],
      ['/api/topics/$cluster', jsonInit('POST', {}), LOOPBACK, 400, /system topic/],
      ['/api/topics/chat', { method: 'POST', body: 'hi', headers: { 'Content-Type': 'text/plain' } }, LOOPBACK, 415, /application\/json/],
      ['/api/topics/chat', jsonInit('POST', {}), REMOTE, 403, /CLUSTER_API_TOKEN/],
    ];
    for (const [path, init, env, status, message] of cases) {
      const res = await app.request(path, init, env);
      assert.equal(res.status, status, path);
      assert.match((await errorOf(res)).message, message, path);
    }
    assert.deepEqual(topics.published, []);
  });
});

describe('GET /api/topics/:topic/events', () => {
  it('streams messages with ids, a gap and an overflow as named events, and passes Last-Event-ID on', async () => {
    const topics = new FakeTopics();
    topics.feed = scriptedFeed([
      { type: 'gap', lastEventId: 'x-1', reason: 'gone' },
      { type: 'message', id: 'e-7', data: '{"text":"hi"}' },
      { type: 'overflow', queued: 1000 },
    ]);
    const res = await appWith(topics).request('/api/topics/chat/events', { headers: { 'Last-Event-ID': 'x-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await readUntil(res, () => false);
    assert.match(text, /^: following chat\n\n/);
    assert.match(text, /event: gap\ndata: \{"lastEventId":"x-1","reason":"gone"\}\n\n/);
    assert.match(text, /data: \{"text":"hi"\}\nid: e-7\n\n/);
    assert.match(text, /event: overflow\ndata: \{"queued":1000,/);
    assert.deepEqual(topics.follows, [{ topic: 'chat', lastEventId: 'x-1' }]);
    await (await appWith(topics).request('/api/topics/chat/events?lastEventId=y-2')).body!.cancel();
    assert.equal(topics.follows.at(-1)!.lastEventId, 'y-2', 'also from the query, for an EventSource that cannot set headers');
  });

  it('sends keep-alive comments while idle and closes the feed when the client leaves', async () => {
    const topics = new FakeTopics();
    const feed = scriptedFeed([], true);
    topics.feed = feed;
    const res = await appWith(topics, 5).request('/api/topics/$cluster/events');
    const text = await readUntil(res, (t) => t.includes(': keep-alive\n\n'));
    assert.match(text, /: keep-alive\n\n/);
    const deadline = performance.now() + 5_000;
    while (!feed.closed() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(feed.closed(), 'the feed is closed once the client cancelled the stream');
  });

  it('refuses a malformed topic or an oversized Last-Event-ID before streaming, and answers HEAD without a stream', async () => {
    const topics = new FakeTopics();
    const app = appWith(topics);
    assert.equal((await app.request('/api/topics/a%2Fb/events')).status, 400);
    assert.equal((await app.request('/api/topics/chat/events', { headers: { 'Last-Event-ID': 'x'.repeat(201) } })).status, 400);
    const head = await app.request('/api/topics/chat/events', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/event-stream');
    assert.deepEqual(topics.follows, [], 'a HEAD opens no stream');
  });
});
