/**
 * One socket between two nodes: it drives the handshake state machine over
 * frames on the reserved '$handshake' channel, then hands decoded frames to
 * the transport. The transport owns every decision (admission, which link a
 * connection serves, what to write); this class owns the socket's life.
 *
 * Life: connecting (outbound only, bounded by the handshake timeout) →
 * handshake (frame limit HANDSHAKE_MAX_FRAME_BYTES, bounded by the handshake
 * timeout) → up (frame limit maxFrameBytes) → closed. Each connection reports
 * exactly one of: dialFailed, handshakeFailed, or established followed by
 * closed; `closed` is always the last call, once.
 *
 * Closing: a failure closes at once (destroy). A reject, a stop or the
 * retirement of a duplicate closes gracefully: end() flushes what was
 * written, the peer's remaining frames are still read and delivered until
 * its FIN, and a timer destroys the socket if the peer never answers.
 */

import type { Socket } from 'node:net';
import type { FrameFailure } from './frame-codec.js';
import { encodeFrame, FrameDecoder } from './frame-codec.js';
import { newConnectionFlow } from './flow-control.js';
import type { Handshake, HandshakeOutput, HandshakeMessage } from './handshake.js';
import { HANDSHAKE_CHANNEL, HANDSHAKE_MAX_FRAME_BYTES } from './handshake.js';
import type { HandshakeFailure } from './link-set.js';
import type { HandshakeFailureReason, PeerIdentity } from './transport.js';

/** TCP keepalive probes start after this much silence, in ms, so a vanished peer's link is eventually closed. */
export const KEEPALIVE_DELAY_MS = 15_000;
/** A graceful close that the peer does not complete within this many ms is forced. */
export const GRACEFUL_CLOSE_MS = 2_000;

export type ConnectionPhase = 'connecting' | 'handshake' | 'up' | 'closed';

export interface Refusal {
  reason: HandshakeFailureReason;
  message: string;
}


export interface ConnectionHooks<L> {
  /** The peer's hello is valid: admit it (null) or refuse it (the simultaneous-dial tie-break). */
  admission(conn: Connection<L>, peer: PeerIdentity): Refusal | null;
  established(conn: Connection<L>, peer: PeerIdentity): void;
  handshakeFailed(conn: Connection<L>, failure: HandshakeFailure): void;
  /** An outbound connection never reached the handshake. */
  dialFailed(conn: Connection<L>, message: string): void;
  frame(conn: Connection<L>, channel: string, payload: unknown, frameBytes: number): void;
  drain(conn: Connection<L>): void;
  /** Last call. `frameError` is set when an established link was closed for a bad frame. */
  closed(conn: Connection<L>, reason: string, frameError: FrameFailure | null): void;
}

export interface ConnectionInit<L> {
  socket: Socket;
  direction: 'in' | 'out';
  /** The address this node dialed (outbound), as given to send(). */
  dialedAddress: string | null;
  /** For logs and events: the dialed address, or the remote socket address of an inbound connection. */
  remoteAddress: string;
  handshake: Handshake;
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  /** Outbound: the socket event after which bytes can flow ('connect', or 'secureConnect' for TLS). Inbound: null. */
  readyEvent: 'connect' | 'secureConnect' | null;
  /** Classifies a socket error seen before the link is up as a TLS failure. */
  isTlsError(err: Error): boolean;
  hooks: ConnectionHooks<L>;
}

export class Connection<L> {
  readonly direction: 'in' | 'out';
  readonly dialedAddress: string | null;
  readonly remoteAddress: string;
  phase: ConnectionPhase;
  /** The peer as its hello declared it, once admitted; verified once phase is 'up'. */
  peer: PeerIdentity | null = null;
  /** The link this connection serves or dials for; owned by the transport. */
  link: L | null = null;
  /** Replaced by a newer connection to the same peer; frames still arrive until the peer closes. */
  retired = false;
  /** socket.write() returned false; wait for 'drain' before writing more. */
  writeBlocked = false;
  /** Whether any byte arrived; a connection closed before that is a probe, not a misbehaving node. */
  receivedAny = false;
  connectedAt = 0;
  readonly flow = newConnectionFlow();
  /** Called after the `closed` hook; lets stop() wait for the socket without another listener. */
  onClosed: (() => void) | null = null;

  private readonly socket: Socket;
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly init: ConnectionInit<L>;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private closeReason: string | null = null;
  private frameError: FrameFailure | null = null;
  private dialFailureReported = false;

  constructor(init: ConnectionInit<L>) {
    this.init = init;
    this.socket = init.socket;
    this.direction = init.direction;
    this.dialedAddress = init.dialedAddress;
    this.remoteAddress = init.remoteAddress;
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writeBlocked = false;
      if (this.phase === 'up') init.hooks.drain(this);
    });
    socket.on('error', (err: Error) => this.onError(err));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
    if (init.readyEvent === null) {
      this.phase = 'handshake';
      this.beginHandshake();
    } else {
      this.phase = 'connecting';
      this.arm(init.handshakeTimeoutMs, () => this.failDial(`connect did not complete within ${init.handshakeTimeoutMs} ms`));
      socket.once(init.readyEvent, () => {
        if (this.phase !== 'connecting' || this.closing) return;
        this.phase = 'handshake';
        this.beginHandshake();
      });
    }
  }

  get isClosing(): boolean {
    return this.closing || this.phase === 'closed';
  }

  /** Writes frames of an established link; returns socket.write()'s verdict for the last chunk. */
  write(chunks: Uint8Array[]): boolean {
    if (this.closing || this.phase !== 'up') return false;
    let ok = true;
    for (const chunk of chunks) ok = this.socket.write(chunk);
    if (!ok) this.writeBlocked = true;
    return ok;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Closes; `graceful` flushes written data and keeps reading until the peer closes (bounded). Idempotent. */
  close(reason: string, mode: 'graceful' | 'now'): void {
    if (this.closeReason === null) this.closeReason = reason;
    if (this.closing || this.phase === 'closed') return;
    this.closing = true;
    if (mode === 'graceful' && !this.socket.destroyed) {
      this.socket.end();
      this.arm(GRACEFUL_CLOSE_MS, () => this.socket.destroy());
    } else {
      this.socket.destroy();
    }
  }

  private beginHandshake(): void {
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    this.arm(this.init.handshakeTimeoutMs, () => this.apply(this.init.handshake.step({ type: 'timeout' })));
    this.apply(this.init.handshake.step({ type: 'start' }));
  }

  private arm(delayMs: number, fire: () => void): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      fire();
    }, delayMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onFrame = (channel: string, payload: unknown, frameBytes: number): void => {
    if (this.phase === 'up') {
      this.init.hooks.frame(this, channel, payload, frameBytes);
    } else if (this.phase === 'handshake') {
      if (channel === HANDSHAKE_CHANNEL) {
        this.apply(this.init.handshake.step({ type: 'message', msg: payload }));
      } else {
        const message = `frame on channel ${JSON.stringify(channel.slice(0, 64))} before the handshake completed`;
        this.apply(this.init.handshake.step({ type: 'abort', reason: 'bad-frame', message, notify: true }));
      }
    }
  };

  private onData(chunk: Buffer): void {
    this.receivedAny = true;
    if (this.phase === 'closed') return;
    const failure = this.decoder.push(chunk, this.onFrame);
    if (failure === null) return;
    if (this.phase === 'handshake') {
      this.apply(this.init.handshake.step({ type: 'abort', reason: failure.reason, message: failure.message, notify: true }));
    } else if (this.phase === 'up' && this.frameError === null) {
      this.frameError = failure;
      this.close(failure.reason, 'now');
    }
  }

  private apply(out: HandshakeOutput): void {
    for (const msg of out.send) this.writeHandshake(msg);
    if (out.admission !== undefined) {
      this.peer = out.admission;
      const refusal = this.init.hooks.admission(this, out.admission);
      const step = refusal === null ? this.init.handshake.step({ type: 'admit' }) : this.init.handshake.step({ type: 'refuse', ...refusal });
      this.apply(step);
      return;
    }
    const outcome = out.outcome;
    if (outcome === undefined) return;
    this.disarm();
    if (outcome.ok) {
      if (this.closing) return;
      this.phase = 'up';
      this.peer = outcome.peer;
      this.connectedAt = Date.now();
      this.decoder.maxFrameBytes = this.init.maxFrameBytes;
      this.init.hooks.established(this, outcome.peer);
      return;
    }
    this.decoder.halt();
    this.init.hooks.handshakeFailed(this, outcome);
    this.close(`handshake failed: ${outcome.reason}`, out.send.length > 0 ? 'graceful' : 'now');
  }

  private writeHandshake(msg: HandshakeMessage): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(encodeFrame(HANDSHAKE_CHANNEL, msg, HANDSHAKE_MAX_FRAME_BYTES));
  }

  private failDial(message: string): void {
    if (this.dialFailureReported || this.phase !== 'connecting') return;
    this.dialFailureReported = true;
    this.init.hooks.dialFailed(this, message);
    this.close(`dial failed: ${message}`, 'now');
  }

  private onError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    const text = code === undefined ? err.message : `${code}: ${err.message}`;
    if (this.phase === 'connecting') {
      if (this.init.isTlsError(err)) {
        this.phase = 'handshake';
        this.apply(this.init.handshake.step({ type: 'abort', reason: 'tls', message: text, notify: false }));
      } else {
        this.failDial(text);
      }
    } else if (this.phase === 'handshake') {
      const reason: HandshakeFailureReason = this.init.isTlsError(err) ? 'tls' : 'closed';
      this.apply(this.init.handshake.step({ type: 'abort', reason, message: text, notify: false }));
    } else if (this.closeReason === null) {
      this.closeReason = `error: ${text}`;
    }
  }

  private onEnd(): void {
    if (this.phase === 'handshake') {
      this.apply(this.init.handshake.step({ type: 'abort', reason: 'closed', message: 'peer closed the connection during the handshake', notify: false }));
    } else if (this.closeReason === null) {
      this.closeReason = 'closed by peer';
    }
  }

  private onClose(): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'connecting') this.failDial('connection closed before it was established');
    if (this.phase === 'handshake') {
      this.apply(this.init.handshake.step({ type: 'abort', reason: 'closed', message: 'connection closed during the handshake', notify: false }));
    }
    this.phase = 'closed';
    this.disarm();
    this.init.hooks.closed(this, this.closeReason ?? 'closed by peer', this.frameError);
  }
}
