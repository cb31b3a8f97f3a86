/**
 * Finding nodes by name on a host: what epmd answers for Erlang, without a
 * daemon. A node listens on the first free port of the cluster port range
 * (CLUSTER_PORT_RANGE); to find `name@host`, connect to every port of the
 * range on that host at once and read the first frame each listener sends.
 *
 * Why this is safe and cheap:
 * - An acceptor sends its hello (protocol version, cluster name, node name,
 *   advertised address, generation and a fresh nonce) as soon as a
 *   connection opens, before any proof; the scan reads that and closes
 *   without sending a byte. No cookie material crosses the wire either way,
 *   and nothing is admitted: the real dial that follows runs the whole
 *   handshake. Under mutual TLS the scan presents the node's certificate.
 * - A node sees such a connection as a port probe (closed before a byte
 *   arrived): counted, logged at debug.
 * - Refused ports answer at once; on loopback the whole range takes a few
 *   milliseconds. A port that accepts but stays silent (another service)
 *   costs at most `helloTimeoutMs`, in parallel with the rest.
 *
 * A name found this way is a claim until the handshake proves it; the scan
 * only says which port to dial.
 */
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { formatAddress, portsOf, type NodeLocator, type PortRange } from '../node-address.js';
import { FrameDecoder } from './frame-codec.js';
import { HANDSHAKE_CHANNEL, HANDSHAKE_MAX_FRAME_BYTES } from './handshake.js';

/** Time for a TCP (and TLS) connect to one port of the range, ms. @default 1000 */
export const SCAN_CONNECT_TIMEOUT_MS = 1_000;
/** Time for the first frame after the connect, ms: a node sends its hello at once. @default 1000 */
export const SCAN_HELLO_TIMEOUT_MS = 1_000;

/** A listener that answered with a troupe hello. */
export interface ScannedNode {
  /** `name@host` as the node declares it. */
  name: string;
  clusterName: string;
  protocolVersion: number;
  /** The address scanned: this host and the port that answered. */
  address: string;
  /** The address the node advertises (what its peers know it by). */
  advertised: string;
  generation: number;
}

export interface HostScan {
  host: string;
  range: PortRange;
  nodes: ScannedNode[];
  /** Ports that accepted a connection but sent no troupe hello (another service, or a node too busy to answer). */
  otherListeners: number[];
  /** Why the host could not be scanned at all (e.g. the name does not resolve), else null. */
  error: string | null;
}

export interface ScanOptions {
  range: PortRange;
  /** Mutual TLS material, when the cluster uses it. */
  tls?: tls.SecureContextOptions | undefined;
  connectTimeoutMs?: number;
  helloTimeoutMs?: number;
  signal?: AbortSignal | undefined;
}

type PortOutcome = { kind: 'node'; node: ScannedNode } | { kind: 'other' } | { kind: 'closed' } | { kind: 'error'; message: string };

/** Scans every port of `options.range` on `host` in parallel. Never rejects. */
export async function scanHost(host: string, options: ScanOptions): Promise<HostScan> {
  const scan: HostScan = { host, range: options.range, nodes: [], otherListeners: [], error: null };
  // One lookup for the whole range: 56 parallel lookups of a name would ask the resolver 56 times.
  let ip = host;
  if (isIP(host) === 0) {
    try {
      // IPv4 first: nodes listen on 0.0.0.0 unless CLUSTER_BIND says otherwise.
      const all = await lookup(host, { all: true });
      ip = (all.find((a) => a.family === 4) ?? all[0]!).address;
    } catch (err) {
      scan.error = `${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      return scan;
    }
  }
  const ports = portsOf(options.range);
  // One abort listener for the whole scan: a signal warns past 10 listeners, and a range has 56 ports.
  const aborters = new Set<() => void>();
  const abortAll = (): void => aborters.forEach((abort) => abort());
  options.signal?.addEventListener('abort', abortAll, { once: true });
  const outcomes = await Promise.all(ports.map((port) => scanPort(ip, port, formatAddress(host, port), options, aborters)));
  options.signal?.removeEventListener('abort', abortAll);
  outcomes.forEach((outcome, i) => {
    if (outcome.kind === 'node') scan.nodes.push(outcome.node);
    else if (outcome.kind === 'other') scan.otherListeners.push(ports[i]!);
  });
  return scan;
}

/** Reads the hello a troupe listener sends first; anything else is 'other'. */
export function helloFromFrame(channel: string, payload: unknown, address: string): ScannedNode | null {
  if (channel !== HANDSHAKE_CHANNEL || typeof payload !== 'object' || payload === null) return null;
  const hello = payload as Record<string, unknown>;
  if (hello['t'] !== 'hello' || typeof hello['name'] !== 'string' || typeof hello['cluster'] !== 'string') return null;
  return {
    name: hello['name'],
    clusterName: hello['cluster'],
    protocolVersion: typeof hello['v'] === 'number' ? hello['v'] : -1,
    address,
    advertised: typeof hello['address'] === 'string' ? hello['address'] : address,
    generation: typeof hello['generation'] === 'number' ? hello['generation'] : 0,
  };
}

/** Connects to `ip:port`; `address` is the same port spelled with the host as the caller gave it. */
function scanPort(ip: string, port: number, address: string, options: ScanOptions, aborters: Set<() => void>): Promise<PortOutcome> {
  const host = ip;
  return new Promise<PortOutcome>((resolve) => {
    if (options.signal?.aborted) return resolve({ kind: 'error', message: 'aborted' });
    const socket = options.tls === undefined
      ? net.connect({ host, port })
      : tls.connect({ host, port, ...options.tls, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    let settled = false;
    const finish = (outcome: PortOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      aborters.delete(onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ kind: 'error', message: 'aborted' });
    aborters.add(onAbort);
    let timer = setTimeout(() => finish({ kind: 'closed' }), options.connectTimeoutMs ?? SCAN_CONNECT_TIMEOUT_MS);
    socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish({ kind: 'other' }), options.helloTimeoutMs ?? SCAN_HELLO_TIMEOUT_MS);
    });
    socket.on('data', (chunk: Buffer) => {
      let first: { node: ScannedNode | null } | null = null;
      const failure = decoder.push(chunk, (channel, payload) => {
        first = { node: helloFromFrame(channel, payload, address) };
        decoder.halt();
      });
      const decoded = first as { node: ScannedNode | null } | null;
      if (decoded?.node) finish({ kind: 'node', node: decoded.node });
      else if (decoded !== null || failure !== null) finish({ kind: 'other' });
    });
    socket.on('error', (err: Error) => finish({ kind: 'error', message: err.message }));
    socket.on('close', () => finish({ kind: 'closed' }));
  });
}

/** Why a scan found no node for the locator, naming what it did find. */
export function describeMiss(locator: NodeLocator, scan: HostScan): string {
  const where = `${scan.host} ports ${scan.range.first}-${scan.range.last}`;
  const seen = scan.nodes.map((n) => n.name);
  const what = locator.name === undefined ? 'no troupe node' : `no node named ${locator.name}`;
  return seen.length === 0 ? `${what} listens on ${where}` : `${what} on ${where} (found: ${seen.join(', ')})`;
}
