/**
 * A node program forked as a child process and driven over IPC: the driver
 * side of test/harness/actor-node.ts and bench/actors-node.ts (the child
 * answers each command `{ id, type, ...args }` with `{ id, ok, value }` or
 * `{ id, ok: false, error }`).
 *
 * `serveCommands` is the child's side of the same protocol.
 *
 * A call settles exactly once: with the child's answer, with an error when
 * the child exits first (its stderr tail attached), or at the call's
 * deadline. `ForkedNodeGroup.cleanup()` kills every child it started by PID
 * (SIGKILL) and removes their data dirs, so an `after()` leaves nothing
 * running whatever the test did.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TroupeConfig } from '../../lib/config.js';

/** The error a child reported for a command: its name, code and message. */
export class ChildCommandError extends Error {
  constructor(readonly node: string, readonly command: string, readonly remoteName: string, message: string) {
    super(`${node}: ${command}: ${remoteName}: ${message}`);
    this.name = 'ChildCommandError';
  }
}

/** Deadline of a command that names none, ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

export interface ForkedNodeOptions {
  /** The child program (a compiled .js file). */
  script: string;
  /** Short name, for messages and the node name (`name@127.0.0.1`). */
  name: string;
  args?: string[];
  /** Extra `execArgv` (e.g. `--cpu-prof`). */
  execArgv?: string[];
}

export class ForkedNode {
  readonly dataDir: string;
  readonly nodeName: string;
  stderr = '';
  /** Undefined while the process runs; its exit code (null after a signal) once it exited. */
  exitCode: number | null | undefined = undefined;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private seq = 0;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();

  constructor(readonly options: ForkedNodeOptions) {
    this.nodeName = `${options.name}@127.0.0.1`;
    this.dataDir = mkdtempSync(join(tmpdir(), `troupe-${options.name}-`));
    this.child = fork(options.script, options.args ?? ['--node'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: options.execArgv ?? [] });
    this.child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-20_000)));
    this.child.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: { name: string; message: string }; type?: string }) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new ChildCommandError(this.options.name, msg.type ?? '?', msg.error?.name ?? 'Error', msg.error?.message ?? '?'));
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        for (const p of this.pending.values()) p.reject(new Error(`${this.options.name} exited (${code}) before answering; stderr tail:\n${this.stderr.slice(-2000)}`));
        this.pending.clear();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** A message when the process has exited, for `waitFor`'s abortIf. */
  exitedReason = (): string | undefined => (this.alive ? undefined : `${this.nodeName} exited with ${this.exitCode}; stderr tail:\n${this.stderr.slice(-3000)}`);

  /** Sends command `type` and resolves with the child's answer. */
  call<T = unknown>(type: string, args: Record<string, unknown> = {}, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.options.name} is not running: ${this.exitedReason()}`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.options.name}: ${type} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ id, type, ...args });
    });
  }

  /** SIGKILL by PID: no goodbye, a node crash. */
  async kill(): Promise<void> {
    if (this.alive) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.exited;
  }
}

/** Every node a test started, killed by PID on cleanup. */
export class ForkedNodeGroup {
  private readonly nodes: ForkedNode[] = [];

  start(options: ForkedNodeOptions): ForkedNode {
    const node = new ForkedNode(options);
    this.nodes.push(node);
    return node;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    for (const n of this.nodes) rmSync(n.dataDir, { recursive: true, force: true });
    this.nodes.length = 0;
  }
}

/** A command as the child program receives it. */
export type ChildCommand = { id: number; type: string; [key: string]: unknown };

/**
 * The child's side: answers every command with what `run` resolves to, or
 * with the name and message of what it throws (a ChildCommandError at the
 * driver); exits when the driver goes away.
 */
export function serveCommands(run: (cmd: ChildCommand) => Promise<unknown>): void {
  process.on('message', (cmd: ChildCommand) => {
    run(cmd).then(
      (value) => process.send!({ id: cmd.id, ok: true, value }),
      (err: unknown) => process.send!({ id: cmd.id, type: cmd.type, ok: false, error: { name: (err as Error)?.name ?? 'Error', message: (err as Error)?.message ?? String(err) } }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Answers a `stop` command and exits once the answer is out; never resolves. */
export function answerAndExit(cmd: ChildCommand): Promise<never> {
  process.send!({ id: cmd.id, ok: true, value: null }, () => process.exit(0));
  return new Promise(() => {});
}

/**
 * The configuration of a node started by a forked node program from its `start` command
 * ({ name, seeds, clusterPort, dataDir }): static discovery on loopback, the harness's timers
 * (test/harness/troupe-process.ts: SWIM down after about 2.5 s), warnings only.
 */
export function forkedNodeConfig(cmd: ChildCommand, cookie: string): Partial<TroupeConfig> {
  return {
    nodeName: `${cmd['name'] as string}@127.0.0.1`,
    clusteringEnabled: true,
    discoveryTypes: ['static'],
    clusterNodes: cmd['seeds'] as string[],
    clusterPort: cmd['clusterPort'] as number,
    port: 0,
    httpBind: '127.0.0.1',
    clusterBind: '127.0.0.1',
    dataDir: cmd['dataDir'] as string,
    cookie,
    heartbeatIntervalMs: 500,
    heartbeatTimeoutMs: 2000,
    logLevel: 'warn',
  };
}
