/**
 * A troupe node in its own process for the names tests
 * (test/integration/names.test.ts), driven over IPC, so that `kill -9` of
 * the process is a node crash. The parent side is `NamesNodeProcess`; the
 * same file, forked with `--names-node`, is the child.
 *
 * IPC, parent → child (each answered with `{ id, ok, value | error }`):
 *   start      { name, clusterPort, seeds, dataDir } → { pid }
 *   up         → how many members this node sees up
 *   register   { name, actor } → spawns a quiet actor named `actor` (once) and registers `name` for it;
 *              a failure answers its error's name, code, message and, for NameTakenError, holder and registeredBy
 *   whereis    { name } → the reference as a string, or null
 *   singleton  { name } → joins the contenders of singleton `name` (behaviour 'clock')
 *   stop       → stops the node (no leave) and exits
 * Child → parent, unsolicited: `{ instance: { node, running, at } }` each time
 * the singleton's instance starts or stops here, sampled every millisecond;
 * `at` is `performance.timeOrigin + performance.now()`, comparable
 * across processes of one host.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { spawn } from 'nact';
import { NameTakenError, startNode, type TroupeNode } from '../../lib/index.js';
import { nactRefAt } from '../../lib/remote/actor-ref.js';

export interface InstanceEvent {
  node: string;
  running: boolean;
  at: number;
}

export interface CommandError {
  name: string;
  code?: string;
  message: string;
  holder?: string;
  registeredBy?: string;
}

/** The host's clock, comparable across its processes, ms. */
export function hostNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The parent side: one forked node. */
export class NamesNodeProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private seq = 0;
  private stderr = '';
  alive = true;
  readonly exited: Promise<void>;

  constructor(readonly name: string, onInstance: (event: InstanceEvent) => void) {
    this.child = fork(fileURLToPath(import.meta.url), ['--names-node'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-20_000)));
    this.child.on('message', (msg: { id?: number; ok?: boolean; value?: unknown; error?: CommandError; instance?: InstanceEvent }) => {
      if (msg.instance !== undefined) return onInstance(msg.instance);
      const p = this.pending.get(msg.id!);
      this.pending.delete(msg.id!);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(Object.assign(new Error(`${this.name}: ${msg.error?.message}`), { detail: msg.error }));
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', () => {
        this.alive = false;
        for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited; stderr tail:\n${this.stderr.slice(-2_000)}`));
        this.pending.clear();
        resolve();
      }),
    );
  }

  call<T>(type: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v as T)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.child.send({ id, type, ...args });
    });
  }

  /** kill -9; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}

// ---- The child ----

type Command = { id: number; type: string; [key: string]: unknown };

let node: TroupeNode | undefined;

function names(): NonNullable<TroupeNode['names']> {
  if (node?.names === undefined) throw new Error('the node is not started');
  return node.names;
}

/** Reports every start and stop of the singleton's instance on this node, checked every millisecond. */
function sampleInstance(n: TroupeNode, actorName: string): void {
  const require = createRequire(import.meta.url);
  const systemMap = require('nact/lib/system-map.js') as { find(systemName: string, ref: unknown): unknown };
  const systemName = (n.system as unknown as { system: { name: string } }).system.name;
  let running = false;
  const check = (): void => {
    const now = n.isLive() && systemMap.find(systemName, nactRefAt(systemName, [actorName])) !== undefined;
    if (now !== running) {
      running = now;
      process.send!({ instance: { node: n.name, running, at: hostNow() } satisfies InstanceEvent });
    }
  };
  setInterval(check, 1).unref();
  check();
}

async function run(cmd: Command): Promise<unknown> {
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
    case 'register': {
      const actor = cmd['actor'] as string;
      const ref = spawn(node!.system!, (s: unknown) => s, actor);
      await names().register(cmd['name'] as string, ref);
      return null;
    }
    case 'whereis':
      return (await names().whereis(cmd['name'] as string))?.toString() ?? null;
    case 'singleton': {
      const name = cmd['name'] as string;
      sampleInstance(node!, `$singleton-${name}`);
      await names().singleton(name, 'clock');
      return null;
    }
    case 'stop':
      await node?.stop({ leave: false });
      process.send!({ id: cmd.id, ok: true, value: null }, () => process.exit(0));
      return new Promise(() => {}); // answered above
    default:
      throw new Error(`unknown command ${cmd.type}`);
  }
}

function describeError(err: unknown): CommandError {
  const e = err as Error & { code?: string };
  const base: CommandError = { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(e?.code ? { code: e.code } : {}) };
  return err instanceof NameTakenError ? { ...base, holder: err.holder, registeredBy: err.registeredBy } : base;
}

if (process.argv[2] === '--names-node' && process.send !== undefined) {
  process.on('message', (cmd: Command) => {
    run(cmd).then(
      (value) => process.send!({ id: cmd.id, ok: true, value }),
      (err: unknown) => process.send!({ id: cmd.id, ok: false, error: describeError(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
