/**
 * An in-process transport for tests and for a node that runs without
 * clustering. Nodes bind addresses in a `MemoryHub` instead of ports.
 *
 * It shares everything above the wire with the TCP transport (link-set.ts:
 * queues, batching, redial with backoff, events, counters) and runs the real
 * handshake state machine and frame codec, so it fails where TCP fails:
 * wrong cookie, other cluster, payloads msgpack cannot carry, frames too
 * large. What it leaves out: sockets, TLS, partial reads, and time on the
 * wire — a batch written is decoded and delivered at once, in order. A dial
 * and its handshake run in one step on a later event-loop turn, so two nodes
 * dialing each other in the same turn end with one link (the second dial
 * finds the link up and is closed as a duplicate).
 */

import { AbortError, PortRangeExhaustedError } from '../errors.js';
import { portsOf, type PortRange } from '../node-address.js';
import type { HostScan, ScannedNode } from './port-scan.js';
import { FrameDecoder } from './frame-codec.js';
import { newConnectionFlow } from './flow-control.js';
import { Handshake, PROTOCOL_VERSION, type HandshakeMessage, type HandshakeOutcome, type HandshakeOutput } from './handshake.js';
import type { LinkConnection, PeerLink } from './link-set.js';
import { LinkSetTransport } from './link-set-transport.js';
import { newNonce, nodeHandshakeCrypto } from './node-crypto.js';
import { admitConnection } from './tie-break.js';
import type { PeerIdentity, Transport, TransportOptions } from './transport.js';
import { formatAddress, parseAddress, validateTransportOptions } from './transport.js';

/** Ports handed out for port 0 start here, so they look like and never collide with configured ones. */
const FIRST_EPHEMERAL_PORT = 49_152;

/** The in-process network: which transport listens at which address. */
export class MemoryHub {
  private readonly nodes = new Map<string, MemoryTransport>();
  private nextPort = FIRST_EPHEMERAL_PORT;

  /** @internal Binds `host:port` (a port of 0 picks a free one, a range its first free one); returns the bound port. */
  bind(host: string, wanted: number | PortRange, node: MemoryTransport): number {
    let port = typeof wanted === 'number' ? wanted : portsOf(wanted).find((p) => !this.nodes.has(formatAddress(host, p)));
    if (port === undefined) throw new PortRangeExhaustedError(wanted as PortRange);
    if (port === 0) {
      while (this.nodes.has(formatAddress(host, this.nextPort))) this.nextPort++;
      port = this.nextPort++;
    }
    const address = formatAddress(host, port);
    if (this.nodes.has(address)) throw new Error(`memory address ${address} is already in use`);
    this.nodes.set(address, node);
    return port;
  }

  /** @internal */
  unbind(address: string, node: MemoryTransport): void {
    if (this.nodes.get(address) === node) this.nodes.delete(address);
  }

  /** @internal */
  lookup(address: string): MemoryTransport | undefined {
    return this.nodes.get(address);
  }
}

/** @throws ConfigError for an invalid option (see validateTransportOptions). */
export function createMemoryTransport(hub: MemoryHub, opts: TransportOptions): Transport {
  validateTransportOptions(opts);
  return new MemoryTransport(hub, opts);
}

class MemoryConnection implements LinkConnection<MemoryConnection> {
  peer: PeerIdentity | null = null;
  link: PeerLink<MemoryConnection> | null = null;
  retired = false;
  writeBlocked = false;
  connectedAt = 0;
  readonly flow = newConnectionFlow();
  remote: MemoryConnection | null = null;
  private closing = false;
  private readonly decoder: FrameDecoder;

  constructor(
    readonly owner: MemoryTransport,
    readonly direction: 'in' | 'out',
    readonly dialedAddress: string | null,
    maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  write(chunks: Uint8Array[]): boolean {
    const remote = this.remote;
    if (this.closing || remote === null) return false;
    for (const chunk of chunks) remote.receive(chunk);
    return true;
  }

  cork(): void {}
  uncork(): void {}

  close(reason: string, _mode: 'graceful' | 'now'): void {
    if (this.closing) return;
    this.closing = true;
    const remote = this.remote;
    setImmediate(() => this.owner.connectionClosed(this, reason));
    if (remote !== null && !remote.closing) {
      remote.closing = true;
      setImmediate(() => remote.owner.connectionClosed(remote, 'closed by peer'));
    }
  }

  private receive(chunk: Uint8Array): void {
    if (this.closing) return;
    const failure = this.decoder.push(chunk, (channel, payload, frameBytes) => this.owner.deliver(this, channel, payload, frameBytes));
    if (failure !== null) this.close(failure.reason, 'now');
  }
}

interface HandshakeSide {
  transport: MemoryTransport;
  conn: MemoryConnection;
  handshake: Handshake;
  inbox: HandshakeMessage[];
  outcome?: HandshakeOutcome;
}

export class MemoryTransport extends LinkSetTransport<MemoryConnection> {
  constructor(private readonly hub: MemoryHub, opts: TransportOptions) {
    super(opts);
  }

  override async scan(host: string, range: PortRange): Promise<HostScan> {
    const nodes = portsOf(range).flatMap((port) => {
      const address = formatAddress(host, port);
      const node = this.hub.lookup(address);
      return node === undefined ? [] : [{ ...node.hello(), address }];
    });
    return { host, range, nodes, otherListeners: [], error: null };
  }

  /** @internal What this transport's hello declares, as a scan reads it. */
  hello(): Omit<ScannedNode, 'address'> {
    return { name: this.identity.name, clusterName: this.opts.clusterName, protocolVersion: PROTOCOL_VERSION, advertised: this.identity.address, generation: this.identity.generation };
  }

  protected override listen(signal: AbortSignal | undefined): Promise<{ address: string; port: number }> {
    return Promise.resolve().then(() => {
      if (signal?.aborted || this.stopRequested) throw new AbortError('transport start');
      const advertised = parseAddress(this.opts.advertisedAddress);
      if (advertised === null) throw new Error(`advertised address ${JSON.stringify(this.opts.advertisedAddress)} is not host:port`);
      const port = this.hub.bind(advertised.host, advertised.port === 0 ? this.opts.port : advertised.port, this);
      this.identity.address = formatAddress(advertised.host, port);
      this.linkSet.selfAddress = this.identity.address;
      this.state = 'running';
      this.linkSet.dialAllQueued();
      return { address: this.identity.address, port };
    });
  }

  protected override async shutdown(startSettled: Promise<unknown> | null): Promise<void> {
    if (startSettled !== null) await startSettled;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.linkSet.stopDialing();
    this.linkSet.flushAll(true);
    for (const conn of this.connections) conn.close('stopped', 'graceful');
    // Closing completes on the next turn (see MemoryConnection.close).
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.linkSet.discardAll();
    if (wasRunning) this.hub.unbind(this.identity.address, this);
    this.state = 'stopped';
  }

  /** @internal */
  deliver(conn: MemoryConnection, channel: string, payload: unknown, frameBytes: number): void {
    this.linkSet.deliver(conn, channel, payload, frameBytes);
  }

  /** @internal */
  connectionClosed(conn: MemoryConnection, reason: string): void {
    this.connections.delete(conn);
    this.linkSet.connectionClosed(conn, this.state === 'running' ? reason : 'stopped');
  }

  protected override dial(link: PeerLink<MemoryConnection>): void {
    const conn = this.newConnection('out', link.address);
    conn.link = link;
    link.dialing = conn;
    setImmediate(() => this.connect(conn));
  }

  private newConnection(direction: 'in' | 'out', dialed: string | null): MemoryConnection {
    const conn = new MemoryConnection(this, direction, dialed, this.linkSet.maxFrameBytes);
    this.connections.add(conn);
    return conn;
  }

  private newHandshake(role: 'initiator' | 'acceptor'): Handshake {
    const { clusterName, cookie } = this.opts;
    return new Handshake({ role, clusterName, cookie, self: { ...this.identity }, nonce: newNonce(), crypto: nodeHandshakeCrypto });
  }

  /** Runs both sides of the handshake to completion, in one step. */
  private connect(conn: MemoryConnection): void {
    if (conn.isClosing || this.state !== 'running') return;
    const target = this.hub.lookup(conn.dialedAddress!);
    if (target === undefined || target.state !== 'running') {
      this.linkSet.stats.dialFailures++;
      this.linkSet.emit({ type: 'dial-failed', address: conn.dialedAddress!, message: 'no node listens at this address' });
      conn.close('no node listens at this address', 'now');
      return;
    }
    if (conn.link?.active != null) {
      this.linkSet.stats.duplicatesClosed++;
      conn.close('duplicate', 'now');
      return;
    }
    const remote = target.newConnection('in', null);
    const sides: [HandshakeSide, HandshakeSide] = [
      { transport: this, conn, handshake: this.newHandshake('initiator'), inbox: [] },
      { transport: target, conn: remote, handshake: target.newHandshake('acceptor'), inbox: [] },
    ];
    const handle = (i: 0 | 1, out: HandshakeOutput): void => {
      const side = sides[i];
      sides[i === 0 ? 1 : 0].inbox.push(...out.send);
      if (out.admission !== undefined) {
        side.conn.peer = out.admission;
        // A memory dial is atomic, so the only other connection there could be is an up link; see connect().
        const refusal = admitConnection(side.transport.identity.name, { direction: side.conn.direction, peer: out.admission }, []);
        handle(i, side.handshake.step(refusal === null ? { type: 'admit' } : { type: 'refuse', ...refusal }));
      }
      if (out.outcome !== undefined) side.outcome = out.outcome;
    };
    handle(0, sides[0].handshake.step({ type: 'start' }));
    handle(1, sides[1].handshake.step({ type: 'start' }));
    while (sides[0].inbox.length > 0 || sides[1].inbox.length > 0) {
      for (const i of [0, 1] as const) {
        const msg = sides[i].inbox.shift();
        if (msg !== undefined) handle(i, sides[i].handshake.step({ type: 'message', msg }));
      }
    }
    const [a, b] = sides;
    if (a.outcome?.ok === true && b.outcome?.ok === true) {
      conn.remote = remote;
      remote.remote = conn;
      const now = Date.now();
      conn.connectedAt = now;
      remote.connectedAt = now;
      conn.peer = a.outcome.peer;
      remote.peer = b.outcome.peer;
      this.linkSet.established(conn, a.outcome.peer);
      target.linkSet.established(remote, b.outcome.peer);
      return;
    }
    for (const side of sides) {
      const outcome = side.outcome;
      if (outcome !== undefined && !outcome.ok) {
        const remoteAddress = side === a ? conn.dialedAddress! : this.identity.address;
        side.transport.linkSet.handshakeFailed(remoteAddress, side.conn.direction, outcome, true);
      }
      side.conn.close('handshake failed', 'now');
    }
  }
}
