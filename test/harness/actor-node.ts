/**
 * One troupe node for the actor tests (test/integration/actors.test.ts), in
 * its own process: `startNode` with the configuration the driver sends, the
 * test behaviours defined on `node.actors`, and IPC commands that act
 * through the actor layer from inside the node. The driver forks one of
 * these per node (test/harness/forked-node.ts); `kill -9` of this process is
 * a node crash.
 *
 * Behaviours (defined on every node, so any node can `spawnOn` them):
 *   recorder  records every message with its sender; answers only `{ sync }`
 *             (to the sender: `{ synced, count }`, not recorded), so any other
 *             query to it waits (the query in flight of the kill test)
 *   echo      `{ text, replyTo?, via? }`: with `via`, forwards the message
 *             (replyTo included) to that reference; else answers
 *             `{ echo: text, from: ctx.self, node }` to `replyTo`, or to the
 *             query's sender
 *   counter   `{ add }` adds; `{ get: true }` answers `{ count, node }` to the sender
 *   pump      `{ to, count, batch, window }`: dispatches `{ seq: 0 … count-1 }`
 *             to `to` with itself as sender, `batch` per event-loop turn; with
 *             a window, it also queries `{ sync }` after every `window`
 *             messages and waits for the answer (acknowledgement at the
 *             application level: at most `window` of its messages queued)
 *   asker     `{ ask: ref, text }`: dispatches `{ text, replyTo: ctx.self }`
 *             to `ref` (a local nact reference inside a message to another
 *             node); records every other message, like recorder
 *   crasher   throws on any message, so its supervision stops it (a crash)
 *
 * References cross IPC (JSON) as `{ $ref: node, path }` both ways.
 *
 * IPC, driver → node (each answered with `{ id, ok, value | error }`):
 *   start          { name, clusterPort, seeds, dataDir } → { pid }
 *   member-states  → { [node]: state }, this node included
 *   spawn          { behaviour, args?, name } → ref
 *   spawn-on       { node, behaviour, args?, name } → ref (errors as { error })
 *   spawn-direct   { name } → ref: an actor spawned with nact's spawn, not through the layer, that ignores every message
 *   dispatch       { to, message, sender?, nact? } → null; nact: with nact's own dispatch (a hand-built RemoteRef in a one-node process)
 *   pump           { pump, to, count, batch, window? } → null once the pump actor sent them all
 *   query          { to, message, timeoutMs, byRef?, nact? } → { value } | { error: { name, code, message } }; nact: nact's own query;
 *                  byRef: the message is sent as `{ ...message, replyTo }` (a query answered by dispatch)
 *   recorded       { name, from? } → what recorder/asker `name` received from index `from` on: [{ message, sender }]
 *   recorded-count { name } → how many
 *   stats          → { actors: node.actors.stats, linkFramesDropped: frames the transport refused (its queues full), all channels }
 *   watch          { watcher, target } → null: node.actors.watch (a recorder as the watcher records its terminated notices)
 *   unwatch        { watcher, target } → null: node.actors.unwatch
 *   monitor        { target, as } → null: node.actors.monitor, whose callback records `{ type: 'terminated', ref: target, reason }`
 *                  under the name `as` (read with recorded)
 *   stop           { name } → null: stops this node's top-level actor `name` (nact's stop)
 *   leave          → null once node.leave() resolved: a graceful leave; the process keeps running
 */
import { isRemoteRef, RemoteRef, startNode, type ActorRef, type TroupeNode } from '../../lib/index.js';
import { dispatch, query, spawn, stop, type Ref } from 'nact';

/** nact's dispatch takes the sender as a third argument (its typings omit it). */
const nactDispatch = dispatch as unknown as (ref: Ref<any>, message: unknown, sender?: unknown) => void;
import { nactRefAt } from '../../lib/remote/actor-ref.js';
import { systemNameOf } from '../../lib/remote/local-actors.js';
import { forkedNodeConfig, serveCommands } from './forked-node.js';

type Command = { id: number; type: string; [key: string]: unknown };
interface Recorded {
  message: unknown;
  sender: unknown;
}

let node: TroupeNode | undefined;
/** What each recorder and asker received, by actor name. */
const records = new Map<string, Recorded[]>();
/** Pumps running, by pump name: resolved when the pump has dispatched everything. */
const pumpsDone = new Map<string, () => void>();

const actors = (): NonNullable<TroupeNode['actors']> => {
  const a = node?.actors;
  if (a === undefined) throw new Error('the node is not started');
  return a;
};

/** Driver JSON → values: `{ $ref, path }` becomes a RemoteRef, at any depth. */
function fromIpc(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromIpc);
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  if (typeof v['$ref'] === 'string' && Array.isArray(v['path'])) return new RemoteRef(v['$ref'], v['path'] as string[]);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromIpc(x)]));
}

/** Values → driver JSON: a RemoteRef becomes `{ $ref, path }`; anything else that is a reference (nact) becomes its type. */
function toIpc(value: unknown): unknown {
  if (isRemoteRef(value)) return { $ref: value.node, path: [...value.path] };
  if (Array.isArray(value)) return value.map(toIpc);
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  if (typeof v['type'] === 'string' && typeof v['system'] === 'object') return { $nact: v['type'] };
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toIpc(x)]));
}

const record = (name: string, message: unknown, sender: unknown): void => {
  let list = records.get(name);
  if (list === undefined) records.set(name, (list = []));
  list.push({ message, sender });
};

const replyTarget = (ctx: { sender?: unknown }): ActorRef | undefined => {
  const sender = ctx.sender as { type?: string } | undefined;
  return sender !== undefined && sender.type !== 'nobody' ? (sender as ActorRef) : undefined;
};

function defineBehaviours(n: TroupeNode): void {
  const a = n.actors!;
  a.defineBehaviour('recorder', () => ({
    f: (_state: unknown, msg: { sync?: unknown }, ctx) => {
      const to = replyTarget(ctx as { sender?: unknown });
      if (msg !== null && typeof msg === 'object' && msg.sync !== undefined && to !== undefined) return a.dispatch(to, { synced: msg.sync, count: records.get(ctx.name)?.length ?? 0 });
      record(ctx.name, msg, (ctx as { sender?: unknown }).sender);
    },
  }));
  a.defineBehaviour('echo', () => ({
    f: (_state: unknown, msg: { text?: unknown; replyTo?: ActorRef; via?: ActorRef }, ctx) => {
      if (msg.via !== undefined) return a.dispatch(msg.via, { text: msg.text, replyTo: msg.replyTo }, ctx.self);
      const to = msg.replyTo ?? replyTarget(ctx as { sender?: unknown });
      if (to !== undefined) a.dispatch(to, { echo: msg.text, from: ctx.self, node: n.name }, ctx.self);
    },
  }));
  a.defineBehaviour('counter', (args) => ({
    initialState: (args as { start?: number } | null)?.start ?? 0,
    f: (state: number, msg: { add?: number; get?: boolean }, ctx) => {
      if (msg.get === true) {
        const to = replyTarget(ctx as { sender?: unknown });
        if (to !== undefined) a.dispatch(to, { count: state, node: n.name });
      }
      return state + (msg.add ?? 0);
    },
  }));
  a.defineBehaviour('pump', () => ({
    f: async (_state: unknown, msg: { to: ActorRef; count: number; batch: number; window: number }, ctx) => {
      for (let seq = 0; seq < msg.count; seq++) {
        a.dispatch(msg.to, { seq }, ctx.self);
        if (msg.window > 0 && (seq + 1) % msg.window === 0) await a.query(msg.to, { sync: seq }, 30_000);
        else if ((seq + 1) % msg.batch === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      pumpsDone.get(ctx.name)?.();
    },
  }));
  a.defineBehaviour('asker', () => ({
    f: (_state: unknown, msg: { ask?: ActorRef; text?: unknown }, ctx) => {
      if (msg.ask !== undefined) return a.dispatch(msg.ask, { text: msg.text, replyTo: ctx.self }, ctx.self);
      record(ctx.name, msg, (ctx as { sender?: unknown }).sender);
    },
  }));
  a.defineBehaviour('crasher', () => ({
    f: () => {
      throw new Error('crasher: asked to crash');
    },
  }));
}

async function start(cmd: Command): Promise<{ pid: number }> {
  node = await startNode({ config: forkedNodeConfig(cmd, 'actors-test-cookie') });
  defineBehaviours(node);
  return { pid: process.pid };
}

const errorOf = (err: unknown): { name: string; code: string | null; message: string } => {
  const e = err as { name?: string; code?: unknown; message?: string };
  return { name: e.name ?? 'Error', code: typeof e.code === 'string' ? e.code : null, message: e.message ?? String(err) };
};

async function run(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'start':
      return start(cmd);
    case 'member-states':
      return Object.fromEntries(node!.members().map((m) => [m.name, m.state]));
    case 'spawn':
      return toIpc(actors().spawn(cmd['behaviour'] as string, cmd['args'] ?? null, { name: cmd['name'] as string }));
    case 'spawn-direct':
      return toIpc(actors().refOf(spawn(node!.system!, (state: unknown) => state, cmd['name'] as string)));
    case 'spawn-on':
      return actors().spawnOn(cmd['node'] as string, cmd['behaviour'] as string, cmd['args'] ?? null, { name: cmd['name'] as string }).then(
        (ref) => ({ value: toIpc(ref) }),
        (err: unknown) => ({ error: errorOf(err) }),
      );
    case 'dispatch': {
      const sender = cmd['sender'] === undefined ? undefined : (fromIpc(cmd['sender']) as ActorRef);
      if (cmd['nact'] === true) nactDispatch(fromIpc(cmd['to']) as Ref<any>, fromIpc(cmd['message']), sender);
      else actors().dispatch(fromIpc(cmd['to']) as ActorRef, fromIpc(cmd['message']), sender);
      return null;
    }
    case 'pump': {
      const name = cmd['pump'] as string;
      const done = new Promise<void>((resolve) => pumpsDone.set(name, resolve));
      actors().dispatch(new RemoteRef(node!.name, [name]), { to: fromIpc(cmd['to']), count: cmd['count'], batch: cmd['batch'], window: cmd['window'] ?? 0 });
      await done;
      pumpsDone.delete(name);
      return null;
    }
    case 'query': {
      const message = fromIpc(cmd['message']) as Record<string, unknown>;
      const asked = cmd['byRef'] === true ? (replyTo: RemoteRef) => ({ ...message, replyTo }) : message;
      const asking = cmd['nact'] === true ? query(fromIpc(cmd['to']) as Ref<any>, asked as never, cmd['timeoutMs'] as number) : actors().query(fromIpc(cmd['to']) as ActorRef, asked, cmd['timeoutMs'] as number);
      return asking.then(
        (value) => ({ value: toIpc(value) }),
        (err: unknown) => ({ error: errorOf(err) }),
      );
    }
    case 'recorded':
      return toIpc((records.get(cmd['name'] as string) ?? []).slice((cmd['from'] as number | undefined) ?? 0));
    case 'recorded-count':
      return records.get(cmd['name'] as string)?.length ?? 0;
    case 'stats':
      return { actors: actors().stats, linkFramesDropped: node!.stats().linkFramesDropped };
    case 'watch':
      actors().watch(fromIpc(cmd['watcher']) as ActorRef, fromIpc(cmd['target']) as ActorRef);
      return null;
    case 'unwatch':
      actors().unwatch(fromIpc(cmd['watcher']) as ActorRef, fromIpc(cmd['target']) as ActorRef);
      return null;
    case 'monitor': {
      const target = fromIpc(cmd['target']) as RemoteRef;
      actors().monitor(target, (reason) => record(cmd['as'] as string, { type: 'terminated', ref: target, reason }, null));
      return null;
    }
    case 'stop':
      stop(nactRefAt(systemNameOf(node!.system!), [cmd['name'] as string]));
      return null;
    case 'leave':
      await node!.leave();
      return null;
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

if (process.argv[2] === '--node' && process.send !== undefined) serveCommands((cmd) => run(cmd as Command));
