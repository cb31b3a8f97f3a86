/**
 * Request/reply over the transport: a call names a method, carries one
 * msgpack-encodable argument and settles exactly once — with the handler's
 * result, a typed remote error, or a local one (timeout, abort, the peer's
 * link went down, too many calls in flight).
 *
 * Wire: on the channel 'rpc', `{ t: 'call', id, method, arg }` and
 * `{ t: 'reply', id, ok, value | error: { code, message, data } }`. Ids are
 * nanoids, so a reply can never settle another caller's request, even across
 * a reconnect. Delivery is at most once (the transport's): a call whose
 * request or reply is lost ends by its deadline. Callers retry if their
 * operation is idempotent.
 *
 * Bounds: `maxInFlightPerPeer` calls pending per peer (beyond it a call fails
 * at once with `QueueFullError`); a reply that comes after its deadline is
 * dropped and counted; malformed frames are dropped and counted, never thrown.
 */
import { setMaxListeners } from 'node:events';
import { nanoid } from 'nanoid';
import { AbortError, QueueFullError, TimeoutError, TroupeError, type ErrorCode } from '../errors.js';
import type { PeerIdentity, Transport } from '../transport/transport.js';

export const RPC_CHANNEL = 'rpc';
/** Calls pending per peer. @default 1024: far above what an operation needs, low enough to bound memory. */
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 1024;
/** Deadline of a call that names none, ms. @default 5000 */
export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

export type RpcHandler = (arg: unknown, from: PeerIdentity, signal: AbortSignal) => unknown;

/**
 * The handler on the other node failed, or the method does not exist there. `code` and `retryable` are the
 * remote error's; `data` its own plain fields (e.g. `leaderHint` and `term` of a NotLeaderError), so the caller
 * can act on them: retry at the hinted leader, back off, give up.
 */
export class RemoteError extends TroupeError {
  constructor(readonly remoteCode: string, message: string, readonly data: Record<string, unknown>, readonly peer: string, retryable: boolean) {
    super(isErrorCode(remoteCode) ? remoteCode : 'ERR_INTERNAL', `${peer}: ${message}`, { retryable });
  }
}

/** The plain own fields of an error (what a RemoteError's `data` carries): strings, numbers, booleans, null. */
export function errorData(err: unknown): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (typeof err !== 'object' || err === null) return data;
  for (const [key, value] of Object.entries(err)) {
    if (key === 'code' || key === 'retryable' || key === 'name') continue;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) data[key] = value;
  }
  return data;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  peer: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  cleanup(): void;
}

export interface RpcStats {
  callsSent: number;
  callsReceived: number;
  repliesLate: number;
  malformed: number;
}

export class Rpc {
  readonly stats: RpcStats = { callsSent: 0, callsReceived: 0, repliesLate: 0, malformed: 0 };
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, number>();
  /** Per caller (its address): the controller whose signal every call served for it gets; aborted when its link goes down. */
  private readonly serving = new Map<string, AbortController>();

  constructor(private readonly transport: Transport, private readonly maxInFlightPerPeer = DEFAULT_MAX_IN_FLIGHT_PER_PEER) {
    transport.onMessage(RPC_CHANNEL, (from, payload) => this.receive(from, payload));
    transport.onEvent((event) => {
      if (event.type === 'link-down') {
        this.failPeer(event.peer.address, `link to ${event.peer.name} went down before the reply arrived`, 'ERR_LINK_CLOSED');
        this.abortServing(event.peer.address, `the link to ${event.peer.name}, who made the call, went down`);
      }
      // No link could be made: the calls queued for it were never sent (safe to retry elsewhere), and would otherwise wait out their deadline.
      if (event.type === 'dial-failed') this.failPeer(this.transport.resolve(event.address), `could not connect to ${event.address} (${event.message}); the call was not sent`, 'ERR_UNREACHABLE');
    });
  }

  /** Serves `method`; a later registration replaces the earlier one. */
  handle(method: string, handler: RpcHandler): void {
    this.handlers.set(method, handler);
  }

  /** Calls `method` on the node at `to` (its advertised address `host:port`). */
  call<T = unknown>(to: string, method: string, arg: unknown, options: CallOptions = {}): Promise<T> {
    const peer = this.transport.resolve(to);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (options.signal?.aborted) return Promise.reject(new AbortError(`call ${method}`, { cause: options.signal.reason }));
    if ((this.inFlight.get(peer) ?? 0) >= this.maxInFlightPerPeer) return Promise.reject(new QueueFullError(`rpc calls in flight to ${peer}`, this.maxInFlightPerPeer));
    const id = nanoid();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new TimeoutError(`call ${method} to ${peer}`, timeoutMs))), timeoutMs);
      const onAbort = (): void => settle(() => reject(new AbortError(`call ${method}`, { cause: options.signal?.reason })));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        this.inFlight.set(peer, (this.inFlight.get(peer) ?? 1) - 1);
      };
      const settle = (fn: () => void): void => {
        if (!this.pending.has(id)) return;
        cleanup();
        fn();
      };
      this.pending.set(id, { peer, resolve: (v) => settle(() => resolve(v as T)), reject: (e) => settle(() => reject(e)), cleanup });
      this.inFlight.set(peer, (this.inFlight.get(peer) ?? 0) + 1);
      this.stats.callsSent++;
      if (!this.transport.send(to, RPC_CHANNEL, { t: 'call', id, method, arg })) {
        settle(() => reject(new QueueFullError(`link queue to ${peer}`, 0)));
      }
    });
  }

  private receive(from: PeerIdentity, payload: unknown): void {
    const msg = payload as Record<string, unknown> | null;
    if (typeof msg !== 'object' || msg === null || typeof msg['id'] !== 'string') {
      this.stats.malformed++;
      return;
    }
    if (msg['t'] === 'call' && typeof msg['method'] === 'string') void this.serve(from, msg['id'], msg['method'], msg['arg']);
    else if (msg['t'] === 'reply') this.settle(msg['id'], msg, from);
    else this.stats.malformed++;
  }

  private async serve(from: PeerIdentity, id: string, method: string, arg: unknown): Promise<void> {
    this.stats.callsReceived++;
    const handler = this.handlers.get(method);
    let reply: Record<string, unknown>;
    if (handler === undefined) {
      reply = { t: 'reply', id, ok: false, error: { code: 'ERR_NOT_FOUND', message: `no rpc method ${JSON.stringify(method)} on this node` } };
    } else {
      try {
        reply = { t: 'reply', id, ok: true, value: await handler(arg, from, this.servingSignal(from.address)) };
      } catch (err) {
        const e = err as Partial<TroupeError>;
        const error = { code: typeof e.code === 'string' ? e.code : 'ERR_INTERNAL', message: String(e.message ?? err), retryable: e.retryable === true, data: errorData(err) };
        reply = { t: 'reply', id, ok: false, error };
      }
    }
    this.transport.send(from.address, RPC_CHANNEL, reply);
  }

  /**
   * The signal a handler gets: aborted when the caller's link goes down (nobody will read the answer).
   * Handlers bound their own work by the deadline the caller sent. One signal serves every call of a caller's
   * link (a controller per call was a quarter of a busy server's time, and a timer per call as much again), so a
   * handler must remove the listeners it adds to it when it finishes, as every handler here does.
   */
  private servingSignal(peer: string): AbortSignal {
    let controller = this.serving.get(peer);
    if (controller === undefined) {
      controller = new AbortController();
      setMaxListeners(0, controller.signal); // one listener per call in flight, by design
      this.serving.set(peer, controller);
    }
    return controller.signal;
  }

  private abortServing(peer: string, reason: string): void {
    const controller = this.serving.get(peer);
    this.serving.delete(peer);
    controller?.abort(new Error(reason));
  }

  private settle(id: string, msg: Record<string, unknown>, from: PeerIdentity): void {
    const pending = this.pending.get(id);
    if (pending === undefined) {
      this.stats.repliesLate++;
      return;
    }
    if (msg['ok'] === true) return pending.resolve(msg['value']);
    const error = (msg['error'] ?? {}) as Record<string, unknown>;
    const data = typeof error['data'] === 'object' && error['data'] !== null ? (error['data'] as Record<string, unknown>) : {};
    pending.reject(new RemoteError(String(error['code'] ?? 'ERR_INTERNAL'), String(error['message'] ?? 'remote call failed'), data, from.name, error['retryable'] === true));
  }

  private failPeer(address: string, why: string, code: 'ERR_LINK_CLOSED' | 'ERR_UNREACHABLE'): void {
    for (const [id, pending] of this.pending) {
      if (pending.peer !== address) continue;
      this.pending.get(id)?.reject(new TroupeError(code, why, { retryable: true }));
    }
  }
}

function isErrorCode(code: string): code is ErrorCode {
  return /^ERR_[A-Z_]+$/.test(code);
}
