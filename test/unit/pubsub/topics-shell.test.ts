/**
 * The pub/sub shell (lib/remote/topics.ts) between two nodes on the memory
 * transport, with membership scripted by the test: what it refuses, how
 * membership drives the spread, the bounds on delivery, malformed frames.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { spawn, start, stop, type Ref } from 'nact';
import pino from 'pino';
import { BadRequestError, NoSuchActorError, TopicLimitError } from '../../../lib/errors.js';
import { SeededRandom } from '../../../lib/protocol/random.js';
import { RemoteRef } from '../../../lib/remote/actor-ref.js';
import type { MemberView } from '../../../lib/remote/cluster-actors.js';
import { PUBSUB_CHANNEL, Topics, type TopicMessage, type TopicsOptions } from '../../../lib/remote/topics.js';
import { createMemoryTransport, MemoryHub } from '../../../lib/transport/memory-transport.js';
import type { Transport } from '../../../lib/transport/transport.js';
import { waitFor } from '../../harness/wait-for.js';

/** Membership as the test says it is. */
class ScriptedMembers implements MemberView {
  readonly states = new Map<string, string>();
  readonly addresses = new Map<string, string>();
  private readonly listeners = new Set<(event: string, node: string) => void>();
  stateOf = (node: string) => this.states.get(node);
  addressOf = (node: string) => this.addresses.get(node);
  subscribe(listener: (event: string, node: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(node: string, state: string): void {
    this.states.set(node, state);
    for (const listener of this.listeners) listener(`member-${state}`, node);
  }
}

interface TestNode {
  name: string;
  address: string;
  system: Ref<never>;
  transport: Transport;
  members: ScriptedMembers;
  topics: Topics;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function twoNodes(options: Partial<TopicsOptions> = {}): Promise<[TestNode, TestNode]> {
  const hub = new MemoryHub();
  const make = async (name: string): Promise<TestNode> => {
    const transport = createMemoryTransport(hub, {
      self: { name, generation: 1 }, advertisedAddress: 'mem:0', bindHost: 'mem', port: 0, clusterName: 'pubsub', cookie: 'pubsub-cookie',
      random: new SeededRandom(name.length), log: pino({ level: 'silent' }),
    });
    const { address } = await transport.start();
    const system = start();
    const members = new ScriptedMembers();
    const topics = new Topics({ self: name, generation: 1, system, transport, members, log: pino({ level: 'silent' }), ...options });
    cleanup.push(() => transport.stop(), () => stop(system), () => topics.close());
    return { name, address, system, transport, members, topics };
  };
  const [a, b] = [await make('a@h'), await make('b@h')];
  for (const [self, other] of [[a, b], [b, a]] as const) other.members.addresses.set(self.name, self.address);
  return [a, b];
}

/** Both nodes see each other up. */
function up(a: TestNode, b: TestNode): void {
  a.members.set(b.name, 'up');
  b.members.set(a.name, 'up');
}

function recorder(node: TestNode, name: string): { ref: Ref<any>; seen: TopicMessage[] } {
  const seen: TopicMessage[] = [];
  return { ref: spawn(node.system, (state: undefined, msg: TopicMessage) => (seen.push(msg), state), name), seen };
}

const names = (topics: Topics, topic: string) => topics.subscribers(topic).map(String);

describe('Topics (shell)', () => {
  it('spreads subscriptions once members are up and delivers an envelope, references inside working', async () => {
    const [a, b] = await twoNodes();
    const r = recorder(b, 'r');
    b.topics.subscribe('t', r.ref);
    assert.deepEqual(a.topics.publish('t', 'before anyone knew'), { remoteNodes: 0, localSubscribers: 0 });
    up(a, b);
    await waitFor(() => names(a.topics, 't').join() === 'b@h/r' || undefined, { timeoutMs: 2_000, what: 'a knowing b\'s subscriber' });
    const sender = spawn(a.system, (s: undefined) => s, 'sender');
    assert.deepEqual(a.topics.publish('t', { from: sender }), { remoteNodes: 1, localSubscribers: 0 });
    await waitFor(() => r.seen.length === 1 || undefined, { timeoutMs: 2_000, what: 'the message on b' });
    assert.equal(r.seen[0]!.type, 'topic-message');
    assert.equal(r.seen[0]!.topic, 't');
    assert.ok((r.seen[0]!.message as { from: RemoteRef }).from.equals(new RemoteRef('a@h', ['sender'])));
  });

  it('believes nothing from a node it does not see up (a link coming up is not enough), and forgets a member that goes down', async () => {
    const [a, b] = await twoNodes();
    a.topics.subscribe('t', recorder(a, 'r').ref);
    b.members.set(a.name, 'up'); // only b sees a up: b sends its set, and the link comes up on both sides
    await waitFor(() => a.topics.stats.spread.fromNonPeerDropped >= 1 || undefined, { timeoutMs: 2_000, what: 'a dropping b\'s set' });
    assert.equal(a.topics.stats.spread.syncsSent, 0, 'a link-up from a node a does not see up starts no exchange');
    assert.deepEqual(names(b.topics, 't'), []);
    a.members.set(b.name, 'up');
    await waitFor(() => names(b.topics, 't').join() === 'a@h/r' || undefined, { timeoutMs: 2_000, what: 'the exchange once both see each other up' });
    b.members.set(a.name, 'down');
    assert.deepEqual(names(b.topics, 't'), [], 'dropped at once');
    assert.deepEqual(b.topics.publish('t', 'x'), { remoteNodes: 0, localSubscribers: 0 });
  });

  it('refuses a malformed topic, another node\'s actor, a publish on a system topic, and a subscribe beyond the limits', async () => {
    const [a] = await twoNodes({ spread: { maxTopicsPerNode: 1 } });
    const r = recorder(a, 'r');
    assert.throws(() => a.topics.subscribe('bad topic', r.ref), BadRequestError);
    assert.throws(() => a.topics.subscribe('t', new RemoteRef('b@h', ['x'])), /subscribe it on its own node/);
    assert.throws(() => a.topics.publish('$cluster', {}), /system topic/);
    assert.throws(() => a.topics.subscribe('t', new RemoteRef('a@h', ['nobody'])), NoSuchActorError);
    assert.throws(() => a.topics.subscribe('t', new RemoteRef('a@h', ['a/b'])), BadRequestError);
    a.topics.subscribe('t', r.ref);
    assert.throws(() => a.topics.subscribe('u', r.ref), (err: unknown) => err instanceof TopicLimitError && err.code === 'ERR_LIMIT_EXCEEDED' && err.limit === 1);
    assert.equal(a.topics.unsubscribe('u', r.ref), false);
    assert.equal(a.topics.publishLocal('t', 'here only'), 1);
  });

  it('counts a malformed publish frame and drops messages from other nodes beyond a full mailbox', async () => {
    const [a, b] = await twoNodes({ maxMailbox: 1 });
    let release!: () => void;
    const busy = new Promise<void>((resolve) => (release = resolve));
    const seen: unknown[] = [];
    const slow = spawn(b.system, async (state: undefined, msg: TopicMessage) => {
      seen.push(msg.message);
      await busy;
      return state;
    }, 'slow');
    b.topics.subscribe('t', slow);
    up(a, b);
    await waitFor(() => names(a.topics, 't').length === 1 || undefined, { timeoutMs: 2_000, what: 'the spread' });
    for (let n = 0; n < 5; n++) a.topics.publish('t', n);
    a.transport.send(b.address, PUBSUB_CHANNEL, ['p', 'bad topic', new Uint8Array()]);
    await waitFor(() => b.topics.stats.dropped.malformed === 1 || undefined, { timeoutMs: 2_000, what: 'the malformed frame counted' });
    assert.equal(b.topics.stats.framesReceived, 5);
    assert.ok(b.topics.stats.dropped['mailbox-full'] >= 3, `dropped ${b.topics.stats.dropped['mailbox-full']}`);
    release();
    await waitFor(() => seen.length === 5 - b.topics.stats.dropped['mailbox-full'] || undefined, { timeoutMs: 2_000, what: 'the kept messages' });
  });
});
