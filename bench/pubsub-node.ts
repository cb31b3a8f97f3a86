/**
 * One troupe node for bench/pubsub.ts, in its own process: `startNode`,
 * subscriber actors that record when each message reached them, and a
 * publisher. IPC, driver → node (answered with `{ id, ok, value | error }`):
 *   start      { name, clusterPort, seeds, dataDir }
 *   members    → members this node sees up
 *   subscribe  { topic, count } → null: `count` recording actors subscribed to `topic`
 *   subscribers { topic } → subscribers of `topic` this node knows, cluster-wide
 *   publish    { topic, messages, perTurn } → null: publishes `{ seq, at }` messages, `perTurn` per event-loop turn
 *   received   → { count, latencies }: deliveries to this node's subscribers since the last call, and
 *              the publish→delivery times (ms, from the epoch-based high-resolution clock both processes share)
 */
import { spawn } from 'nact';
import { startNode, type TopicMessage, type TroupeNode } from '../lib/index.js';
import { serveCommands } from '../test/harness/forked-node.js';

let node: TroupeNode | undefined;
let deliveries = 0;
let latencies: number[] = [];
const now = (): number => performance.timeOrigin + performance.now();

type Command = { id: number; type: string } & Record<string, unknown>;

async function run(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'start':
      node = await startNode({
        config: {
          nodeName: `${cmd['name'] as string}@127.0.0.1`, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: cmd['seeds'] as string[],
          clusterPort: cmd['clusterPort'] as number, port: 0, httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir: cmd['dataDir'] as string,
          cookie: 'pubsub-bench', heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000, logLevel: 'warn',
        },
      });
      return null;
    case 'members':
      return node!.members().filter((m) => m.state === 'up').length;
    case 'subscribe':
      for (let i = 0; i < (cmd['count'] as number); i++) {
        const ref = spawn(node!.system!, (_s: unknown, msg: TopicMessage<{ seq: number; at: number }>) => {
          deliveries++;
          latencies.push(now() - msg.message.at);
        }, `sub-${i}`);
        node!.topics!.subscribe(cmd['topic'] as string, ref);
      }
      return null;
    case 'subscribers':
      return node!.topics!.subscribers(cmd['topic'] as string).length;
    case 'publish': {
      const total = cmd['messages'] as number;
      const perTurn = cmd['perTurn'] as number;
      for (let seq = 0; seq < total; ) {
        for (let i = 0; i < perTurn && seq < total; i++, seq++) node!.topics!.publish(cmd['topic'] as string, { seq, at: now() });
        await new Promise((resolve) => setImmediate(resolve));
      }
      return null;
    }
    case 'received': {
      const answer = { count: deliveries, latencies };
      deliveries = 0;
      latencies = [];
      return answer;
    }
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

if (process.argv[2] === '--node' && process.send !== undefined) serveCommands((cmd) => run(cmd as Command));
