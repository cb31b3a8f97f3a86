/**
 * The few things multicast discovery needs from bonjour-service's
 * multicast-dns socket, kept apart from the discovery logic: the socket
 * options, waiting for the bind, group memberships, sending on several
 * interfaces, views of the socket whose listeners cannot throw, and keeping
 * the library browser's cache bounded.
 *
 * Why memberships are handled here and not by multicast-dns: the library
 * joins on every interface and reports a join anywhere (loopback included)
 * as one 'networkInterface' event, so it cannot tell "joined on loopback
 * only" from "joined on the LAN", and it takes one interface to send on.
 * This module owns the dgram socket (handed to multicast-dns as `socket`,
 * with `multicast: false`), joins on each chosen interface itself, knows
 * which joins held, and retries the others.
 *
 * Why guard listeners: multicast-dns decodes each datagram in a try/catch,
 * then emits it to the library's responder and browser from inside the
 * socket's 'message' callback. A throw there (a packet that decodes but
 * breaks the library's assumptions) would be an uncaught exception, which
 * ends the process. Every listener this module installs or hands to the
 * library runs through `guard`, which drops and counts such a packet.
 */
import type { Socket } from 'node:dgram';
import type { ChosenInterface } from './multicast-interface.js';

type Listener = (...args: any[]) => void;
type SendCallback = (err?: Error | null) => void;

/** The part of multicast-dns this module uses. */
export interface MulticastDns {
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  removeListener(event: string, listener: Listener): unknown;
  listeners(event: string): Listener[];
  query(name: string, type: string, callback: (err: Error | null) => void): void;
}

/** multicast-dns's sending side: `respond` and `query` both go through `send`. */
export interface SendingMdns {
  send(value: unknown, rinfo?: unknown, callback?: SendCallback): void;
  respond(records: unknown, callback?: SendCallback): void;
}

/** A resource record as multicast-dns hands it over (decoded by dns-packet). */
export interface MdnsRecord {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}

/** Runs `fn`, catching what it throws. */
export type Guard = (fn: () => void) => void;

/**
 * multicast-dns options: our own socket, bound to the wildcard address
 * (Linux delivers group traffic only to wildcard-bound sockets), and no
 * membership handling by the library (see `Memberships`).
 */
export function socketOptions(socket: Socket, port: number): Record<string, unknown> {
  return { port, socket, bind: '0.0.0.0', multicast: false };
}

export type BindOutcome =
  | { kind: 'ready' }
  | { kind: 'aborted' }
  /** No answer yet: the bind may still complete ('ready' later). */
  | { kind: 'timeout'; reason: string }
  | { kind: 'error'; reason: string };

/** Waits for the socket to bind, at most `timeoutMs`. */
export function waitForBind(mdns: MulticastDns, timeoutMs: number, signal: AbortSignal | undefined): Promise<BindOutcome> {
  return new Promise((resolve) => {
    const finish = (outcome: BindOutcome) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      mdns.removeListener('ready', onReady);
      mdns.removeListener('error', onError);
      resolve(outcome);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const onReady = () => finish({ kind: 'ready' });
    const onError = (err: Error) => finish({ kind: 'error', reason: err.message });
    const timer = setTimeout(() => finish({ kind: 'timeout', reason: `no answer from the socket within ${timeoutMs} ms` }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    mdns.once('ready', onReady);
    mdns.once('error', onError);
  });
}

/** The membership calls of a dgram socket. */
export interface MembershipSocket {
  addMembership(group: string, interfaceAddress: string): void;
  dropMembership(group: string, interfaceAddress: string): void;
}

export interface JoinReport {
  /** Joined by this call. */
  joined: ChosenInterface[];
  /** Refused by this call (tried again at the next). */
  failed: Array<{ target: ChosenInterface; error: string }>;
}

/** The group memberships of one socket, by interface address. */
export class Memberships {
  private readonly joined = new Map<string, ChosenInterface>();

  constructor(
    private readonly socket: MembershipSocket,
    private readonly group: string,
  ) {}

  /** Joins on each target not joined yet. */
  join(targets: ChosenInterface[]): JoinReport {
    const report: JoinReport = { joined: [], failed: [] };
    for (const target of targets) {
      if (this.joined.has(target.address)) continue;
      try {
        this.socket.addMembership(this.group, target.address);
        this.joined.set(target.address, target);
        report.joined.push(target);
      } catch (err) {
        report.failed.push({ target, error: (err as Error).message });
      }
    }
    return report;
  }

  /** Joined on at least one interface that is not loopback: other hosts can be heard. */
  get external(): boolean {
    return [...this.joined.values()].some((j) => !j.loopback);
  }

  get any(): boolean {
    return this.joined.size > 0;
  }

  /** Leaves every group joined (errors ignored: the socket is closing). */
  dropAll(): void {
    for (const address of this.joined.keys()) {
      try {
        this.socket.dropMembership(this.group, address);
      } catch {
        // The interface may be gone; closing the socket drops it anyway.
      }
    }
    this.joined.clear();
  }
}

/**
 * Makes every packet multicast-dns sends (queries, responses, announcements)
 * go out on each of `addresses` in turn. One socket has one outgoing
 * multicast interface, so sends are queued: set the interface, send, and
 * only in the send's callback move on. The callback of a packet gets an
 * error only when no interface could send it; `onPartial` hears of each
 * interface that failed while another succeeded.
 */
export function sendOnEachInterface(mdns: SendingMdns, socket: Pick<Socket, 'setMulticastInterface'>, addresses: string[], onPartial: (address: string, err: Error) => void): void {
  const send = mdns.send.bind(mdns);
  let tail: Promise<void> = Promise.resolve();
  mdns.send = (value, rinfo, callback) => {
    if (typeof rinfo === 'function') return mdns.send(value, null, rinfo as SendCallback);
    const done = callback ?? (() => {});
    tail = tail.then(async () => {
      const errors: Array<{ address: string; err: Error }> = [];
      for (const address of addresses) {
        const err = await new Promise<Error | null>((resolve) => {
          try {
            socket.setMulticastInterface(address);
          } catch (e) {
            resolve(e as Error);
            return;
          }
          send(value, rinfo, (e) => resolve(e ?? null));
        });
        if (err) errors.push({ address, err });
      }
      if (errors.length === addresses.length) {
        done(errors[0]?.err ?? null);
        return;
      }
      for (const { address, err } of errors) onPartial(address, err);
      done(null);
    });
  };
}

/**
 * bonjour-service's Browser keeps every service it ever reported (an array
 * `_services` and a map `serviceMap`, both by fqdn) until its goodbye, and
 * reports a service 'up' only when it is not there. Forgetting the services
 * `keep` refuses bounds that memory and lets such a service be reported as
 * new when it announces again. Returns how many were forgotten; does nothing
 * if the library's shape is not the expected one.
 */
export function pruneBrowserCache(browser: unknown, keep: (fqdn: string) => boolean): number {
  if (typeof browser !== 'object' || browser === null) return 0;
  const cache = browser as { _services?: unknown; serviceMap?: unknown };
  if (!Array.isArray(cache._services)) return 0;
  const before = cache._services.length;
  cache._services = (cache._services as Array<{ fqdn?: unknown }>).filter((s) => typeof s?.fqdn === 'string' && keep(s.fqdn));
  const map = cache.serviceMap;
  if (typeof map === 'object' && map !== null) for (const fqdn of Object.keys(map)) if (!keep(fqdn)) delete (map as Record<string, unknown>)[fqdn];
  return before - (cache._services as unknown[]).length;
}

/** Re-installs the listeners already on `event` behind `guard`. */
export function guardListeners(mdns: MulticastDns, event: string, guard: Guard): void {
  for (const listener of mdns.listeners(event)) {
    mdns.removeListener(event, listener);
    mdns.on(event, (...args: unknown[]) => guard(() => listener(...args)));
  }
}

/** A view of the socket for the library's browser: listeners behind `guard`, queries through `query`. */
export function guardedSocket(mdns: MulticastDns, guard: Guard, query: (name: string, type: string) => void): MulticastDns {
  const wrappers = new Map<Listener, Listener>();
  const view: MulticastDns = {
    on: (event, listener) => {
      const wrapped = (...args: unknown[]) => guard(() => listener(...args));
      wrappers.set(listener, wrapped);
      mdns.on(event, wrapped);
      return view;
    },
    once: (event, listener) => mdns.once(event, (...args: unknown[]) => guard(() => listener(...args))),
    removeListener: (event, listener) => {
      mdns.removeListener(event, wrappers.get(listener) ?? listener);
      wrappers.delete(listener);
      return view;
    },
    listeners: (event) => mdns.listeners(event),
    query: (name, type) => query(name, type),
  };
  return view;
}
