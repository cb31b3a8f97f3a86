/**
 * A real DNS server for tests: dnsmasq on 127.0.0.1 and a free port (UDP and
 * TCP), serving the zone `test.local` from files in a temporary directory.
 *
 *   SRV records  `srv-host=` lines of a generated config file; dnsmasq reads
 *                them only at start, so `restart()` is the way to change them
 *                (same port: clients ride through the outage).
 *   A records    an `--addn-hosts` file; `reloadHosts()` rewrites it and sends
 *                SIGHUP, which re-reads it without a restart.
 *
 * `local=/test.local/` makes dnsmasq answer NXDOMAIN for unknown names of the
 * zone instead of REFUSED, as an authoritative server would. Nothing is read
 * from /etc (no resolv.conf, no hosts, no system config file).
 *
 * A missing dnsmasq fails the test with the command to install it: CI
 * installs it, and a silent skip would hide the DNS tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { reservePort } from './ports.js';
import { waitFor } from './wait-for.js';

export const TEST_ZONE = 'test.local';
export const TEST_SRV_NAME = `_troupe._tcp.${TEST_ZONE}`;

export interface SrvEntry {
  /** Owner name, e.g. `_troupe._tcp.test.local`. */
  name: string;
  /** Target host, e.g. `n1.test.local`. */
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface HostEntry {
  name: string;
  address: string;
}

export interface DnsmasqOptions {
  srv?: SrvEntry[];
  hosts?: HostEntry[];
  /** Log every query to the captured stderr (for debugging a test). */
  logQueries?: boolean;
}

const SEARCH_PATH = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin', '/bin'];

/** The dnsmasq binary, or an error that says how to install it. */
export function findDnsmasq(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_PATH]) {
    const candidate = join(dir, 'dnsmasq');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('dnsmasq is not installed, and the DNS discovery tests need a real DNS server: run `apt-get update && apt-get install -y dnsmasq` (CI does this in .ci/run)');
}

export class Dnsmasq {
  readonly dir: string;
  port = 0;
  srv: SrvEntry[];
  hosts: HostEntry[];
  stderr = '';
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private exitCode: number | null | undefined = undefined;

  private constructor(
    private readonly binary: string,
    private readonly options: DnsmasqOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'troupe-dnsmasq-'));
    this.srv = [...(options.srv ?? [])];
    this.hosts = [...(options.hosts ?? [])];
  }

  static async start(options: DnsmasqOptions = {}): Promise<Dnsmasq> {
    const server = new Dnsmasq(findDnsmasq(), options);
    try {
      await server.launchOnFreePort();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** `127.0.0.1:<port>`, the form of CLUSTER_DNS_SERVER. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Rewrites the hosts file and makes dnsmasq re-read it (SIGHUP), then waits until it serves `probe` (if given). */
  async reloadHosts(probe?: { name: string; type: 'A' | 'AAAA' }): Promise<void> {
    this.writeHosts();
    if (this.child?.pid !== undefined && this.exitCode === undefined) process.kill(this.child.pid, 'SIGHUP');
    if (probe) await waitFor(async () => ((await this.query(probe.name, probe.type)).answers ?? []).length > 0, { timeoutMs: 5000, what: `dnsmasq to serve ${probe.type} ${probe.name} after SIGHUP` });
  }

  /** Stops dnsmasq and starts it again on the same port with the current records (SRV changes need this). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch(this.port);
  }

  /** Kills dnsmasq by PID (the port stays reserved in `port` for `restart`). */
  async kill(): Promise<void> {
    if (this.child?.pid !== undefined && this.exitCode === undefined) process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
    this.child = null;
  }

  /** Kills dnsmasq and removes its files. Idempotent. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One UDP query to this server, for readiness checks and test assertions. */
  async query(name: string, type: 'SRV' | 'A' | 'AAAA', timeoutMs = 1000): Promise<dnsPacket.DecodedPacket & { rcode?: string }> {
    const socket = createSocket('udp4');
    try {
      return await new Promise((resolve, reject) => {
        const id = Math.floor(Math.random() * 65536);
        const timer = setTimeout(() => reject(new Error(`no answer from dnsmasq on ${this.address} within ${timeoutMs} ms`)), timeoutMs);
        socket.on('error', (err) => (clearTimeout(timer), reject(err)));
        socket.on('message', (bytes) => {
          const decoded = dnsPacket.decode(bytes);
          if (decoded.id !== id) return;
          clearTimeout(timer);
          resolve(decoded as dnsPacket.DecodedPacket & { rcode?: string });
        });
        socket.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), this.port, '127.0.0.1');
      });
    } finally {
      socket.close();
    }
  }

  private async launchOnFreePort(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.launch(await reservePort({ udp: true }));
        return;
      } catch (err) {
        lastError = err; // most likely the UDP port was taken: try another
      }
    }
    throw lastError;
  }

  private async launch(port: number): Promise<void> {
    this.port = port;
    this.writeHosts();
    const conf = join(this.dir, 'dnsmasq.conf');
    writeFileSync(conf, this.configText());
    const args = ['--keep-in-foreground', `--conf-file=${conf}`, '--log-facility=-'];
    // Run as root when root: dnsmasq would otherwise switch to `nobody`, who cannot read our 0700 temp dir on SIGHUP.
    if (process.getuid?.() === 0) args.push('--user=root');
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exitCode = undefined;
    child.stderr!.on('data', (chunk) => (this.stderr = (this.stderr + chunk).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => ((this.exitCode = code), resolve())));
    const probeName = this.srv[0]?.name ?? TEST_SRV_NAME;
    await waitFor(
      async () => {
        const answer = await this.query(probeName, 'SRV', 200);
        return answer.type === 'response';
      },
      { timeoutMs: 5000, intervalMs: 20, what: `dnsmasq to answer on ${this.address}`, abortIf: () => (this.exitCode === undefined ? undefined : `dnsmasq exited with ${this.exitCode}: ${this.stderr.slice(-1000)}`) },
    );
  }

  private configText(): string {
    const lines = [
      `port=${this.port}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-negcache',
      `local=/${TEST_ZONE}/`,
      `addn-hosts=${join(this.dir, 'hosts')}`,
      `pid-file=${join(this.dir, 'dnsmasq.pid')}`,
      ...(this.options.logQueries ? ['log-queries'] : []),
      ...this.srv.map((s) => `srv-host=${s.name},${s.target},${s.port},${s.priority ?? 0},${s.weight ?? 0}`),
    ];
    return `${lines.join('\n')}\n`;
  }

  private writeHosts(): void {
    writeFileSync(join(this.dir, 'hosts'), this.hosts.map((h) => `${h.address} ${h.name}`).join('\n') + '\n');
  }
}
