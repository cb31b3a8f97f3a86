/**
 * A throw-away install of troupe for running `scripts/cluster.sh` exactly as
 * a user types it: the script and the default config file copied into a
 * temporary root, `dist/`, `node_modules/` and `package.json` linked from the
 * repository. cluster.sh keeps its pid files, HTTP ports and logs under
 * `<root>/run/` and the nodes their data under `<root>/data/`, so nothing of
 * a test lands in the repository. `cleanup()` kills every node the script
 * started, by the PID in its pid file, then removes the root.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './troupe-process.js';
import { waitFor } from './wait-for.js';

export interface ShellRun {
  code: number;
  stdout: string;
  stderr: string;
}

export class ScriptSandbox {
  readonly root = mkdtempSync(join(tmpdir(), 'troupe-script-'));

  constructor() {
    mkdirSync(join(this.root, 'scripts'));
    mkdirSync(join(this.root, 'config'));
    cpSync(join(REPO_ROOT, 'scripts/cluster.sh'), join(this.root, 'scripts/cluster.sh'));
    cpSync(join(REPO_ROOT, 'config/clustering.json'), join(this.root, 'config/clustering.json'));
    for (const entry of ['dist', 'node_modules', 'package.json']) symlinkSync(join(REPO_ROOT, entry), join(this.root, entry));
  }

  /** Runs one shell command line in the sandbox root, with only PATH and HOME from this process (a fresh terminal). */
  sh(commandLine: string, timeoutMs = 60_000): Promise<ShellRun> {
    return new Promise((resolve) => {
      execFile('bash', ['-c', commandLine], { cwd: this.root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? this.root }, timeout: timeoutMs }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** `sh`, failing with the command's output unless it exits 0. */
  async ok(commandLine: string): Promise<ShellRun> {
    const run = await this.sh(commandLine);
    if (run.code !== 0) throw new Error(`\`${commandLine}\` exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}\n${this.logs()}`);
    return run;
  }

  /** PIDs of the nodes cluster.sh started, by node name. */
  pids(): Map<string, number> {
    const pids = new Map<string, number>();
    const run = join(this.root, 'run');
    if (!existsSync(run)) return pids;
    for (const name of readdirSync(run)) {
      const file = join(run, name, 'pid');
      if (existsSync(file)) pids.set(name, Number(readFileSync(file, 'utf8').trim()));
    }
    return pids;
  }

  /** The tail of every node's log, for failure messages. */
  logs(): string {
    const run = join(this.root, 'run');
    if (!existsSync(run)) return '';
    return readdirSync(run)
      .map((name) => {
        const file = join(run, name, 'node.log');
        return existsSync(file) ? `--- ${name}\n${readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')}` : '';
      })
      .join('\n');
  }

  /** SIGKILL by PID for every node the script started, waits until they are gone, then removes the root. */
  async cleanup(): Promise<void> {
    const pids = [...this.pids().values()].filter((pid) => Number.isInteger(pid) && pid > 0);
    for (const pid of pids) signal(pid, 'SIGKILL');
    await waitFor(() => pids.every((pid) => !alive(pid)), { timeoutMs: 10_000, what: 'the sandbox nodes to exit' });
    rmSync(this.root, { recursive: true, force: true });
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
