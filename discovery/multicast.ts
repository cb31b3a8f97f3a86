/**
 * Multicast discovery ("epmd"): mDNS / DNS-SD on the local network, with
 * bonjour-service.
 *
 * Each node publishes one `_troupe._tcp` service instance whose TXT record
 * names the node, its cluster, cluster port, protocol version and generation
 * (multicast-announcement.ts), and browses the same type. An announcement of
 * this cluster and protocol version becomes a candidate; anything else is
 * recorded with the reason and never proposed. Membership decides who is
 * alive: discovery only proposes.
 *
 * Liveness of an announcement. mDNS browsers cache: bonjour-service's browser
 * queries once, then only hears unsolicited announcements, and reports a
 * service only once until its goodbye. So this module
 * - re-queries on a schedule (1 s, doubling, then every `queryIntervalMs`,
 *   as RFC 6762 §5.2 continuous querying does): every node answers, so a node
 *   that missed an announcement (packet loss, started later) still finds all;
 * - watches every response for our instances and notes when each was last
 *   heard; an instance not heard for `staleAfterQueries` query intervals (a
 *   node killed without a goodbye) stops being a candidate, and comes back as
 *   soon as it answers again;
 * - treats a goodbye (TTL 0) as an immediate removal, and a re-announcement
 *   with a new TXT (a restart: new `gen`) as an update.
 *
 * Failure is data, never a crash. The socket's errors are handled here
 * (bonjour-service would leave them unhandled, which kills the process); a
 * packet that breaks the library's parsing is dropped and counted; when the
 * group cannot be used at all (no interface, bind or join refused, no route
 * for multicast) the node says so in one log line and in
 * `state().unavailable`, and keeps running with its other discovery modes.
 */
import { networkInterfaces } from 'node:os';
import Bonjour from 'bonjour-service';
import { AbortError } from '../lib/errors.js';
import { PROTOCOL_VERSION } from '../lib/transport/handshake.js';
import type { Candidate, Discovery, DiscoveryState } from './discovery.js';
import type { DiscoveryContext } from './index.js';
import { announcementTxt, describeAnnouncement, instanceName, judgeAnnouncement, SERVICE_DOMAIN, SERVICE_TYPE, type LocalNode } from './multicast-announcement.js';
import { InstanceTable } from './multicast-instances.js';
import { chooseMulticastInterface, readMulticastCapable, type InterfaceChoice, type InterfaceTable } from './multicast-interface.js';
import { guardedSocket, guardListeners, socketOptions, waitForBind, type MdnsRecord, type MulticastDns } from './multicast-socket.js';

/** The mDNS group and port (RFC 6762). */
export const MDNS_GROUP = '224.0.0.251';
export const MDNS_PORT = 5353;
/** Steady re-query period, ms. Shorter finds a missed node sooner; each query draws one answer from every node (N² packets per period on the LAN). */
export const MULTICAST_QUERY_INTERVAL_MS = 10_000;
/** First re-query after start, ms; doubles up to MULTICAST_QUERY_INTERVAL_MS. */
export const MULTICAST_FIRST_REQUERY_MS = 1000;
/** An instance unheard for this many query intervals is no longer a candidate (30 s by default). */
export const MULTICAST_STALE_AFTER_QUERIES = 3;
/** Longest wait for the socket to bind, ms. */
export const MULTICAST_BIND_TIMEOUT_MS = 3000;
/** Longest wait for the goodbye to be sent on close, ms. */
export const MULTICAST_GOODBYE_TIMEOUT_MS = 1000;
/** Instances remembered (a hostile LAN cannot grow memory past this). */
export const MAX_INSTANCES = 1024;
/** Raw records kept for diagnosis (one per instance, newest last). */
export const MAX_RECORDS = 64;

export interface MulticastOptions {
  /** @default MULTICAST_QUERY_INTERVAL_MS */
  queryIntervalMs?: number;
  /** @default MULTICAST_FIRST_REQUERY_MS */
  firstRequeryMs?: number;
  /** @default MULTICAST_STALE_AFTER_QUERIES */
  staleAfterQueries?: number;
  /** UDP port of the mDNS group; tests may isolate themselves on another. @default MDNS_PORT */
  mdnsPort?: number;
  /** The interface table (tests). @default os.networkInterfaces */
  interfaces?: () => InterfaceTable;
  /** Whether an interface can carry multicast (tests). @default readMulticastCapable */
  multicastCapable?: (name: string) => boolean;
}

interface BrowsedService {
  fqdn: string;
  txt?: unknown;
  ttl?: number;
  referer?: { address: string };
}

type UnavailableSource = 'interface' | 'bind' | 'join' | 'send' | 'loopback';
/** Causes that last as long as the socket; a passing one (join, send) never hides them. */
const LASTING: readonly UnavailableSource[] = ['interface', 'bind', 'loopback'];

export class MulticastDiscovery implements Discovery {
  readonly mode = 'epmd';
  private readonly local: LocalNode;
  private readonly instance: string;
  private readonly queryIntervalMs: number;
  private readonly firstRequeryMs: number;
  private readonly mdnsPort: number;
  private readonly listeners: Array<(candidates: Candidate[]) => void> = [];
  private readonly instances: InstanceTable;
  private readonly failures: Record<string, number> = {};
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private bonjour: Bonjour | undefined;
  private browser: { stop(): void } | undefined;
  private mdns: MulticastDns | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextRequeryMs: number;
  private unavailable: { source: UnavailableSource; reason: string } | null = null;
  private joined = false;
  private lastPollAt: number | null = null;
  private lastError: string | null = null;
  private queries = 0;
  private firstQuery: Promise<void> | undefined;
  private emittedKey = '';

  constructor(
    private readonly context: DiscoveryContext,
    private readonly options: MulticastOptions = {},
  ) {
    const { self, config } = context;
    this.local = { name: self.name, address: self.address, port: self.port, generation: self.generation, clusterName: config.clusterName, protocolVersion: PROTOCOL_VERSION };
    this.instance = instanceName(self.name, self.port);
    this.queryIntervalMs = options.queryIntervalMs ?? MULTICAST_QUERY_INTERVAL_MS;
    this.firstRequeryMs = Math.min(options.firstRequeryMs ?? MULTICAST_FIRST_REQUERY_MS, this.queryIntervalMs);
    const staleAfterMs = (options.staleAfterQueries ?? MULTICAST_STALE_AFTER_QUERIES) * this.queryIntervalMs;
    this.instances = new InstanceTable({ staleAfterMs, maxInstances: MAX_INSTANCES, maxRecords: MAX_RECORDS });
    this.mdnsPort = options.mdnsPort ?? MDNS_PORT;
    this.nextRequeryMs = this.firstRequeryMs;
  }

  /** Binds, announces and browses. Never rejects for a network failure (see `state().unavailable`); rejects with AbortError when aborted. */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (options.signal?.aborted) throw new AbortError('multicast discovery start');
    this.starting ??= this.begin(options.signal);
    return this.starting;
  }

  candidates(): Candidate[] {
    return this.instances.candidates();
  }

  onChange(listener: (candidates: Candidate[]) => void): void {
    this.listeners.push(listener);
  }

  state(): DiscoveryState {
    return {
      mode: this.mode,
      candidates: this.candidates(),
      records: this.instances.records(),
      unavailable: this.unavailable?.reason ?? null,
      lastPollAt: this.lastPollAt,
      lastError: this.lastError,
      queries: this.queries,
      failures: { ...this.failures },
    };
  }

  /** Sends the goodbye (TTL 0 for our records), stops browsing, closes the socket. */
  async close(): Promise<void> {
    this.closing ??= this.end();
    return this.closing;
  }

  private async begin(signal: AbortSignal | undefined): Promise<void> {
    const table = (this.options.interfaces ?? networkInterfaces)() as InterfaceTable;
    const choice = chooseMulticastInterface(this.context.config.multicastInterface, table, this.options.multicastCapable ?? readMulticastCapable);
    if (choice.kind === 'unavailable') {
      this.setUnavailable('interface', choice.reason);
      return;
    }
    if (choice.kind === 'loopback-fallback') this.setUnavailable('loopback', choice.reason);

    const bonjour = new Bonjour(socketOptions(choice, this.mdnsPort) as object, (err: Error) => this.onSendError(err));
    this.bonjour = bonjour;
    // bonjour-service keeps its multicast-dns socket private and does not
    // listen for its 'error' event, which would then crash the node.
    const mdns = (bonjour as unknown as { server?: { mdns?: MulticastDns } }).server?.mdns;
    if (!mdns || typeof mdns.on !== 'function') {
      this.setUnavailable('bind', 'bonjour-service has no multicast-dns socket where this module expects it (library version changed?)');
      return;
    }
    this.mdns = mdns;
    mdns.on('error', (err: Error) => this.noteError('socket', err));
    mdns.on('warning', (err: Error & { syscall?: string }) => this.onWarning(err, choice));
    mdns.on('networkInterface', () => this.onJoined());
    // The library's own responder must not be able to throw out of a socket callback either.
    guardListeners(mdns, 'query', (fn) => this.guard(fn));

    const bound = await waitForBind(mdns, MULTICAST_BIND_TIMEOUT_MS, signal);
    if (bound === 'aborted') {
      await this.teardown();
      throw new AbortError('multicast discovery start');
    }
    if (this.closing) return;
    if (bound !== 'ready') {
      this.setUnavailable('bind', `cannot bind UDP port ${this.mdnsPort} for mDNS on ${choice.label}: ${bound}`);
      return;
    }
    if (!this.joined && !this.unavailable) this.setUnavailable('join', `cannot join multicast group ${MDNS_GROUP} on ${choice.label}: ${this.lastError ?? 'no interface accepted the membership'}`);
    if (choice.kind === 'interface' || choice.kind === 'all') this.context.log.info({ interface: choice.label, instance: this.instance }, `multicast discovery announcing ${this.local.name} on ${choice.label}`);

    mdns.on('response', (packet: { answers?: MdnsRecord[]; additionals?: MdnsRecord[] }) => this.guard(() => this.onResponse(packet)));
    try {
      bonjour.publish({ name: this.instance, type: SERVICE_TYPE, port: this.local.port, txt: announcementTxt(this.local), probe: false });
      // The browser gets a view of the socket whose listeners cannot throw and whose queries are counted.
      const view = guardedSocket(mdns, (fn) => this.guard(fn), (name, type) => void this.sendQuery(name, type));
      const browser = new Bonjour.Browser(view, { type: SERVICE_TYPE });
      browser.on('up', (service) => this.onAnnouncement(service as BrowsedService));
      browser.on('txt-update', (service) => this.onAnnouncement(service as BrowsedService));
      browser.on('srv-update', (service) => this.onAnnouncement(service as BrowsedService));
      browser.on('down', (service) => this.onGoodbye(service as BrowsedService));
      this.browser = browser;
    } catch (err) {
      this.setUnavailable('bind', `cannot announce or browse: ${(err as Error).message}`);
      return;
    }
    this.scheduleRequery();
    // The browser sent the first query: once it is out (or refused), `unavailable` tells the truth.
    await Promise.race([this.firstQuery, new Promise((resolve) => setTimeout(resolve, MULTICAST_BIND_TIMEOUT_MS).unref())]);
  }

  private async end(): Promise<void> {
    await this.starting?.catch(() => {});
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    clearTimeout(this.timer);
    this.browser?.stop();
    this.browser = undefined;
    const bonjour = this.bonjour;
    this.bonjour = undefined;
    this.mdns = undefined;
    if (!bonjour) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, MULTICAST_GOODBYE_TIMEOUT_MS);
      bonjour.unpublishAll(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
  }

  /** Sends one query; the promise settles when the socket has sent it or failed to. */
  private sendQuery(name: string = SERVICE_DOMAIN, type = 'PTR'): Promise<void> {
    if (!this.mdns || this.closing) return Promise.resolve();
    this.queries++;
    this.lastPollAt = Date.now();
    const sent = new Promise<void>((resolve) =>
      this.mdns!.query(name, type, (err) => {
        if (err) this.onSendError(err);
        else if (this.unavailable?.source === 'send') this.clearUnavailable('send');
        resolve();
      }),
    );
    this.firstQuery ??= sent;
    return sent;
  }

  private scheduleRequery(): void {
    if (this.closing) return;
    const jitter = 1 + (Math.random() - 0.5) * 0.2; // ±10 %: nodes started together do not query in lockstep
    this.timer = setTimeout(() => {
      if (this.instances.expire(performance.now())) this.emitIfChanged();
      void this.sendQuery();
      this.nextRequeryMs = Math.min(this.nextRequeryMs * 2, this.queryIntervalMs);
      this.scheduleRequery();
    }, this.nextRequeryMs * jitter);
    this.timer.unref();
  }

  /** Any response naming one of our instances proves it still answers. */
  private onResponse(packet: { answers?: MdnsRecord[]; additionals?: MdnsRecord[] }): void {
    const now = performance.now();
    let heard = false;
    let revived = false;
    for (const rr of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
      if (typeof rr?.name !== 'string' || !(rr.ttl > 0)) continue;
      const name = rr.name.toLowerCase();
      let fqdn: string | undefined;
      if (rr.type === 'PTR' && name === SERVICE_DOMAIN.toLowerCase() && typeof rr.data === 'string') fqdn = rr.data.toLowerCase();
      else if ((rr.type === 'SRV' || rr.type === 'TXT') && name.endsWith(`.${SERVICE_DOMAIN.toLowerCase()}`)) fqdn = name;
      if (fqdn === undefined) continue;
      heard = true;
      if (this.instances.heard(fqdn, now)) revived = true;
    }
    if (heard) this.lastPollAt = Date.now();
    if (revived) this.emitIfChanged();
  }

  private onAnnouncement(service: BrowsedService): void {
    if (typeof service?.fqdn !== 'string') return this.count('malformed');
    const verdict = judgeAnnouncement(service.txt, this.local, this.mode);
    const record = { source: this.mode, type: 'announcement', name: service.fqdn, ...(service.ttl === undefined ? {} : { ttl: service.ttl }), data: describeAnnouncement(service.txt, service.referer?.address, verdict) };
    const outcome = this.instances.announce(service.fqdn, verdict, performance.now(), record);
    if (!outcome.accepted) return this.count('too-many-instances');
    this.lastPollAt = Date.now();
    if (verdict.kind === 'ignored' && outcome.verdictChanged) {
      this.count(verdict.reason);
      const fields = { instance: service.fqdn, reason: verdict.reason, from: service.referer?.address };
      if (verdict.reason === 'protocol-version') this.context.log.warn(fields, `multicast discovery ignores ${service.fqdn}: ${verdict.detail}`);
      else this.context.log.debug(fields, `multicast discovery ignores ${service.fqdn}: ${verdict.detail}`);
    }
    this.emitIfChanged();
  }

  private onGoodbye(service: BrowsedService): void {
    if (typeof service?.fqdn !== 'string') return;
    const record = { source: this.mode, type: 'goodbye', name: service.fqdn, ttl: 0, data: `goodbye${service.referer ? ` from ${service.referer.address}` : ''}` };
    if (!this.instances.goodbye(service.fqdn, record)) return;
    this.lastPollAt = Date.now();
    this.emitIfChanged();
  }

  private emitIfChanged(): void {
    const candidates = this.candidates();
    const key = candidates.map((c) => `${c.address} ${c.name ?? ''}`).join('\n');
    if (key === this.emittedKey) return;
    this.emittedKey = key;
    this.context.log.debug({ candidates: candidates.map((c) => c.address) }, 'multicast discovery candidates changed');
    for (const listener of this.listeners) {
      try {
        listener(candidates);
      } catch (err) {
        this.context.log.error({ err }, 'a discovery change listener threw');
      }
    }
  }

  private onWarning(err: Error & { syscall?: string }, choice: InterfaceChoice): void {
    if (err.syscall === 'addMembership') {
      this.lastError = `join ${MDNS_GROUP}: ${err.message}`;
      this.context.log.debug({ err: err.message, interface: 'label' in choice ? choice.label : undefined }, 'multicast group join refused');
      return;
    }
    // multicast-dns reports undecodable packets and socket trouble as warnings.
    this.noteError(err.syscall ? 'socket' : 'malformed', err);
  }

  private onJoined(): void {
    this.joined = true;
    if (this.unavailable?.source === 'join') this.clearUnavailable('join');
  }

  private onSendError(err: Error & { code?: string }): void {
    this.noteError('send', err);
    const hint = err.code === 'ENETUNREACH' || err.code === 'EHOSTUNREACH'
      ? `no route for multicast: add a default route or \`ip route add 224.0.0.0/4 dev <interface>\`, or set CLUSTER_MULTICAST_INTERFACE`
      : 'check that this network carries multicast, or use CLUSTER_DISCOVERY_TYPE=dns or static';
    this.setUnavailable('send', `cannot send to ${MDNS_GROUP}:${this.mdnsPort} (${err.code ?? err.message}): ${hint}`);
  }

  private noteError(reason: string, err: Error): void {
    this.count(reason);
    this.lastError = err.message;
  }

  /** One clear log line per new reason; repeats of the same reason stay quiet. */
  private setUnavailable(source: UnavailableSource, reason: string): void {
    if (this.unavailable?.reason === reason) return;
    // A lasting cause (no interface, no socket) is not replaced by a passing one.
    if (this.unavailable && LASTING.includes(this.unavailable.source) && !LASTING.includes(source)) return;
    this.unavailable = { source, reason };
    const what = source === 'loopback' ? 'finds nodes on this host only' : 'cannot find other nodes';
    this.context.log.warn({ mode: this.mode, reason }, `multicast discovery (CLUSTER_DISCOVERY_TYPE=epmd) ${what}: ${reason}`);
  }

  private clearUnavailable(source: UnavailableSource): void {
    if (this.unavailable?.source !== source) return;
    this.unavailable = null;
    this.context.log.info({ mode: this.mode }, 'multicast discovery works again');
  }

  private count(reason: string): void {
    this.failures[reason] = (this.failures[reason] ?? 0) + 1;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.noteError('malformed', err as Error);
      this.context.log.debug({ err: (err as Error).message }, 'an mDNS packet could not be handled; dropped');
    }
  }
}

export function createMulticastDiscovery(context: DiscoveryContext): Discovery {
  return new MulticastDiscovery(context);
}
