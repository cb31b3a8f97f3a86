/**
 * What the TCP and the memory transports share above their connections: the
 * `Transport` methods that only talk to the `LinkSet` (send, onMessage,
 * onEvent, links, stats), the lifecycle state, and the bookkeeping that makes
 * start() and stop() idempotent. A subclass brings the I/O: how it listens
 * (`listen`), dials (`dial`) and closes everything (`shutdown`).
 */

import { FrameError } from '../errors.js';
import { encodeFrameBody } from './frame-codec.js';
import { LinkSet, type LinkConnection, type PeerLink } from './link-set.js';
import type { LinkInfo, PeerIdentity, Transport, TransportEvent, TransportOptions, TransportStats } from './transport.js';
import { isReservedChannel } from './transport.js';
import type { PortRange } from '../node-address.js';
import type { HostScan } from './port-scan.js';

export type TransportState = 'new' | 'running' | 'stopping' | 'stopped';

export abstract class LinkSetTransport<C extends LinkConnection<C>> implements Transport {
  protected readonly linkSet: LinkSet<C>;
  protected readonly connections = new Set<C>();
  protected state: TransportState = 'new';
  /** This node as it tells peers in the handshake; `address` becomes the bound one once started. */
  protected readonly identity: PeerIdentity;
  private startPromise: Promise<{ address: string; port: number }> | null = null;
  private stopPromise: Promise<void> | null = null;

  constructor(protected readonly opts: TransportOptions) {
    this.identity = { name: opts.self.name, address: opts.advertisedAddress, generation: opts.self.generation };
    this.linkSet = new LinkSet<C>(opts, {
      dial: (link) => this.dial(link),
      canDial: () => this.state === 'running',
    });
  }

  /** Binds and sets `state` to 'running'; called once, by the first start(). */
  protected abstract listen(signal: AbortSignal | undefined): Promise<{ address: string; port: number }>;

  /**
   * Closes the connections and what listens, ending in `state` 'stopped'; called once, by the first stop().
   * `startSettled` settles (never rejects) once the start in progress did, or is null when start() was never
   * called: then nothing is awaited, so the transport is 'stopping' as soon as stop() returns.
   */
  protected abstract shutdown(startSettled: Promise<unknown> | null): Promise<void>;

  /** Opens a connection for the link and sets `link.dialing` (see LinkSetHooks.dial). */
  protected abstract dial(link: PeerLink<C>): void;

  abstract scan(host: string, range: PortRange, options?: { signal?: AbortSignal }): Promise<HostScan>;

  /** True once stop() was called; a start still in progress then gives up. */
  protected get stopRequested(): boolean {
    return this.stopPromise !== null;
  }

  start(startOpts: { signal?: AbortSignal } = {}): Promise<{ address: string; port: number }> {
    this.startPromise ??= this.listen(startOpts.signal);
    return this.startPromise;
  }

  send(to: string, channel: string, payload: unknown): boolean {
    if (channel.length === 0 || isReservedChannel(channel)) throw new FrameError(`channel ${JSON.stringify(channel)} is reserved or empty: use a name such as 'swim' or 'raft'`);
    const body = encodeFrameBody(channel, payload, this.linkSet.maxFrameBytes);
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.linkSet.stats.framesDiscarded++;
      return false;
    }
    return this.linkSet.enqueue(to, channel, body);
  }

  flush(): void {
    if (this.state === 'running') this.linkSet.flushAll(false);
  }

  onMessage(channel: string, handler: (from: PeerIdentity, payload: unknown) => void): void {
    if (isReservedChannel(channel)) throw new FrameError(`channel ${JSON.stringify(channel)} is reserved for the transport`);
    this.linkSet.messageHandlers.set(channel, handler);
  }

  onEvent(handler: (event: TransportEvent) => void): void {
    this.linkSet.eventHandlers.push(handler);
  }

  links(): LinkInfo[] {
    return this.linkSet.linkInfos();
  }

  resolve(address: string): string {
    return this.linkSet.resolve(address);
  }

  stats(): TransportStats {
    return this.linkSet.snapshotStats();
  }

  stop(): Promise<void> {
    this.stopPromise ??= this.shutdown(this.startPromise === null ? null : this.startPromise.catch(() => undefined));
    return this.stopPromise;
  }
}
