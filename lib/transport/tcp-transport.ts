/**
 * The TCP (optionally mutual-TLS) transport: the shell around the pure frame
 * codec, handshake and backoff.
 *
 * Links. A `PeerLink` per peer address owns the bounded outbound queue and at
 * most one active connection. Sending to an address without a link creates
 * one and dials. The handshake tells the peer's advertised address; a dialed
 * address that differs becomes an alias, and its queue moves to the link of
 * the advertised address.
 *
 * One link per pair. Of two nodes, the one whose name sorts lower decides
 * which connection survives, before either side could use a refused one
 * (tie-break.ts): when both dial at once, the connection it dialed. A refused
 * connection was never up, so nothing was written to it but the handshake;
 * the frames wait in the link's queue and leave on the surviving connection.
 * When a connection comes up on a link that already has one (the peer
 * restarted, or redialled a link that is stale on this side), the newer
 * replaces the older, which is closed gracefully: its in-flight frames are
 * still delivered, possibly out of order with the first frames of the new
 * one. Duplicates are counted in `duplicatesClosed`, not as failures.
 *
 * Writing. `send` encodes and queues; one setImmediate per event-loop turn
 * writes every dirty link's queue in batches (frame-queue.ts), corked, until
 * socket.write() returns false; 'drain' resumes. So the queue bound is the
 * backpressure: a peer that cannot keep up fills it and `send` drops.
 *
 * Hostile peers. Whoever reaches the cluster port is refused at accept when
 * its address opens connections faster than a token bucket allows
 * (source-rate-limiter.ts) or too many handshakes are in progress; both are
 * counted as handshake failures (`rate-limited`, `overloaded`). Handshake
 * failures, frame errors and refusals are logged through a limiter, once per
 * direction, reason and host per PEER_LOG_INTERVAL_MS (log-limiter.ts), so
 * no peer can make the node write a line per connection. With TLS the
 * limit applies after the TLS handshake.
 *
 * Redial. A link with queued frames and no connection is redialled after
 * nextBackoffMs(attempt) (full jitter, attempt reset when a link comes up).
 * After `giveUpAfterMs` without a link, its queue is discarded and dialing
 * stops until the next send; a link with no connection, no queue and no
 * timer is forgotten, so abandoned addresses cost no memory.
 */

import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { AbortError, PortRangeExhaustedError } from '../errors.js';
import { portsOf, type PortRange } from '../node-address.js';
import { scanHost, type HostScan } from './port-scan.js';
import { Connection, type Refusal } from './connection.js';
import { admitConnection, type OtherConnection } from './tie-break.js';
import { Handshake } from './handshake.js';
import type { PeerLink } from './link-set.js';
import { LinkSetTransport } from './link-set-transport.js';
import { newNonce, nodeHandshakeCrypto } from './node-crypto.js';
import { DEFAULT_ACCEPT_BURST, DEFAULT_ACCEPT_MAX_SOURCES, DEFAULT_ACCEPT_REFILL_PER_SECOND, SourceRateLimiter } from './source-rate-limiter.js';
import { isTlsError, tlsFailureReason } from './tls-errors.js';
import type { Transport, TransportOptions, PeerIdentity } from './transport.js';
import { formatAddress, parseAddress, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_PENDING_HANDSHAKES, validateTransportOptions } from './transport.js';

/** stop() waits at most this long, in ms, for queued frames to be written and links to close. */
export const STOP_FLUSH_TIMEOUT_MS = 2_000;

type Conn = Connection<PeerLink<Conn>>;

/** Listens on `port`, or on the first port of a range that is free (EADDRINUSE moves on to the next). */
async function listenOnFirstFree(server: net.Server, port: number | PortRange, host: string, signal: AbortSignal | undefined): Promise<void> {
  if (typeof port === 'number') return listenOnce(server, port, host, signal);
  for (const candidate of portsOf(port)) {
    try {
      return await listenOnce(server, candidate, host, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new PortRangeExhaustedError(port);
}

function listenOnce(server: net.Server, port: number, host: string, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      server.close();
      reject(new AbortError('transport start'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    server.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    server.listen(port, host, () => {
      signal?.removeEventListener('abort', onAbort);
      server.removeAllListeners('error');
      resolve();
    });
  });
}

/** @throws ConfigError for an invalid option (see validateTransportOptions). */
export function createTcpTransport(opts: TransportOptions): Transport {
  validateTransportOptions(opts);
  return new TcpTransport(opts);
}

class TcpTransport extends LinkSetTransport<Conn> {
  private server: net.Server | null = null;
  private tlsOptions: tls.SecureContextOptions | null = null;
  private tlsLoading: Promise<tls.SecureContextOptions | null> | null = null;
  private pendingInbound = 0;
  private readonly handshakeTimeoutMs: number;
  private readonly maxPendingHandshakes: number;
  private readonly acceptLimiter: SourceRateLimiter;

  constructor(opts: TransportOptions) {
    super(opts);
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.maxPendingHandshakes = opts.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    const rate = opts.acceptRateLimit ?? { burst: DEFAULT_ACCEPT_BURST, refillPerSecond: DEFAULT_ACCEPT_REFILL_PER_SECOND };
    this.acceptLimiter = new SourceRateLimiter({ ...rate, maxSources: DEFAULT_ACCEPT_MAX_SOURCES });
  }

  protected override async listen(signal: AbortSignal | undefined): Promise<{ address: string; port: number }> {
    if (signal?.aborted) throw new AbortError('transport start');
    this.tlsOptions = await this.tlsMaterial();
    if (this.stopRequested) throw new AbortError('transport start (stopped meanwhile)');
    const server = this.tlsOptions === null ? net.createServer((socket) => this.accept(socket)) : this.createTlsServer(this.tlsOptions);
    this.server = server;
    await listenOnFirstFree(server, this.opts.port, this.opts.bindHost, signal);
    server.on('error', (err) => this.opts.log.error({ err }, 'inter-node listener error'));
    const port = (server.address() as net.AddressInfo).port;
    const advertised = parseAddress(this.opts.advertisedAddress);
    if (advertised !== null && advertised.port === 0) this.identity.address = formatAddress(advertised.host, port);
    if (this.stopRequested) throw new AbortError('transport start (stopped meanwhile)');
    this.state = 'running';
    this.linkSet.selfAddress = this.identity.address;
    this.opts.log.info({ address: this.identity.address, port, tls: this.tlsOptions !== null }, 'inter-node transport listening');
    this.linkSet.dialAllQueued();
    return { address: this.identity.address, port };
  }

  override async scan(host: string, range: PortRange, options: { signal?: AbortSignal } = {}): Promise<HostScan> {
    return scanHost(host, { range, tls: (await this.tlsMaterial()) ?? undefined, signal: options.signal });
  }

  /** The certificate, key and CA, read once (the scan may need them before start). */
  private tlsMaterial(): Promise<tls.SecureContextOptions | null> {
    const files = this.opts.tls;
    this.tlsLoading ??= files === undefined
      ? Promise.resolve(null)
      : Promise.all([readFile(files.certFile), readFile(files.keyFile), readFile(files.caFile)]).then(([cert, key, ca]) => ({ cert, key, ca }));
    return this.tlsLoading;
  }

  /**
   * Mutual TLS server: clients must present a certificate signed by our CA. Verification is checked here
   * rather than by `rejectUnauthorized`, which would make node drop such clients without telling us; the
   * effect is the same (nothing is read from an unverified client), and the refusal becomes an event.
   */
  private createTlsServer(options: tls.SecureContextOptions): tls.Server {
    const server = tls.createServer({ ...options, requestCert: true, rejectUnauthorized: false, handshakeTimeout: this.handshakeTimeoutMs }, (socket) => {
      if (socket.authorized) {
        this.accept(socket);
        return;
      }
      const remote = formatAddress(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
      const message = `client certificate refused: ${String(socket.authorizationError ?? 'not verified')}`;
      socket.destroy();
      this.linkSet.handshakeFailed(remote, 'in', { ok: false, reason: 'tls', message, fromPeer: false }, true);
    });
    server.on('tlsClientError', (err, socket) => {
      const remote = formatAddress(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
      const reason = tlsFailureReason(err);
      // A client that left before completing TLS is most likely a port probe: logged at debug, still counted.
      this.linkSet.handshakeFailed(remote, 'in', { ok: false, reason, message: err.message, fromPeer: false }, reason !== 'closed');
    });
    return server;
  }

  protected override async shutdown(startSettled: Promise<unknown> | null): Promise<void> {
    if (startSettled !== null) await startSettled;
    this.state = 'stopping';
    const serverClosed = new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
    this.linkSet.stopDialing();
    this.linkSet.flushAll(true);
    const closed = [...this.connections].map((conn) => new Promise<void>((resolve) => {
      if (conn.phase === 'closed') resolve();
      else conn.onClosed = resolve;
    }));
    for (const conn of this.connections) conn.close('stopped', conn.phase === 'up' ? 'graceful' : 'now');
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (deadline = setTimeout(resolve, STOP_FLUSH_TIMEOUT_MS)))]);
    clearTimeout(deadline);
    for (const conn of this.connections) conn.close('stopped', 'now');
    this.linkSet.discardAll();
    await serverClosed;
    this.state = 'stopped';
  }

  private accept(socket: net.Socket): void {
    const remote = formatAddress(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
    if (this.state !== 'running') {
      // Stopping: the listener is closing; peers redial elsewhere or later. Not a misbehaving peer.
      this.opts.log.debug({ peer: remote }, 'inter-node connection closed: the transport is stopping');
      socket.destroy();
      return;
    }
    const refusal = this.acceptRefusal(socket.remoteAddress ?? 'unknown');
    if (refusal !== null) {
      socket.destroy();
      this.linkSet.handshakeFailed(remote, 'in', { ok: false, ...refusal, fromPeer: false }, true);
      return;
    }
    this.pendingInbound++;
    this.track(socket, 'in', null, remote, null);
  }

  /** Why a new inbound connection from `host` is refused before its handshake, or null to admit it. */
  private acceptRefusal(host: string): Refusal | null {
    if (!this.acceptLimiter.take(host, performance.now())) {
      return { reason: 'rate-limited', message: `connection refused: ${host} opens connections faster than the accept rate limit` };
    }
    if (this.pendingInbound >= this.maxPendingHandshakes) {
      return { reason: 'overloaded', message: `connection refused: ${this.pendingInbound} handshakes already in progress` };
    }
    return null;
  }

  protected override dial(link: PeerLink<Conn>): void {
    const target = parseAddress(link.address)!;
    const socket = this.tlsOptions === null
      ? net.connect({ host: target.host, port: target.port })
      : tls.connect({ host: target.host, port: target.port, ...this.tlsOptions, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    const conn = this.track(socket, 'out', link.address, link.address, this.tlsOptions === null ? 'connect' : 'secureConnect');
    conn.link = link;
    link.dialing = conn;
  }

  private track(socket: net.Socket, direction: 'in' | 'out', dialed: string | null, remote: string, readyEvent: 'connect' | 'secureConnect' | null): Conn {
    const handshake = new Handshake({
      role: direction === 'out' ? 'initiator' : 'acceptor',
      clusterName: this.opts.clusterName,
      cookie: this.opts.cookie,
      self: { ...this.identity },
      nonce: newNonce(),
      crypto: nodeHandshakeCrypto,
    });
    let inHandshake = direction === 'in';
    const leaveHandshake = (): void => {
      if (inHandshake) this.pendingInbound--;
      inHandshake = false;
    };
    const conn: Conn = new Connection<PeerLink<Conn>>({
      socket,
      direction,
      dialedAddress: dialed,
      remoteAddress: remote,
      handshake,
      maxFrameBytes: this.linkSet.maxFrameBytes,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      readyEvent,
      isTlsError,
      hooks: {
        admission: (c, peer) => this.admission(c, peer),
        established: (c, peer) => {
          leaveHandshake();
          this.linkSet.established(c, peer);
        },
        handshakeFailed: (c, failure) => {
          leaveHandshake();
          this.linkSet.handshakeFailed(c.remoteAddress, c.direction, failure, c.receivedAny);
        },
        dialFailed: (c, message) => {
          if (this.state !== 'running') return;
          this.linkSet.stats.dialFailures++;
          this.opts.log.debug({ peer: c.remoteAddress, reason: message }, 'inter-node dial failed');
          this.linkSet.emit({ type: 'dial-failed', address: c.dialedAddress ?? c.remoteAddress, message });
        },
        frame: (c, channel, payload, frameBytes) => this.linkSet.deliver(c, channel, payload, frameBytes),
        drain: (c) => this.linkSet.drained(c),
        closed: (c, reason, frameError) => {
          leaveHandshake();
          this.connections.delete(c);
          if (frameError !== null) this.linkSet.frameError(c.peer?.address ?? c.remoteAddress, c.direction, frameError);
          this.linkSet.connectionClosed(c, this.state === 'running' ? reason : 'stopped');
          c.onClosed?.();
        },
      },
    });
    this.connections.add(conn);
    return conn;
  }

  /** The tie-break (tie-break.ts), after aliasing the dialed address of an outbound connection. */
  private admission(conn: Conn, peer: PeerIdentity): Refusal | null {
    if (peer.name === this.identity.name) {
      if (peer.generation === this.identity.generation) {
        if (conn.direction === 'out') this.linkSet.aliasSelf(conn);
      } else {
        // Rate-limited: the hello is not authenticated yet, so anyone can claim our name.
        this.linkSet.warnPeer({ peer: conn.remoteAddress, direction: conn.direction, reason: 'duplicate-name' }, `another node uses this node's name ${JSON.stringify(peer.name)} (generation ${peer.generation}): node names must be unique`);
      }
    } else if (conn.direction === 'out' && conn.dialedAddress !== null) {
      this.linkSet.alias(conn, peer.address);
    }
    const others: OtherConnection[] = [];
    for (const other of this.connections) {
      if (other === conn || other.isClosing || other.phase === 'closed') continue;
      const sameNode = other.peer !== null
        ? other.peer.name === peer.name
        : other.direction === 'out' && other.dialedAddress !== null && this.linkSet.resolve(other.dialedAddress) === peer.address;
      if (sameNode) others.push({ direction: other.direction, phase: other.phase, generation: other.peer?.generation ?? null });
    }
    return admitConnection(this.identity.name, { direction: conn.direction, peer }, others);
  }
}
