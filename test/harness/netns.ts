/**
 * Real hosts on one machine, for tests that need a network and not just
 * loopback: network namespaces joined by a bridge.
 *
 *   tmc<pid>-h1  eth0 10.77.0.11/24 ─┐
 *   tmc<pid>-h2  eth0 10.77.0.12/24 ─┼─ br0 in tmc<pid>-br (a switch, no address)
 *   tmc<pid>-h3  eth0 10.77.0.13/24 ─┘
 *
 * Everything lives inside namespaces this harness creates: the bridge has a
 * namespace of its own, so the test machine's own interfaces, routes and
 * multicast groups are never touched, and no packet of a test reaches a real
 * network (nor does the machine's traffic reach the test). The addresses
 * exist only inside the namespaces. Each host gets `lo` up, its veth up, and
 * optionally a route for 224.0.0.0/4 (a namespace has no default route,
 * and without one multicast has nowhere to go).
 *
 * Host names: with `hosts: { name: i, ... }` every host gets a hosts file,
 * `/etc/netns/<ns>/hosts`, mapping each name to host i's address (and
 * localhost to loopback). `ip netns exec` bind-mounts the files of
 * `/etc/netns/<ns>/` over `/etc/`, so the names resolve inside the
 * namespaces only, as service names do between the containers of a compose
 * project; the machine's own /etc/hosts is not touched.
 *
 * The test process stays in the root namespace; it reaches a host's ports by
 * running a short command inside that host's namespace (`httpInNetns`).
 * A partition between hosts (`partition`, `healPartitions`) loses their
 * packets by pointing their neighbour entries for each other at a hardware
 * address nobody has.
 *
 * Processes are started with `ip netns exec`, which execs in place, so the
 * child's PID is the process itself: it is killed by that PID. `destroy()`
 * kills what it started, then deletes the namespaces (which removes the veths
 * and the bridge with them) and their `/etc/netns/<ns>` directories; it is
 * synchronous and idempotent, and also runs at process exit, so a failing test
 * leaves nothing behind. Namespaces (and their /etc/netns directories) left by
 * an earlier run whose process is gone are removed on the next creation.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, testNodeEnv } from './troupe-process.js';
import { waitFor } from './wait-for.js';

const PREFIX = 'tmc';
/** The private test subnet; it exists only inside the namespaces. */
export const NETNS_SUBNET = '10.77.0';
/** Host i gets NETNS_SUBNET.(HOST_BASE + i). */
const HOST_BASE = 10;
/** A locally administered unicast hardware address that no interface of the network has: frames sent to it are lost. */
const DEAD_MAC = '02:00:00:00:de:ad';
/** Where `ip netns exec NS` finds files to bind-mount over /etc (iproute2's NETNS_ETC_DIR). */
const NETNS_ETC_DIR = '/etc/netns';

export interface NetnsHost {
  /** Namespace name. */
  ns: string;
  /** Its address on the bridge. */
  address: string;
  /** Its interface on the bridge. */
  iface: string;
}

/** Whether this machine can run namespace tests, and if not, why. */
export function netnsSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `platform ${process.platform} has no network namespaces` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root' };
  const version = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return { ok: false, reason: '`ip` (iproute2) is not available' };
  const probe = `${PREFIX}${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
  const bridge = spawnSync('ip', ['-n', probe, 'link', 'add', 'br0', 'type', 'bridge'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', probe]);
  if (bridge.status !== 0) return { ok: false, reason: `cannot create a bridge: ${bridge.stderr.trim()}` };
  return { ok: true };
}

export interface NetnsNetworkOptions {
  /** Add a route for 224.0.0.0/4 on each host. @default true */
  multicastRoute?: boolean;
  /** Host names every host resolves: name → host number (1-based), written to each host's /etc/hosts. @default none */
  hosts?: Record<string, number>;
}

export class NetnsNetwork {
  readonly hosts: NetnsHost[] = [];
  private readonly namespaces: string[] = [];
  /** /etc/netns/<ns> directories written here, removed by destroy(). */
  private readonly etcDirs: string[] = [];
  /** Whether /etc/netns itself was made here (removed by destroy() if nothing else is in it by then). */
  private createdEtcDir = false;
  private readonly children = new Set<ChildProcess>();
  /** The neighbour entries `partition` made, undone by `healPartitions`. */
  private readonly blackouts: Array<{ host: NetnsHost; address: string }> = [];
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  /** Creates `hostCount` hosts on one bridge. Throws (after tearing down what it made) if a step fails. */
  constructor(hostCount: number, options: NetnsNetworkOptions = {}) {
    removeOrphans();
    process.on('exit', this.onExit);
    const tag = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    try {
      const bridgeNs = this.addNamespace(`${tag}-br`);
      ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
      ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
      for (let i = 1; i <= hostCount; i++) {
        const ns = this.addNamespace(`${tag}-h${i}`);
        const address = `${NETNS_SUBNET}.${HOST_BASE + i}`;
        ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', bridgeNs);
        ip('-n', bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0');
        ip('-n', bridgeNs, 'link', 'set', `p${i}`, 'up');
        ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        if (options.multicastRoute !== false) ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
        this.hosts.push({ ns, address, iface: 'eth0' });
      }
      if (options.hosts !== undefined) this.writeHostsFiles(options.hosts);
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Starts `command args` inside host's namespace. The child is killed by `destroy()` if still running. */
  spawn(host: NetnsHost, command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; stdin?: 'ignore' | 'pipe' } = {}): ChildProcess {
    if (this.destroyed) throw new Error('the namespace network is destroyed');
    const child = spawn('ip', ['netns', 'exec', host.ns, command, ...args], { env: options.env, cwd: options.cwd, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * A network partition: every IP packet between a host of `side` and a host
   * of `others` is lost, silently, in both directions; everything else
   * flows, so a third host (a client) still reaches both sides. Each host
   * gets a permanent neighbour entry giving the other side's address a
   * hardware address no interface has (`DEAD_MAC`): its frames are still
   * sent, but no host takes them, as when a switch drops them. Processes see
   * no error, only silence: connects and connections stall, then time out.
   * (The kernels this runs on may lack the packet filters and traffic
   * control classifiers that would do it otherwise.)
   */
  partition(side: readonly NetnsHost[], others: readonly NetnsHost[]): void {
    const drop = (from: NetnsHost, to: NetnsHost): void => {
      ip('-n', from.ns, 'neigh', 'replace', to.address, 'lladdr', DEAD_MAC, 'nud', 'permanent', 'dev', from.iface);
      this.blackouts.push({ host: from, address: to.address });
    };
    for (const a of side) {
      for (const b of others) {
        drop(a, b);
        drop(b, a);
      }
    }
  }

  /** Removes every partition made by `partition`: the hosts resolve each other's hardware addresses again. */
  healPartitions(): void {
    for (const { host, address } of this.blackouts.splice(0)) ip('-n', host.ns, 'neigh', 'del', address, 'dev', host.iface);
  }

  /** Kills every process started here (by PID), deletes the namespaces. Synchronous, idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    for (const dir of this.etcDirs) rmSync(dir, { recursive: true, force: true });
    if (this.createdEtcDir) {
      try {
        rmdirSync(NETNS_ETC_DIR); // only if empty: another run's hosts files stay
      } catch {
        // not empty, or already gone
      }
    }
  }

  /** One hosts file per host namespace: every name at its host's bridge address, localhost on loopback. */
  private writeHostsFiles(names: Record<string, number>): void {
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
    for (const [name, index] of Object.entries(names)) {
      const host = this.hosts[index - 1];
      if (host === undefined) throw new Error(`hosts: ${name} names host ${index}, but there are ${this.hosts.length}`);
      lines.push(`${host.address}\t${name}`);
    }
    const text = lines.join('\n') + '\n';
    this.createdEtcDir = mkdirSync(NETNS_ETC_DIR, { recursive: true }) !== undefined;
    for (const host of this.hosts) {
      const dir = join(NETNS_ETC_DIR, host.ns);
      mkdirSync(dir, { recursive: true });
      this.etcDirs.push(dir);
      writeFileSync(join(dir, 'hosts'), text);
    }
  }

  private addNamespace(name: string): string {
    ip('netns', 'add', name);
    this.namespaces.push(name);
    return name;
  }
}

/** An HTTP request made from inside `ns` (the test process is outside every namespace). */
export async function httpInNetns(ns: string, method: string, url: string, body?: string, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  const script = `
    const [method, url, body, timeoutMs] = process.argv.slice(1);
    fetch(url, { method, body: body || undefined, headers: body ? { 'content-type': 'application/json' } : {}, signal: AbortSignal.timeout(Number(timeoutMs)) })
      .then(async (res) => process.stdout.write(JSON.stringify({ status: res.status, text: await res.text() })))
      .catch((err) => { process.stderr.write(String(err && err.message)); process.exitCode = 1; });`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, method, url, body ?? '', String(timeoutMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { status: number; text: string }) : reject(new Error(`${method} ${url} in ${ns}: ${err.trim() || `exit ${code}`}`))));
  });
}

export interface NetnsTroupeOptions {
  name: string;
  /** NODE_NAME. @default `<name>@<host address>` */
  nodeName?: string;
  /** CLUSTER_PORT; undefined leaves it unset (the node takes the first free port of CLUSTER_PORT_RANGE). */
  clusterPort?: number | undefined;
  /**
   * 'test': testNodeEnv (fast timers, binds on the host address, PORT=0, a test cookie), then `env`.
   * 'none': only PATH, NODE_NAME and DATA_DIR, then `env`, as a deployment's own environment starts a node.
   * @default 'test'
   */
  baseEnv?: 'test' | 'none';
  env?: Record<string, string>;
  /** Reuse a data dir (a restart). */
  dataDir?: string;
}

/** A `troupe start` process on one namespace host, named `<name>@<host address>` unless named otherwise. */
export class NetnsTroupeProcess {
  readonly child: ChildProcess;
  readonly nodeName: string;
  readonly dataDir: string;
  stderr = '';
  exitCode: number | null | undefined = undefined;
  httpPort = 0;
  readonly exited: Promise<void>;

  constructor(
    network: NetnsNetwork,
    readonly host: NetnsHost,
    readonly options: NetnsTroupeOptions,
  ) {
    this.nodeName = options.nodeName ?? `${options.name}@${host.address}`;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `troupe-${options.name}-`));
    this.child = network.spawn(host, process.execPath, [CLI, 'start'], {
      cwd: this.dataDir,
      env: {
        ...(options.baseEnv === 'none'
          ? { PATH: process.env.PATH ?? '', NODE_NAME: this.nodeName, DATA_DIR: this.dataDir }
          : testNodeEnv({ nodeName: this.nodeName, bindHost: host.address, clusterPort: options.clusterPort, dataDir: this.dataDir })),
        ...options.env,
      },
    });
    this.child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-50_000)));
    this.child.stdout!.resume();
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => ((this.exitCode = code), resolve())));
  }

  get url(): string {
    return `http://${this.host.address}:${this.httpPort}`;
  }

  exitedReason = (): string | undefined => (this.exitCode === undefined ? undefined : `${this.nodeName} exited with ${this.exitCode}; stderr tail:\n${this.stderr.slice(-3000)}`);

  async ready(timeoutMs = 15_000): Promise<this> {
    this.httpPort = await waitFor(
      () => {
        const ports = JSON.parse(readFileSync(join(this.dataDir, 'ports.json'), 'utf8')) as { http: number; pid: number };
        return ports.pid === this.child.pid ? ports.http : undefined;
      },
      { timeoutMs, what: `${this.nodeName} to write its ports file`, abortIf: this.exitedReason },
    );
    return this;
  }

  async get(path: string): Promise<unknown> {
    const res = await httpInNetns(this.host.ns, 'GET', `${this.url}${path}`);
    if (res.status !== 200) throw new Error(`GET ${path} on ${this.nodeName}: ${res.status} ${res.text.slice(0, 200)}`);
    return JSON.parse(res.text);
  }

  /** SIGKILL by PID: no goodbye, no leave. */
  async kill(): Promise<void> {
    if (this.exitCode === undefined && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
  }

  /** SIGTERM by PID: graceful leave and mDNS goodbye; SIGKILL after `timeoutMs`. */
  async terminate(timeoutMs = 10_000): Promise<void> {
    if (this.exitCode !== undefined || this.child.pid === undefined) return;
    const pid = this.child.pid;
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => this.exitCode === undefined && process.kill(pid, 'SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  removeDataDir(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Deletes namespaces (and /etc/netns directories) of earlier runs of this harness whose process no longer exists. */
function removeOrphans(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (isOrphan(name)) spawnSync('ip', ['netns', 'del', name]);
  }
  let etc: string[] = [];
  try {
    etc = readdirSync(NETNS_ETC_DIR);
  } catch {
    // no /etc/netns: nothing left behind
  }
  for (const name of etc) if (isOrphan(name)) rmSync(join(NETNS_ETC_DIR, name), { recursive: true, force: true });
}

/** Whether `name` is this harness's and its process is gone. */
function isOrphan(name: string): boolean {
  const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
  if (!match) return false;
  const pid = Number(match[1]);
  return pid !== process.pid && !isAlive(pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
