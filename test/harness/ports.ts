/**
 * Ports for test nodes, reserved across every test process running at once.
 *
 * A port is taken below the kernel's ephemeral range, so no client socket (a DNS query, a dial, a
 * port scan's connect) can be handed it between the reservation and the node's listen; and it is
 * reserved by a lock file naming this process, so two test files running side by side never pick
 * the same one while neither has bound it yet. Locks of processes that are gone are taken over;
 * this process's locks are removed when it exits.
 */
import { createSocket } from 'node:dgram';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(tmpdir(), 'troupe-test-ports');
const ATTEMPTS = 500;
const held = new Set<string>();
let cleanupInstalled = false;

/** One TCP port free on 127.0.0.1 (and for UDP too with `udp: true`), reserved for this process. */
export async function reservePort(options: { udp?: boolean } = {}): Promise<number> {
  const [port] = await reservePorts(1, options);
  return port!;
}

/** `count` distinct ports, each free on 127.0.0.1 and reserved for this process. */
export async function reservePorts(count: number, options: { udp?: boolean } = {}): Promise<number[]> {
  const { low, high } = reservableRange();
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < ATTEMPTS; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (ports.includes(port) || !lock(port)) continue;
    if (await isFree(port, options.udp ?? false)) ports.push(port);
    else release(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports found in ${low}–${high} (below the ephemeral range) after ${ATTEMPTS} attempts`);
  return ports;
}

function reservableRange(): { low: number; high: number } {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? 32768);
  return { low: Math.min(20_000, ephemeralLow - 2_000), high: ephemeralLow };
}

function lock(port: number): boolean {
  mkdirSync(LOCK_DIR, { recursive: true });
  const path = join(LOCK_DIR, String(port));
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(path);
      installCleanup();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || ownerAlive(path)) return false;
      try { unlinkSync(path); } catch { /* another process took it over first */ }
    }
  }
  return false;
}

function release(port: number): void {
  const path = join(LOCK_DIR, String(port));
  held.delete(path);
  try { unlinkSync(path); } catch { /* already gone */ }
}

function ownerAlive(path: string): boolean {
  let pid: number;
  try { pid = Number(readFileSync(path, 'utf8')); } catch { return true; } // being written: treat as held
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (error) { return (error as NodeJS.ErrnoException).code === 'EPERM'; }
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => { for (const path of held) try { unlinkSync(path); } catch { /* gone */ } });
}

function isFree(port: number, udp: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const tcp = createServer();
    tcp.once('error', () => resolve(false));
    tcp.listen(port, '127.0.0.1', () => {
      if (!udp) return tcp.close(() => resolve(true));
      const socket = createSocket('udp4');
      socket.once('error', () => tcp.close(() => resolve(false)));
      socket.bind(port, '127.0.0.1', () => socket.close(() => tcp.close(() => resolve(true))));
    });
  });
}
