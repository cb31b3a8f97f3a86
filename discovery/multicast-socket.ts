/**
 * The few things multicast discovery needs from bonjour-service's
 * multicast-dns socket, kept apart from the discovery logic: the options that
 * pick an interface, waiting for the bind, and views of the socket whose
 * listeners cannot throw.
 *
 * Why guard listeners: multicast-dns decodes each datagram in a try/catch,
 * then emits it to the library's responder and browser from inside the
 * socket's 'message' callback. A throw there (a packet that decodes but
 * breaks the library's assumptions) would be an uncaught exception, which
 * ends the process. Every listener this module installs or hands to the
 * library runs through `guard`, which drops and counts such a packet.
 */
import type { InterfaceChoice } from './multicast-interface.js';

type Listener = (...args: any[]) => void;

/** The part of multicast-dns this module uses. */
export interface MulticastDns {
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  removeListener(event: string, listener: Listener): unknown;
  listeners(event: string): Listener[];
  query(name: string, type: string, callback: (err: Error | null) => void): void;
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
 * multicast-dns options. One interface: bind the wildcard address (Linux
 * delivers group traffic only to wildcard-bound sockets), join and send on
 * that interface. All interfaces: the library's default (join on each,
 * send where the routing table says).
 */
export function socketOptions(choice: Exclude<InterfaceChoice, { kind: 'unavailable' }>, port: number): Record<string, unknown> {
  return choice.kind === 'all' ? { port } : { port, interface: choice.address, bind: '0.0.0.0' };
}

/** 'ready', 'aborted', or why the socket did not bind. */
export function waitForBind(mdns: MulticastDns, timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const finish = (outcome: string) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = () => finish('aborted');
    const timer = setTimeout(() => finish(`no answer from the socket within ${timeoutMs} ms`), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    mdns.once('ready', () => finish('ready'));
    mdns.once('error', (err: Error) => finish(err.message));
  });
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
