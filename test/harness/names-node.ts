/**
 * One troupe node for the names tests (test/integration/names.test.ts), in
 * its own process, driven over IPC by test/harness/forked-node.ts, so that
 * `kill -9` of the process is a node crash.
 *
 * IPC, driver → node (each answered with `{ id, ok, value | error }`):
 *   start      { name, clusterPort, seeds, dataDir } → { pid }
 *   up         → how many members this node sees up
 *   register   { name, actor } → spawns a quiet actor named `actor` and registers `name` for it
 *              (a NameTakenError's message names the holder and the node that registered it)
 *   whereis    { name } → the reference as a string, or null
 *   singleton  { name } → joins the contenders of singleton `name` (behaviour 'clock')
 *   instances  → every start and stop of the singleton's instance on this node so far, as
 *              InstanceEvent, sampled every millisecond; `at` is the host's clock (hostNow),
 *              comparable across its processes
 *   stop       → stops the node (no leave) and exits
 */
import { createRequire } from 'node:module';
import { spawn } from 'nact';
import { startNode, type TroupeNode } from '../../lib/index.js';
import { nactRefAt } from '../../lib/remote/actor-ref.js';
import { answerAndExit, serveCommands, type ChildCommand } from './forked-node.js';

export interface InstanceEvent {
  node: string;
  running: boolean;
  at: number;
}

/** The host's clock, comparable across its processes, ms. */
export function hostNow(): number {
  return performance.timeOrigin + performance.now();
}

let node: TroupeNode | undefined;
const instances: InstanceEvent[] = [];

function names(): NonNullable<TroupeNode['names']> {
  if (node?.names === undefined) throw new Error('the node is not started');
  return node.names;
}

/** Records every start and stop of the singleton's instance on this node, checked every millisecond. */
function sampleInstance(n: TroupeNode, actorName: string): void {
  const require = createRequire(import.meta.url);
  const systemMap = require('nact/lib/system-map.js') as { find(systemName: string, ref: unknown): unknown };
  const systemName = (n.system as unknown as { system: { name: string } }).system.name;
  let running = false;
  const check = (): void => {
    const now = n.isLive() && systemMap.find(systemName, nactRefAt(systemName, [actorName])) !== undefined;
    if (now !== running) instances.push({ node: n.name, running: (running = now), at: hostNow() });
  };
  setInterval(check, 1).unref();
  check();
}

async function run(cmd: ChildCommand): Promise<unknown> {
  switch (cmd.type) {
    case 'start':
      node = await startNode({ config: {
        nodeName: `${cmd['name'] as string}@127.0.0.1`, clusteringEnabled: true, discoveryTypes: ['static'], clusterNodes: cmd['seeds'] as string[],
        clusterPort: cmd['clusterPort'] as number, port: 0, httpBind: '127.0.0.1', clusterBind: '127.0.0.1', dataDir: cmd['dataDir'] as string,
        cookie: 'names-multi-process', heartbeatIntervalMs: 300, heartbeatTimeoutMs: 1500, logLevel: 'silent',
      } });
      node.actors!.defineBehaviour('clock', () => ({ initialState: 0, f: (ticks: number) => ticks + 1 }));
      return { pid: process.pid };
    case 'up':
      return node?.members().filter((m) => m.state === 'up').length ?? 0;
    case 'register':
      await names().register(cmd['name'] as string, spawn(node!.system!, (s: unknown) => s, cmd['actor'] as string));
      return null;
    case 'whereis':
      return (await names().whereis(cmd['name'] as string))?.toString() ?? null;
    case 'singleton': {
      const name = cmd['name'] as string;
      sampleInstance(node!, `$singleton-${name}`);
      await names().singleton(name, 'clock');
      return null;
    }
    case 'instances':
      return instances;
    case 'stop':
      await node?.stop({ leave: false });
      return answerAndExit(cmd);
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

if (process.argv[2] === '--node' && process.send !== undefined) serveCommands(run);
