/**
 * Launches real `troupe start` processes on 127.0.0.1 for integration tests:
 * distinct ports, a temporary DATA_DIR each, the HTTP port read back from
 * `<dataDir>/ports.json` (the node binds PORT=0), stderr kept for failure
 * reports, and every process killed by PID on cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest } from './http.js';
import { reservePort } from './ports.js';
import { waitFor } from './wait-for.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/harness → repository root. */
export const REPO_ROOT = resolve(here, '../../..');
export const CLI = join(REPO_ROOT, 'dist/lib/cli/main.js');

/** A TCP port free on 127.0.0.1, below the ephemeral range and reserved for this test process (harness/ports.ts). */
export async function freePort(): Promise<number> {
  return reservePort();
}

/**
 * The environment every test node starts with: fast timers, its own data dir, a shared test cookie.
 * Without `clusterPort`, CLUSTER_PORT is left unset: the node takes the first free port of CLUSTER_PORT_RANGE.
 */
export function testNodeEnv(node: { nodeName: string; bindHost: string; clusterPort?: number | undefined; dataDir: string; seeds?: string[] }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_NAME: node.nodeName,
    PORT: '0',
    HTTP_BIND: node.bindHost,
    CLUSTER_BIND: node.bindHost,
    ...(node.clusterPort === undefined ? {} : { CLUSTER_PORT: String(node.clusterPort) }),
    CLUSTERING_ENABLED: 'true',
    CLUSTER_NODES: (node.seeds ?? []).join(','),
    DATA_DIR: node.dataDir,
    COOKIE: 'integration-cookie',
    HEARTBEAT_INTERVAL: '500',
    HEARTBEAT_TIMEOUT: '2000',
    LOG_LEVEL: 'info',
  };
}

export interface TroupeProcessOptions {
  name: string;
  clusterPort: number;
  seeds?: string[];
  env?: Record<string, string>;
  /** Reuse a data dir (restart with the same name and state). */
  dataDir?: string;
}

export class TroupeProcess {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly nodeName: string;
  stderr = '';
  stdout = '';
  exitCode: number | null | undefined = undefined;
  httpPort = 0;
  readonly exited: Promise<void>;

  constructor(readonly options: TroupeProcessOptions) {
    this.nodeName = `${options.name}@127.0.0.1`;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `troupe-${options.name}-`));
    this.child = spawn(process.execPath, [CLI, 'start'], {
      cwd: this.dataDir,
      env: {
        ...testNodeEnv({ nodeName: this.nodeName, bindHost: '127.0.0.1', clusterPort: options.clusterPort, dataDir: this.dataDir, seeds: options.seeds ?? [] }),
        CLUSTER_DISCOVERY_TYPE: 'static',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk) => (this.stdout = (this.stdout + chunk).slice(-20_000)));
    this.child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-50_000)));
    this.exited = new Promise((resolveExit) => this.child.once('exit', (code) => ((this.exitCode = code), resolveExit())));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get seed(): string {
    return `${this.nodeName}:${this.options.clusterPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** A message when the process has exited, for `waitFor`'s abortIf. */
  exitedReason = (): string | undefined => (this.exitCode === undefined ? undefined : `${this.nodeName} exited with ${this.exitCode}; stderr tail:\n${this.stderr.slice(-3000)}`);

  async ready(timeoutMs = 15_000): Promise<this> {
    this.httpPort = await waitFor(
      () => {
        const ports = JSON.parse(readFileSync(join(this.dataDir, 'ports.json'), 'utf8')) as { http: number; pid: number };
        return ports.pid === this.pid ? ports.http : undefined;
      },
      { timeoutMs, what: `${this.nodeName} to write its ports file`, abortIf: this.exitedReason },
    );
    return this;
  }

  async status(): Promise<ClusterStatus> {
    const res = await httpRequest('GET', `${this.url}/api/cluster/status`);
    if (res.status !== 200) throw new Error(`status ${res.status}: ${res.text.slice(0, 200)}`);
    return JSON.parse(res.text) as ClusterStatus;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await httpRequest(method, `${this.url}${path}`, payload, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
    const text = res.text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  /** SIGKILL, no goodbye. */
  async kill(): Promise<void> {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: graceful leave, then exit. */
  async terminate(timeoutMs = 10_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  removeDataDir(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export interface ClusterStatus {
  node: { name: string; state: string; generation: number; eventLoopLagMs: number };
  discovery: { modes: string[]; candidates: string[]; lastPollAt: string | null; lastError: string | null; unavailable: string | null };
  healthy: boolean;
  members: Array<{ name: string; address: string; state: string; incarnation: number; generation: number; lastHeartbeatAgoMs: number | null }>;
}

/** Keeps every started process and kills them all (by PID) on cleanup. */
export class ProcessGroup {
  private readonly processes: TroupeProcess[] = [];

  start(options: TroupeProcessOptions): TroupeProcess {
    const proc = new TroupeProcess(options);
    this.processes.push(proc);
    return proc;
  }

  async cleanup(): Promise<void> {
    for (const proc of this.processes) {
      if (proc.exitCode === undefined) {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(this.processes.map((p) => p.exited));
    const dirs = new Set(this.processes.map((p) => p.dataDir));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    this.processes.length = 0;
  }
}

/** The state `observer` reports for `name`, or undefined. */
export async function stateOf(observer: TroupeProcess, name: string): Promise<string | undefined> {
  const status = await observer.status();
  return status.members.find((m) => m.name === name)?.state;
}

/** Waits until `observer` reports `count` members up (failing at once if it exits). */
export async function waitSeesUp(observer: TroupeProcess, count: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await observer.status()).members.filter((m) => m.state === 'up').length === count, {
    timeoutMs,
    what: `${observer.nodeName} to see ${count} members up`,
    abortIf: observer.exitedReason,
  });
}

/** Waits until every one of `nodes` reports all of them up. */
export async function waitAllUp(nodes: readonly TroupeProcess[], timeoutMs = 20_000): Promise<void> {
  for (const node of nodes) await waitSeesUp(node, nodes.length, timeoutMs);
}
