/**
 * One troupe node for the pub/sub test across processes
 * (test/integration/pubsub.test.ts), in its own process: `startNode` with
 * HTTP on the port the driver reserved, and IPC commands that act through
 * `node.topics` from inside the node. The driver forks one of these per node
 * (test/harness/forked-node.ts); `kill -9` of this process is a node crash.
 *
 * Subscribers are recorder actors (top-level nact actors named by the
 * driver): each keeps the `message` of every `topic-message` it receives, in
 * arrival order, for the driver to read back.
 *
 * IPC, driver → node (each answered with `{ id, ok, value | error }`):
 *   start          { name, clusterPort, httpPort, seeds, dataDir } → { pid, httpPort }
 *   member-states  → { [node]: state }, this node included
 *   subscribe      { topic, names } → null: spawns the recorders not spawned yet and subscribes each to `topic`
 *   subscribers    { topic } → this node's view of the topic's subscribers, `node/path`, sorted
 *   publish        { topic, from, first, count, perTurn? } → { remoteNodes, localSubscribers }: the distinct
 *                  values of the receipts of `count` library publishes of `{ from, n }`, n = first…first+count-1,
 *                  `perTurn` per event-loop turn (default 10), so HTTP publishes and frames interleave with them
 *   received       { name } → the messages recorder `name` received, in order
 *   stats          → node.topics.stats
 */
import { spawn, type Ref } from 'nact';
import { startNode, type TopicMessage, type TroupeNode } from '../../lib/index.js';
import { forkedNodeConfig, serveCommands, type ChildCommand } from './forked-node.js';

let node: TroupeNode | undefined;
const recorders = new Map<string, { ref: Ref<unknown>; received: unknown[] }>();

const started = (): TroupeNode => {
  if (node === undefined) throw new Error('the node is not started');
  return node;
};
const topics = (): NonNullable<TroupeNode['topics']> => {
  const t = started().topics;
  if (t === undefined) throw new Error('this node has no pub/sub layer');
  return t;
};

function recorder(name: string): Ref<unknown> {
  const existing = recorders.get(name);
  if (existing !== undefined) return existing.ref;
  const received: unknown[] = [];
  const ref = spawn(started().system!, (state: undefined, msg: TopicMessage) => {
    received.push(msg?.type === 'topic-message' ? msg.message : { unexpected: msg });
    return state;
  }, name) as Ref<unknown>;
  recorders.set(name, { ref, received });
  return ref;
}

async function publish(cmd: ChildCommand): Promise<{ remoteNodes: number[]; localSubscribers: number[] }> {
  const { topic, from, first, count } = cmd as ChildCommand & { topic: string; from: string; first: number; count: number };
  const perTurn = (cmd['perTurn'] as number | undefined) ?? 10;
  const remoteNodes = new Set<number>();
  const localSubscribers = new Set<number>();
  for (let n = first; n < first + count; n++) {
    const receipt = topics().publish(topic, { from, n });
    remoteNodes.add(receipt.remoteNodes);
    localSubscribers.add(receipt.localSubscribers);
    if ((n - first + 1) % perTurn === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return { remoteNodes: [...remoteNodes].sort(), localSubscribers: [...localSubscribers].sort() };
}

async function run(cmd: ChildCommand): Promise<unknown> {
  switch (cmd.type) {
    case 'start':
      node = await startNode({ config: { ...forkedNodeConfig(cmd, 'pubsub-test-cookie'), port: cmd['httpPort'] as number } });
      return { pid: process.pid, httpPort: node.httpPort };
    case 'member-states':
      return Object.fromEntries(started().members().map((m) => [m.name, m.state]));
    case 'subscribe':
      for (const name of cmd['names'] as string[]) topics().subscribe(cmd['topic'] as string, recorder(name));
      return null;
    case 'subscribers':
      return topics().subscribers(cmd['topic'] as string).map((ref) => ref.toString()).sort();
    case 'publish':
      return publish(cmd);
    case 'received':
      return recorders.get(cmd['name'] as string)?.received ?? [];
    case 'stats':
      return topics().stats;
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

if (process.argv[2] === '--node' && process.send !== undefined) serveCommands(run);
