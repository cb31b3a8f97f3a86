/**
 * The subscription spread converges: after any schedule of subscribes,
 * unsubscribes, gone subscribers, lost frames, broken links, peers seen down
 * and back, and restarts, once every pair is up again and no frame is lost
 * for a few digest periods, every node's view of every peer equals that
 * peer's own set, and the publish index agrees with the views.
 *
 * Each run is a seed (SEED=n replays one); the network keeps order per
 * directed link, as the transport does, and loses frames only as it can:
 * one refused by a full queue, or everything in flight on a link that broke.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom, type Random } from '../../lib/protocol/random.js';
import { SpreadNet } from '../harness/spread-net.js';

const INTERVAL = 1000;
const RUNS = process.env.SEED ? 1 : 300;
const TOPICS = ['t0', 't1', 't2', 't3', '$sys'];
const SUBSCRIBERS = ['s0', 's1', 's2', 's3'];

const pick = <T>(random: Random, items: readonly T[]): T => items[random.int(items.length)]!;

function nonEmptyLink(net: SpreadNet, random: Random): string | undefined {
  const keys = [...net.links].filter(([, queue]) => queue.length > 0).map(([key]) => key);
  return keys.length === 0 ? undefined : pick(random, keys);
}

function otherPair(random: Random, nodes: string[]): [string, string] {
  const a = pick(random, nodes);
  return [a, pick(random, nodes.filter((n) => n !== a))];
}

function runSchedule(seed: number): { net: SpreadNet; trace: string[] } {
  const random = new SeededRandom(seed);
  const nodes = Array.from({ length: 3 + random.int(3) }, (_, i) => `n${i}`);
  const epochs = new Map(nodes.map((n) => [n, 1]));
  const net = new SpreadNet({ digestIntervalMs: INTERVAL, syncEntriesPerMessage: 1 + random.int(4) });
  for (const n of nodes) net.start(n, 1);
  for (const a of nodes) for (const b of nodes) if (a < b) net.connect(a, b);
  const trace: string[] = [];
  for (let i = 0; i < 400; i++) {
    const roll = random.int(100);
    const node = pick(random, nodes);
    if (roll < 15) {
      const [topic, subscriber] = [pick(random, TOPICS), pick(random, SUBSCRIBERS)];
      trace.push(`${node} subscribe ${topic} ${subscriber}`);
      net.step(node, { type: 'subscribe', topic, subscriber });
    } else if (roll < 25) {
      const [topic, subscriber] = [pick(random, TOPICS), pick(random, SUBSCRIBERS)];
      trace.push(`${node} unsubscribe ${topic} ${subscriber}`);
      net.step(node, { type: 'unsubscribe', topic, subscriber });
    } else if (roll < 28) {
      const subscriber = pick(random, SUBSCRIBERS);
      trace.push(`${node} drop ${subscriber}`);
      net.step(node, { type: 'drop-subscriber', subscriber });
    } else if (roll < 70) {
      const key = nonEmptyLink(net, random);
      if (key !== undefined) net.deliverOne(key);
    } else if (roll < 78) {
      const key = nonEmptyLink(net, random);
      if (key !== undefined) trace.push(`lose one on ${key}`);
      if (key !== undefined) net.dropOne(key);
    } else if (roll < 82) {
      const [a, b] = otherPair(random, nodes);
      trace.push(`break ${a}-${b}, then link up`);
      net.breakLink(a, b);
      net.connect(a, b);
    } else if (roll < 86) {
      const [a, b] = otherPair(random, nodes);
      trace.push(`${a} sees ${b} down`);
      net.step(a, { type: 'peer-down', node: b });
    } else if (roll < 90) {
      const [a, b] = otherPair(random, nodes);
      trace.push(`${a} sees ${b} up`);
      net.step(a, { type: 'peer-up', node: b, address: SpreadNet.address(b) });
    } else if (roll < 92) {
      epochs.set(node, epochs.get(node)! + 1);
      trace.push(`${node} restarts (epoch ${epochs.get(node)})`);
      for (const other of nodes) if (other !== node) net.breakLink(node, other);
      net.start(node, epochs.get(node)!);
    } else {
      net.tick(random.int(INTERVAL + 1));
    }
  }
  return { net, trace };
}

/**
 * Every pair up again, as membership would report it: a node steps peer-up
 * only for the peers it does not hold (seen down, or it restarted). A frame
 * lost to a full queue brings no link-up: the digests must repair it. Then
 * quiet: no loss for a few digest periods.
 */
function healAndSettle(net: SpreadNet): void {
  const nodes = [...net.cores.keys()];
  for (const a of nodes) {
    for (const b of nodes) if (a !== b && !net.core(a).peerNames().includes(b)) net.step(a, { type: 'peer-up', node: b, address: SpreadNet.address(b) });
  }
  for (let round = 0; round < 4; round++) {
    net.deliverAll();
    net.tick(INTERVAL);
  }
  net.deliverAll();
}

/** Where a node's publish destinations disagree with its views. */
function indexProblems(net: SpreadNet): string[] {
  const problems: string[] = [];
  for (const [node, core] of net.cores) {
    for (const topic of TOPICS) {
      const expected = core.peerNames().filter((p) => core.viewOf(p)?.has(topic)).map(SpreadNet.address).sort();
      const actual = core.destinationsOf(topic).sort();
      if (expected.join() !== actual.join()) problems.push(`${node} publishes ${topic} to ${actual.join() || 'nobody'}, views say ${expected.join() || 'nobody'}`);
    }
  }
  return problems;
}

test('every view converges to its owner\'s set once links are up and quiet', () => {
  const seeds = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: RUNS }, (_, i) => i + 1);
  for (const seed of seeds) {
    const { net, trace } = runSchedule(seed);
    healAndSettle(net);
    const problems = [...net.differences(), ...indexProblems(net)];
    const peersMissing = [...net.cores].filter(([, core]) => core.peerNames().length !== net.cores.size - 1).map(([n]) => n);
    assert.deepEqual([...problems, ...peersMissing.map((n) => `${n} lacks peers`)], [], `SEED=${seed}; last steps:\n${trace.slice(-20).join('\n')}`);
    for (const core of net.cores.values()) for (const topic of TOPICS.filter((t) => t.startsWith('$'))) assert.deepEqual(core.destinationsOf(topic), [], 'system topics never spread');
  }
});

test('without loss, views agree after every delivery round, not only at the end', () => {
  const net = new SpreadNet({ digestIntervalMs: INTERVAL });
  const nodes = ['a', 'b', 'c'];
  for (const n of nodes) net.start(n, 1);
  for (const a of nodes) for (const b of nodes) if (a < b) net.connect(a, b);
  const random = new SeededRandom(42);
  for (let i = 0; i < 200; i++) {
    const op = random.int(3) === 0 ? 'unsubscribe' : 'subscribe';
    net.step(pick(random, nodes), { type: op, topic: pick(random, TOPICS), subscriber: pick(random, SUBSCRIBERS) });
    net.deliverAll();
    assert.deepEqual(net.differences(), [], `after step ${i}`);
  }
  for (const core of net.cores.values()) assert.equal(core.stats.gapsDetected + core.stats.syncRequestsSent, 0, 'no repair was needed');
});
