import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { dispatch, start, stop, type Ref } from 'nact';
import { TopicFeeds, type FeedEvent, type FeedLimits, type FeedStream } from '../../../lib/remote/topic-feeds.js';
import { waitFor } from '../../harness/wait-for.js';

describe('TopicFeeds', () => {
  let system: Ref<never>;
  let subscribed: Map<string, Ref<any>>;

  beforeEach(() => {
    system = start();
    subscribed = new Map();
  });
  afterEach(() => stop(system));

  function feeds(limits: Partial<FeedLimits> = {}): TopicFeeds {
    return new TopicFeeds({
      system,
      subscribe: (topic, ref) => {
        if (topic === 'refused') throw new Error('over the limit');
        subscribed.set(topic, ref);
      },
      unsubscribe: (topic) => subscribed.delete(topic),
      limits,
    });
  }

  const publish = (topic: string, message: unknown) => dispatch(subscribed.get(topic)!, { type: 'topic-message', topic, message });

  /** Collects a stream's events in the background. */
  function collect(stream: FeedStream): FeedEvent[] {
    const events: FeedEvent[] = [];
    void (async () => {
      for await (const e of stream) events.push(e);
    })();
    return events;
  }

  it('one subscriber per topic, shared by its streams; each message numbered once, as JSON', async () => {
    const f = feeds();
    const one = collect(f.open('t'));
    const two = collect(f.open('t'));
    assert.equal(subscribed.size, 1);
    publish('t', { n: 1 });
    publish('t', 2n);
    await waitFor(() => one.length === 2 && two.length === 2 || undefined, { timeoutMs: 2_000, what: 'both streams fed' });
    assert.deepEqual(one, two);
    assert.deepEqual(one.map((e) => e.type === 'message' && e.data), ['{"n":1}', '"2"']);
    f.close();
  });

  it('resumes after an id it holds, reports a gap for one it cannot, and lingers subscribed after the last stream', async () => {
    const f = feeds({ lingerMs: 60_000 });
    const first = f.open('t');
    const seen = collect(first);
    for (let n = 1; n <= 3; n++) publish('t', n);
    await waitFor(() => seen.length === 3 || undefined, { timeoutMs: 2_000, what: 'three messages' });
    first.close();
    assert.equal(subscribed.has('t'), true, 'still subscribed while lingering');
    publish('t', 4);
    const id = (i: number) => (seen[i] as { id: string }).id;
    await new Promise((resolve) => setImmediate(resolve));
    const resumed = collect(f.open('t', { lastEventId: id(1) }));
    await waitFor(() => resumed.length === 2 || undefined, { timeoutMs: 2_000, what: 'the resume' });
    assert.deepEqual(resumed.map((e) => e.type === 'message' && e.data), ['3', '4']);
    const foreign = collect(f.open('t', { lastEventId: 'abc-1' }));
    await waitFor(() => foreign.length === 1 || undefined, { timeoutMs: 2_000, what: 'the gap' });
    assert.equal(foreign[0]!.type, 'gap');
    f.close();
    assert.equal(subscribed.size, 0, 'close retires every feed');
  });

  it('retires a feed once it lingered without streams', async () => {
    const f = feeds({ lingerMs: 10 });
    f.open('t').close();
    await waitFor(() => !subscribed.has('t') || undefined, { timeoutMs: 2_000, what: 'the feed retired' });
    assert.equal(f.feedCount, 0);
  });

  it('ends a stream that falls too far behind with overflow', async () => {
    const f = feeds({ maxQueuedPerStream: 2 });
    const lagging = f.open('t');
    const keepingUp = collect(f.open('t'));
    for (let n = 1; n <= 4; n++) publish('t', n);
    await waitFor(() => keepingUp.length === 4 || undefined, { timeoutMs: 2_000, what: 'the four messages on the stream that reads' });
    const events: FeedEvent[] = [];
    for await (const e of lagging) events.push(e);
    assert.deepEqual(events.map((e) => e.type), ['message', 'message', 'overflow']);
    assert.equal(f.streams, 1, 'the overflowing stream ended; the other goes on');
    f.close();
  });

  it('bounds streams and feeds: a full node refuses with ERR_QUEUE_FULL, an idle feed makes room', () => {
    const f = feeds({ maxStreams: 2, maxFeeds: 2 });
    const s1 = f.open('a');
    f.open('b');
    assert.throws(() => f.open('c'), (err: Error & { code?: string }) => err.code === 'ERR_QUEUE_FULL' && /streams already/.test(err.message));
    s1.close();
    f.open('c');
    assert.deepEqual([...subscribed.keys()].sort(), ['b', 'c'], 'the idle feed of a was retired for c');
    assert.throws(() => f.open('d'), (err: Error & { code?: string }) => err.code === 'ERR_QUEUE_FULL');
    assert.throws(() => feeds().open('refused'), /over the limit/);
    f.close();
  });
});
