import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePubSubMessage, type PubSubMessage } from '../../../lib/protocol/pubsub/messages.js';
import { TopicSpread } from '../../../lib/protocol/pubsub/spread.js';
import { flatten, SpreadNet } from '../../harness/spread-net.js';

const INTERVAL = 1000;

function twoNodes(): SpreadNet {
  const net = new SpreadNet({ digestIntervalMs: INTERVAL });
  net.start('a', 1);
  net.start('b', 1);
  net.connect('a', 'b');
  net.deliverAll();
  return net;
}

/** The messages `core` has ready, acknowledged. */
function drain(core: TopicSpread): PubSubMessage[] {
  const ready = core.ready();
  core.advance(ready);
  return ready.messages.map((m) => m.msg);
}

describe('TopicSpread', () => {
  it('keeps subscriptions locally and sends nothing without peers; system topics never raise the version', () => {
    const core = new TopicSpread(7);
    core.step({ type: 'subscribe', topic: 'chat', subscriber: 'room/1' }, 0);
    core.step({ type: 'subscribe', topic: 'chat', subscriber: 'room/1' }, 0);
    core.step({ type: 'subscribe', topic: '$cluster', subscriber: 'watcher' }, 0);
    assert.deepEqual(drain(core), []);
    assert.equal(core.ownVersion, 1, 'one spread change: the repeat and the system topic do not count');
    assert.deepEqual([...core.localSubscribersOf('chat')], ['room/1']);
    assert.deepEqual([...core.localSubscribersOf('$cluster')], ['watcher']);
    assert.equal(flatten(core.ownSpreadState()), 'chat:room/1');
    assert.equal(core.ready().nextWakeAt, null, 'no peers: no digest timer');
  });

  it('a peer coming up gets the full set and answers with its own; later changes travel as deltas', () => {
    const net = new SpreadNet({ digestIntervalMs: INTERVAL });
    const a = net.start('a', 1);
    const b = net.start('b', 1);
    a.step({ type: 'subscribe', topic: 'chat', subscriber: 'x' }, 0);
    b.step({ type: 'subscribe', topic: 'news', subscriber: 'y' }, 0);
    net.step('a', { type: 'peer-up', node: 'b', address: 'b:1' });
    assert.deepEqual(net.links.get('a>b')!.map((f) => [f.msg.type, (f.msg as { reply?: boolean }).reply]), [['sync', true]]);
    net.step('b', { type: 'peer-up', node: 'a', address: 'a:1' });
    net.deliverAll();
    assert.deepEqual(net.differences(), []);
    assert.deepEqual(a.destinationsOf('news'), ['b:1']);
    assert.deepEqual(b.remoteSubscribersOf('chat'), [['a', 'x']]);

    net.step('a', { type: 'subscribe', topic: 'news', subscriber: 'z' });
    assert.deepEqual(net.links.get('a>b')!.map((f) => f.msg), [{ type: 'delta', epoch: 1, version: 2, changes: [['+', 'news', 'z']] }]);
    net.deliverAll();
    assert.deepEqual(b.destinationsOf('news'), ['a:1']);
    net.step('a', { type: 'unsubscribe', topic: 'chat', subscriber: 'x' });
    net.deliverAll();
    assert.deepEqual(b.destinationsOf('chat'), [], 'no subscriber left on a: no frame for chat goes there');
    assert.deepEqual(net.differences(), []);
  });

  it('ignores a delta it has applied, and asks for a sync after a gap', () => {
    const net = twoNodes();
    const b = net.core('b');
    net.step('a', { type: 'subscribe', topic: 't', subscriber: '1' });
    const first = net.links.get('a>b')![0]!.msg;
    net.deliverAll();
    net.step('b', { type: 'message', from: 'a', msg: first });
    assert.equal(b.stats.staleDropped, 1);
    assert.deepEqual(drain(b), [], 'a duplicate asks for nothing');

    net.step('a', { type: 'subscribe', topic: 't', subscriber: '2' });
    net.dropOne('a>b'); // a full queue refused it
    net.step('a', { type: 'subscribe', topic: 't', subscriber: '3' });
    net.deliverOne('a>b');
    assert.equal(b.stats.gapsDetected, 1);
    assert.deepEqual(net.links.get('b>a')!.map((f) => f.msg), [{ type: 'sync-request' }]);
    net.deliverAll();
    assert.deepEqual(net.differences(), [], 'the sync repaired the view');
  });

  it('repairs a lost last delta through the digest, asking at most once per period', () => {
    const net = twoNodes();
    const b = net.core('b');
    net.step('a', { type: 'subscribe', topic: 't', subscriber: '1' });
    net.dropOne('a>b');
    assert.notDeepEqual(net.differences(), []);
    net.tick(INTERVAL);
    net.deliverOne('a>b'); // the digest reaches b, whose view is behind
    assert.equal(b.stats.syncRequestsSent, 1);
    net.dropOne('b>a'); // and the request is lost too
    net.step('b', { type: 'message', from: 'a', msg: { type: 'digest', epoch: 1, version: 1 } });
    assert.equal(b.stats.syncRequestsSent, 1, 'not again within the period');
    net.tick(INTERVAL);
    net.deliverAll();
    assert.equal(b.stats.syncRequestsSent, 2);
    assert.deepEqual(net.differences(), []);
  });

  it('drops every subscription of a peer that goes down, and believes nothing from it until it is up again', () => {
    const net = twoNodes();
    const b = net.core('b');
    net.step('a', { type: 'subscribe', topic: 't', subscriber: '1' });
    net.deliverAll();
    net.step('b', { type: 'peer-down', node: 'a' });
    assert.deepEqual(b.destinationsOf('t'), []);
    assert.deepEqual(net.events.at(-1), { type: 'owner-dropped', node: 'a', subscriptions: 1, at: 'b' });
    net.step('a', { type: 'subscribe', topic: 'u', subscriber: '2' });
    net.deliverAll();
    assert.equal(b.stats.fromNonPeerDropped, 1);
    assert.equal(b.viewOf('a'), null);
    net.connect('a', 'b');
    net.deliverAll();
    assert.deepEqual(b.destinationsOf('u'), ['a:1']);
  });

  it('replaces the view of a restarted peer (a larger epoch), and drops what is older than the view', () => {
    const net = twoNodes();
    const b = net.core('b');
    net.step('a', { type: 'subscribe', topic: 't', subscriber: 'old' });
    net.deliverAll();
    net.start('a', 2);
    net.step('a', { type: 'subscribe', topic: 't', subscriber: 'new' });
    net.connect('a', 'b');
    net.deliverAll();
    assert.deepEqual(b.remoteSubscribersOf('t'), [['a', 'new']]);
    net.step('b', { type: 'message', from: 'a', msg: { type: 'sync', epoch: 1, version: 9, part: 0, parts: 1, reply: false, topics: [['t', ['old']]] } });
    net.step('b', { type: 'message', from: 'a', msg: { type: 'delta', epoch: 1, version: 2, changes: [['+', 't', 'old']] } });
    assert.equal(b.stats.staleDropped, 2);
    assert.deepEqual(b.remoteSubscribersOf('t'), [['a', 'new']]);
  });

  it('sends a large set in parts and abandons a sync whose part went missing', () => {
    const net = new SpreadNet({ digestIntervalMs: INTERVAL, syncEntriesPerMessage: 2 });
    const a = net.start('a', 1);
    const b = net.start('b', 1);
    for (const s of ['1', '2', '3', '4', '5']) a.step({ type: 'subscribe', topic: s === '5' ? 'u' : 't', subscriber: s }, 0);
    net.step('a', { type: 'peer-up', node: 'b', address: 'b:1' });
    net.step('b', { type: 'peer-up', node: 'a', address: 'a:1' });
    const parts = net.links.get('a>b')!.map((f) => f.msg as { part: number; parts: number });
    assert.deepEqual(parts.map((p) => `${p.part}/${p.parts}`), ['0/3', '1/3', '2/3']);
    net.links.get('a>b')!.splice(1, 1); // part 1 lost
    net.deliverOne('a>b');
    net.deliverOne('a>b');
    assert.equal(b.stats.syncPartsDropped, 1);
    assert.equal(b.viewOf('a'), null, 'an incomplete sync is not installed');
    net.deliverAll();
    assert.deepEqual(net.differences(), [], 'the sync asked for after the loss completes the view');
  });

  it('drops a gone subscriber from every topic in one delta', () => {
    const net = twoNodes();
    for (const topic of ['t', 'u', 'v']) net.step('a', { type: 'subscribe', topic, subscriber: 'gone' });
    net.step('a', { type: 'subscribe', topic: 't', subscriber: 'stays' });
    net.deliverAll();
    net.step('a', { type: 'drop-subscriber', subscriber: 'gone' });
    const deltas = net.links.get('a>b')!.map((f) => f.msg);
    assert.equal(deltas.length, 1);
    assert.deepEqual((deltas[0] as { changes: unknown }).changes, [['-', 't', 'gone'], ['-', 'u', 'gone'], ['-', 'v', 'gone']]);
    net.deliverAll();
    assert.deepEqual(net.differences(), []);
    assert.equal(flatten(net.core('b').viewOf('a')!), 't:stays');
  });

  it('states which limit a subscribe would break, throws if stepped anyway, and cuts a peer\'s view at the limits', () => {
    const core = new TopicSpread(1, { maxTopicsPerNode: 2, maxSubscriptionsPerNode: 3 });
    core.step({ type: 'subscribe', topic: 't', subscriber: '1' }, 0);
    core.step({ type: 'subscribe', topic: 'u', subscriber: '1' }, 0);
    assert.equal(core.localLimitProblem('v', '1'), 'topics');
    assert.equal(core.localLimitProblem('t', '1'), null, 'already subscribed');
    core.step({ type: 'subscribe', topic: 't', subscriber: '2' }, 0);
    assert.equal(core.localLimitProblem('t', '3'), 'subscriptions');
    assert.throws(() => core.step({ type: 'subscribe', topic: 't', subscriber: '3' }, 0), /localLimitProblem/);

    core.step({ type: 'peer-up', node: 'p', address: 'p:1' }, 0);
    const big = { type: 'sync', epoch: 1, version: 1, part: 0, parts: 1, reply: false, topics: [['a', ['1', '2']], ['b', ['1']], ['c', ['1']]] };
    core.step({ type: 'message', from: 'p', msg: big }, 0);
    assert.equal(core.stats.overLimitDropped, 1);
    assert.equal(flatten(core.viewOf('p')!), 'a:1,a:2,b:1');
  });

  it('rejects malformed messages without throwing', () => {
    const bad: unknown[] = [
      null, 'sync', [], { type: 'nope' },
      { type: 'digest', epoch: -1, version: 0 },
      { type: 'delta', epoch: 1, version: 0, changes: [['+', 't', 's']] },
      { type: 'delta', epoch: 1, version: 1, changes: [] },
      { type: 'delta', epoch: 1, version: 1, changes: [['*', 't', 's']] },
      { type: 'delta', epoch: 1, version: 1, changes: [['+', 'bad topic', 's']] },
      { type: 'delta', epoch: 1, version: 1, changes: [['+', 't', '']] },
      { type: 'sync', epoch: 1, version: 1, part: 1, parts: 1, reply: false, topics: [] },
      { type: 'sync', epoch: 1, version: 1, part: 0, parts: 1, reply: 'yes', topics: [] },
      { type: 'sync', epoch: 1, version: 1, part: 0, parts: 1, reply: false, topics: [['t', 's']] },
      { type: 'sync', epoch: 1.5, version: 1, part: 0, parts: 1, reply: false, topics: [] },
    ];
    for (const raw of bad) assert.equal(parsePubSubMessage(raw), null, JSON.stringify(raw));
    const core = new TopicSpread(1);
    core.step({ type: 'peer-up', node: 'p', address: 'p:1' }, 0);
    for (const raw of bad) core.step({ type: 'message', from: 'p', msg: raw }, 0);
    assert.equal(core.stats.malformedDropped, bad.length);
    assert.deepEqual(parsePubSubMessage({ type: 'digest', epoch: 3, version: 4, extra: true }), { type: 'digest', epoch: 3, version: 4 });
  });

  it('wakes for digests only while it has peers', () => {
    const core = new TopicSpread(1, { digestIntervalMs: INTERVAL });
    core.step({ type: 'peer-up', node: 'p', address: 'p:1' }, 100);
    assert.equal(core.ready().nextWakeAt, 100 + INTERVAL);
    drain(core);
    core.step({ type: 'tick' }, 100 + INTERVAL);
    assert.deepEqual(drain(core), [{ type: 'digest', epoch: 1, version: 0 }]);
    core.step({ type: 'peer-down', node: 'p' }, 2000);
    assert.equal(core.ready().nextWakeAt, null);
  });
});
