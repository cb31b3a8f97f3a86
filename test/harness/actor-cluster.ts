/**
 * A cluster of actor nodes for the multi-process actor tests
 * (test/integration/actors.test.ts, monitors.test.ts): one forked
 * test/harness/actor-node.ts per name, on 127.0.0.1 with reserved cluster
 * ports and its own data dir, each seeded with all of them, started
 * together and returned once every node sees every member up; a node can
 * be restarted in place (kill -9, then a new process with its name, port,
 * seeds and data dir: a newer generation).
 *
 * References cross the nodes' IPC as `{ $ref: node, path }` (actor-node.ts).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForkedNodeGroup, type ForkedNode } from './forked-node.js';
import { reservePorts } from './ports.js';
import { waitFor } from './wait-for.js';

/** The compiled node program. */
export const ACTOR_NODE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'actor-node.js');
/** How long the nodes may take to see each other up, ms. */
const ALL_UP_TIMEOUT_MS = 20_000;

/** An actor reference as actor-node.ts sends and takes it over IPC. */
export interface Ref {
  $ref: string;
  path: string[];
}

/** What a recorder (or asker) actor of actor-node.ts received. */
export interface Recorded {
  message: any;
  sender: any;
}

/** The answer of actor-node.ts's query command. */
export type QueryOutcome = { value: any } | { error: { name: string; code: string | null; message: string } };

/** The reference of the actor at `path` on `node`. */
export const ref = (node: ForkedNode, ...path: string[]): Ref => ({ $ref: node.nodeName, path });

export interface ActorCluster {
  /** The running nodes, in the order of their names (a restarted node in its predecessor's place). */
  nodes: ForkedNode[];
  /** Kills `node` (kill -9) and starts it again at once; resolves with the new process once it sees every member up. */
  restart(node: ForkedNode): Promise<ForkedNode>;
}

/** Starts one actor node per name in `group` (which kills them on cleanup) and waits until each sees all of them up. */
export async function startActorCluster(group: ForkedNodeGroup, names: readonly string[]): Promise<ActorCluster> {
  const ports = await reservePorts(names.length);
  const seeds = names.map((n, i) => `${n}@127.0.0.1:${ports[i]}`);
  const nodes = names.map((name) => group.start({ script: ACTOR_NODE_SCRIPT, name }));
  const dataDirs = nodes.map((n) => n.dataDir); // a restarted node keeps its predecessor's
  const exited = (): string | undefined => nodes.map((n) => n.exitedReason()).find((r) => r !== undefined);
  const start = (n: ForkedNode, i: number): Promise<unknown> => n.call('start', { name: names[i], clusterPort: ports[i], seeds, dataDir: dataDirs[i] });
  const allUp = (n: ForkedNode): Promise<boolean> =>
    waitFor(async () => Object.values(await n.call<Record<string, string>>('member-states')).filter((s) => s === 'up').length === names.length, {
      timeoutMs: ALL_UP_TIMEOUT_MS, what: `${n.nodeName} to see ${names.length} members up`, abortIf: exited,
    });
  await Promise.all(nodes.map((n, i) => start(n, i)));
  for (const n of nodes) await allUp(n);
  return {
    nodes,
    async restart(node) {
      const i = nodes.indexOf(node);
      await node.kill();
      const next = (nodes[i] = group.start({ script: ACTOR_NODE_SCRIPT, name: names[i]! }));
      await start(next, i);
      await allUp(next);
      return next;
    },
  };
}
