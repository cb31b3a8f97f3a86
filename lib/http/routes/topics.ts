/**
 * `/api/topics/:topic`: pub/sub over HTTP (lib/remote/topics.ts; the
 * contract is docs/HTTP_API.md, "Topics").
 *
 * - `POST /api/topics/:topic` publishes its JSON body (any JSON value) to
 *   every subscriber of the topic in the cluster: 202
 *   `{"published":true,"topic",…}` once it is handed to the transport
 *   (delivery is at most once). A mutation: it passes `requireOperator`.
 * - `GET /api/topics/:topic/events` streams the topic's messages as they
 *   reach this node, as Server-Sent Events: `data:` the message's JSON,
 *   `id:` an opaque id to resume after (a reconnecting EventSource sends it
 *   back as `Last-Event-ID`, also accepted as `?lastEventId=`), a comment
 *   line every `keepAliveMs` so proxies keep an idle stream open. A resume
 *   the node cannot make exact starts with `event: gap`; a client too slow
 *   to keep up gets `event: overflow` and the stream ends. System topics
 *   (`$cluster`) stream the same way.
 *
 * Streams are long-lived, so they are not counted by the facade's
 * concurrency limit (admission.ts); the feeds' own limits bound them.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { BadRequestError } from '../../errors.js';
import { isSystemTopic } from '../../protocol/pubsub/topic-name.js';
import type { FeedEvent } from '../../remote/topic-feeds.js';
import { checkTopic, type TopicsApi } from '../../remote/topics.js';
import { requestSignal } from '../request-io.js';
import type { HttpEnv } from '../types.js';
import { readJsonValue } from '../validate.js';

/** Interval of the keep-alive comment on an event stream, ms. @default 15000 */
export const TOPIC_KEEP_ALIVE_MS = 15_000;
/** Longest `Last-Event-ID` accepted, characters (ours are about 30). */
const MAX_EVENT_ID_CHARS = 200;

export function topicRoutes(topics: TopicsApi, guard: MiddlewareHandler<HttpEnv>, options: { keepAliveMs?: number | undefined } = {}): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const keepAliveMs = options.keepAliveMs ?? TOPIC_KEEP_ALIVE_MS;

  app.post('/:topic', guard, async (c) => {
    const topic = topicParam(c);
    if (isSystemTopic(topic)) throw new BadRequestError(`${topic} is a system topic: only the runtime publishes on it; publish on a topic without a leading $`);
    const message = await readJsonValue(c, 'the message as JSON');
    return c.json({ published: true, topic, ...topics.publish(topic, message) }, 202);
  });

  app.get('/:topic/events', (c) => {
    const topic = topicParam(c);
    const lastEventId = c.req.header('last-event-id') ?? c.req.query('lastEventId');
    if (lastEventId !== undefined && lastEventId.length > MAX_EVENT_ID_CHARS) throw new BadRequestError('Last-Event-ID is too long: send back the id of an event of this stream, unchanged');
    // A HEAD gets the headers only: a stream nobody reads would hold its feed open.
    if (c.req.method === 'HEAD') return c.body(null, 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const feed = topics.follow(topic, { lastEventId });
    const signal = requestSignal(c);
    return streamSSE(c, async (stream) => {
      const end = (): void => feed.close();
      signal.addEventListener('abort', end, { once: true });
      stream.onAbort(end);
      const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), keepAliveMs);
      try {
        await stream.write(`: following ${topic}\n\n`); // sends the headers now, so the client knows it is subscribed
        for await (const event of feed) await writeEvent(stream, event);
      } finally {
        clearInterval(keepAlive);
        signal.removeEventListener('abort', end);
        feed.close();
      }
    });
  });

  return app;
}

function topicParam(c: Context): string {
  const topic = c.req.param('topic');
  checkTopic(topic);
  return topic;
}

function writeEvent(stream: SSEStreamingApi, event: FeedEvent): Promise<void> {
  switch (event.type) {
    case 'message':
      return stream.writeSSE({ id: event.id, data: event.data });
    case 'gap':
      return stream.writeSSE({ event: 'gap', data: JSON.stringify({ lastEventId: event.lastEventId, reason: event.reason }) });
    case 'overflow':
      return stream.writeSSE({ event: 'overflow', data: JSON.stringify({ queued: event.queued, reason: 'the client fell behind the topic; reconnect with the last id to resume' }) });
  }
}
