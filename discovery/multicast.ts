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
 *   with a new TXT (a restart: new `gen`) as an update;
 * - forgets an instance unheard for much longer, or the least recently heard
 *   one that proposes nothing when the table is full, and prunes the
 *   browser's cache to the table, so a forgotten or refused instance is
 *   reported as new when it announces again and no map grows without bound.
 *
 * Publishing is done here, not by bonjour-service's registry: its
 * re-announcement timers outlive `destroy()`. This module registers the
 * records with the library's responder, announces at 0, 1, 3 and 7 s (RFC
 * 6762 §8.3), and clears its timers on close, after the goodbye.
 *
 * Failure is data, never a crash. The socket's errors are handled here
 * (bonjour-service would leave them unhandled, which kills the process); a
 * packet that cannot be decoded or breaks the library's parsing is dropped
 * and counted as `foreign-undecodable` (any device on the LAN may send one:
 * not an error of this node). When the group cannot be used at all (no
 * interface, bind or join refused, joined on loopback only, no route for
 * multicast) the node says so in one log line and in `state().unavailable`,
 * and keeps running with its other discovery modes. A bind that is merely
 * slow is waited for in the background. A network that silently drops
 * multicast is told by silence: no packet from any other host for
 * `MULTICAST_SILENT_AFTER_QUERIES` query periods sets `lastError` (logged
 * once) until one arrives. `lastError` otherwise clears after a query is
 * sent and a response comes back.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import Bonjour from 'bonjour-service';
import { AbortError } from '../lib/errors.js';
import { PROTOCOL_VERSION } from '../lib/transport/handshake.js';
import type { Candidate, Discovery, DiscoveryState } from './discovery.js';
import type { DiscoveryContext } from './index.js';
import { announcementTxt, describeAnnouncement, instanceName, judgeAnnouncement, SERVICE_DOMAIN, SERVICE_TYPE, type LocalNode } from './multicast-announcement.js';
import { OtherHostsWatch } from './multicast-health.js';
import { InstanceTable } from './multicast-instances.js';
import { chooseMulticastInterface, localAddresses, membershipTargets, reachesOtherHosts, readMulticastCapable, type InterfaceChoice, type InterfaceTable } from './multicast-interface.js';
import {
  guardedSocket,
  guardListeners,
  Memberships,
  pruneBrowserCache,
  sendOnEachInterface,
  socketOptions,
  waitForBind,
  type MdnsRecord,
  type MulticastDns,
  type SendingMdns,
} from './multicast-socket.js';

/** The mDNS group and port (RFC 6762). */
export const MDNS_GROUP = '224.0.0.251';
export const MDNS_PORT = 5353;
/** Steady re-query period, ms. Shorter finds a missed node sooner; each query draws one answer from every node (N² packets per period on the LAN). */
export const MULTICAST_QUERY_INTERVAL_MS = 10_000;
/** First re-query after start, ms; doubles up to MULTICAST_QUERY_INTERVAL_MS. */
export const MULTICAST_FIRST_REQUERY_MS = 1000;
/** An instance unheard for this many query intervals is no longer a candidate (30 s by default). */
export const MULTICAST_STALE_AFTER_QUERIES = 3;
/** A stale instance is forgotten after this many more stale periods (so after 150 s unheard by default). */
export const MULTICAST_FORGET_AFTER_STALE_PERIODS = 4;
/** No packet from any other host for this many query intervals: say that multicast may be filtered (30 s by default). */
export const MULTICAST_SILENT_AFTER_QUERIES = 3;
/** Longest wait for the socket to bind before start() returns, ms (the bind is still awaited in the background). */
export const MULTICAST_BIND_TIMEOUT_MS = 3000;
/** Longest wait for the goodbye to be sent on close, ms. */
export const MULTICAST_GOODBYE_TIMEOUT_MS = 1000;
/** Period of joining the group on interfaces not joined yet (a refused join, an interface that came up), ms. */
export const MULTICAST_JOIN_RETRY_MS = 5000;
/** Gaps between the unsolicited announcements after the first, ms (RFC 6762 §8.3: at least two, one second apart, then growing). */
export const MULTICAST_ANNOUNCE_GAPS_MS: readonly number[] = [1000, 2000, 4000];
/** Instances remembered (a hostile LAN cannot grow memory past this). */
export const MAX_INSTANCES = 1024;
/** Raw records kept for diagnosis (one per instance, newest last). */
export const MAX_RECORDS = 64;
/** Instances heard of and not proposed shown in `state().rejected` (most recently heard). */
export const MAX_REJECTED = 100;

export interface MulticastOptions {
  /** @default MULTICAST_QUERY_INTERVAL_MS */
  queryIntervalMs?: number;
  /** @default MULTICAST_FIRST_REQUERY_MS */
  firstRequeryMs?: number;
  /** @default MULTICAST_STALE_AFTER_QUERIES */
  staleAfterQueries?: number;
  /** UDP port of the mDNS group; tests may isolate themselves on another. @default MDNS_PORT */
  mdnsPort?: number;
  /** @default MULTICAST_BIND_TIMEOUT_MS */
  bindTimeoutMs?: number;
  /** @default MAX_INSTANCES */
  maxInstances?: number;
  /** The interface table (tests). @default os.networkInterfaces */
  interfaces?: () => InterfaceTable;
  /** Whether an interface can carry multicast (tests). @default readMulticastCapable */
  multicastCapable?: (name: string) => boolean;
  /** Creates the UDP socket (tests). @default a udp4 socket with SO_REUSEADDR */
  createSocket?: () => Socket;
}

interface BrowsedService {
  fqdn: string;
  txt?: unknown;
  ttl?: number;
  referer?: { address: string };
}

/** bonjour-service's responder: the records it answers queries with. */
interface Responder {
  mdns: MulticastDns & SendingMdns;
  register(records: MdnsRecord[]): void;
  unregister(records: MdnsRecord[]): void;
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
  private responder: Responder | undefined;
  private memberships: Memberships | undefined;
  private readonly joinErrors = new Map<string, string>();
  private browser: { stop(): void } | undefined;
  private published: MdnsRecord[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private joinTimer: NodeJS.Timeout | undefined;
  private announceTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private nextRequeryMs: number;
  private unavailable: { source: UnavailableSource; reason: string } | null = null;
  private bound = false;
  private watch: OtherHostsWatch | undefined;
  private silenceLogged = false;
  private lastPollAt: number | null = null;
  private lastError: string | null = null;
  /** A query went out since the last response: the next response completes a cycle. */
  private queryOut = false;
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
    this.instances = new InstanceTable({ staleAfterMs, forgetAfterMs: staleAfterMs * (1 + MULTICAST_FORGET_AFTER_STALE_PERIODS), maxInstances: options.maxInstances ?? MAX_INSTANCES, maxRecords: MAX_RECORDS });
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
      rejected: this.instances.rejected(this.mode, MAX_REJECTED),
      unavailable: this.unavailable?.reason ?? null,
      lastPollAt: this.lastPollAt,
      lastError: [this.watch?.reason(), this.lastError].filter(Boolean).join('; ') || null,
      queries: this.queries,
      failures: { ...this.failures },
    };
  }

  /** Sends the goodbye (TTL 0 for our records), stops browsing, closes the socket. */
  async close(): Promise<void> {
    this.closing ??= this.end();
    return this.closing;
  }

  private readInterfaces(): InterfaceTable {
    return (this.options.interfaces ?? networkInterfaces)() as InterfaceTable;
  }

  private async begin(signal: AbortSignal | undefined): Promise<void> {
    const choice = chooseMulticastInterface(this.context.config.multicastInterface, this.readInterfaces(), this.options.multicastCapable ?? readMulticastCapable);
    if (choice.kind === 'unavailable') {
      this.setUnavailable('interface', choice.reason);
      return;
    }
    if (choice.kind === 'loopback-fallback') this.setUnavailable('loopback', choice.reason);

    const socket = (this.options.createSocket ?? (() => createSocket({ type: 'udp4', reuseAddr: true })))();
    const bonjour = new Bonjour(socketOptions(socket, this.mdnsPort) as object, (err: Error) => this.onSendError(err));
    this.bonjour = bonjour;
    // bonjour-service keeps its multicast-dns socket private and does not
    // listen for its 'error' event, which would then crash the node.
    const responder = (bonjour as unknown as { server?: Responder }).server;
    const mdns = responder?.mdns;
    if (!responder || !mdns || typeof mdns.on !== 'function' || typeof responder.register !== 'function') {
      this.setUnavailable('bind', 'bonjour-service has no multicast-dns socket where this module expects it (library version changed?)');
      return;
    }
    this.responder = responder;
    mdns.on('error', (err: Error) => {
      this.noteError('socket', err);
      if (!this.bound) this.setUnavailable('bind', `cannot bind UDP port ${this.mdnsPort} for mDNS on ${choice.label}: ${err.message}`);
    });
    mdns.on('warning', (err: Error & { syscall?: string }) => this.onWarning(err));
    socket.on('message', (_message: Buffer, rinfo: { address: string }) => this.onDatagram(rinfo.address));
    // The library's own responder must not be able to throw out of a socket callback either.
    guardListeners(mdns, 'query', (fn) => this.guard(fn));

    const bindTimeoutMs = this.options.bindTimeoutMs ?? MULTICAST_BIND_TIMEOUT_MS;
    const bound = await waitForBind(mdns, bindTimeoutMs, signal);
    if (bound.kind === 'aborted') {
      await this.teardown();
      throw new AbortError('multicast discovery start');
    }
    if (this.closing) return;
    if (bound.kind === 'error') return; // the 'error' listener said why
    if (bound.kind === 'timeout') {
      // Slow, not refused: finish the setup when the socket is ready.
      this.setUnavailable('bind', `cannot bind UDP port ${this.mdnsPort} for mDNS on ${choice.label}: ${bound.reason} (still waiting)`);
      mdns.once('ready', () => {
        if (this.closing) return;
        this.clearUnavailable('bind');
        if (choice.kind === 'loopback-fallback') this.setUnavailable('loopback', choice.reason);
        void this.afterBind(choice, mdns, socket);
      });
      return;
    }
    await this.afterBind(choice, mdns, socket);
  }

  /** The socket is bound: memberships, announcements, browsing, re-queries. */
  private async afterBind(choice: Exclude<InterfaceChoice, { kind: 'unavailable' }>, mdns: MulticastDns & SendingMdns, socket: Socket): Promise<void> {
    this.bound = true;
    try {
      socket.setMulticastTTL(255);
      socket.setMulticastLoopback(true);
      const sendOn = choice.kind === 'interfaces' ? choice.interfaces.map((i) => i.address) : choice.kind === 'loopback-fallback' ? [choice.address] : [];
      if (sendOn.length === 1) socket.setMulticastInterface(sendOn[0]!);
      else if (sendOn.length > 1) sendOnEachInterface(mdns, socket, sendOn, (address, err) => this.noteError('send', new Error(`send on ${address}: ${err.message}`)));
    } catch (err) {
      this.noteError('socket', err as Error);
    }

    this.memberships = new Memberships(socket, MDNS_GROUP);
    this.updateMemberships(choice);
    this.joinTimer = setInterval(() => this.updateMemberships(choice), MULTICAST_JOIN_RETRY_MS);
    this.joinTimer.unref();
    if (!this.memberships.any) {
      this.setUnavailable('join', `cannot join multicast group ${MDNS_GROUP} on ${choice.label}: ${this.lastError ?? 'no interface accepted the membership'}`);
    } else if (reachesOtherHosts(choice) && !this.memberships.external) {
      this.setUnavailable('join', `joined multicast group ${MDNS_GROUP} on loopback only, every other interface refused (${this.lastError ?? 'unknown error'}): only nodes on this host can be found`);
    }
    if (reachesOtherHosts(choice)) {
      this.watch = new OtherHostsWatch(MULTICAST_SILENT_AFTER_QUERIES * this.queryIntervalMs, performance.now(), localAddresses(this.readInterfaces()));
      this.context.log.info({ interface: choice.label, instance: this.instance }, `multicast discovery announcing ${this.local.name} on ${choice.label}`);
    }

    mdns.on('response', (packet: { answers?: MdnsRecord[]; additionals?: MdnsRecord[] }) => this.guard(() => this.onResponse(packet)));
    try {
      this.publish();
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
    await Promise.race([this.firstQuery, new Promise<void>((resolve) => (this.startTimer = setTimeout(resolve, MULTICAST_BIND_TIMEOUT_MS)))]);
    clearTimeout(this.startTimer);
  }

  /** Joins where not joined yet; clears a join problem once joins hold where they must. */
  private updateMemberships(choice: Exclude<InterfaceChoice, { kind: 'unavailable' }>): void {
    if (!this.memberships || this.closing) return;
    const table = this.readInterfaces();
    const capable = this.options.multicastCapable ?? readMulticastCapable;
    const targets = membershipTargets(choice, table).filter((t) => choice.kind !== 'all' || t.loopback || capable(t.name));
    const report = this.memberships.join(targets);
    for (const { target, error } of report.failed) {
      const message = `join ${MDNS_GROUP} on ${target.name} ${target.address}: ${error}`;
      if (this.joinErrors.get(target.address) === message) continue; // said already
      this.joinErrors.set(target.address, message);
      this.lastError = message;
      this.context.log.debug({ interface: target.name, address: target.address, err: error }, 'multicast group join refused');
    }
    for (const target of report.joined) this.joinErrors.delete(target.address);
    if (report.joined.length > 0 && this.unavailable?.source === 'join' && (reachesOtherHosts(choice) ? this.memberships.external : this.memberships.any)) this.clearUnavailable('join');
    this.watch?.setLocalAddresses(localAddresses(table));
  }

  /** Registers our records with the library's responder and announces them (at 0 s, then after each gap). */
  private publish(): void {
    const service = new Bonjour.Service({ name: this.instance, type: SERVICE_TYPE, port: this.local.port, txt: announcementTxt(this.local), probe: false }, () => {}, () => {});
    const records = service.records() as MdnsRecord[];
    this.responder!.register(records);
    this.published = records;
    this.announce(0);
  }

  private announce(step: number): void {
    const mdns = this.responder?.mdns;
    if (!mdns || !this.published || this.closing) return;
    mdns.respond(this.published, (err) => err && this.onSendError(err));
    const gap = MULTICAST_ANNOUNCE_GAPS_MS[step];
    if (gap === undefined) return;
    this.announceTimer = setTimeout(() => this.announce(step + 1), gap);
    this.announceTimer.unref();
  }

  private async end(): Promise<void> {
    await this.starting?.catch(() => {});
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    clearTimeout(this.timer);
    clearTimeout(this.announceTimer);
    clearTimeout(this.startTimer);
    clearInterval(this.joinTimer);
    this.browser?.stop();
    this.browser = undefined;
    const bonjour = this.bonjour;
    const responder = this.responder;
    const published = this.published;
    this.bonjour = undefined;
    this.responder = undefined;
    this.published = undefined;
    if (!bonjour) return;
    if (responder && published) {
      responder.unregister(published);
      // The goodbye names our instance only: the host's A records and the
      // service-type enumeration are shared with the other nodes of this host.
      const fqdn = `${this.instance}.${SERVICE_DOMAIN}`.toLowerCase();
      const goodbye = published.filter((r) => r.name.toLowerCase() === fqdn || (typeof r.data === 'string' && r.data.toLowerCase() === fqdn)).map((r) => ({ ...r, ttl: 0 }));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, MULTICAST_GOODBYE_TIMEOUT_MS);
        responder.mdns.respond(goodbye, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.memberships?.dropAll();
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
  }

  /** Sends one query; the promise settles when the socket has sent it or failed to. */
  private sendQuery(name: string = SERVICE_DOMAIN, type = 'PTR'): Promise<void> {
    const mdns = this.responder?.mdns;
    if (!mdns || this.closing) return Promise.resolve();
    this.queries++;
    this.lastPollAt = Date.now();
    const sent = new Promise<void>((resolve) =>
      mdns.query(name, type, (err) => {
        if (err) this.onSendError(err);
        else {
          this.queryOut = true;
          if (this.unavailable?.source === 'send') this.clearUnavailable('send');
        }
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
      this.tick();
      void this.sendQuery();
      this.nextRequeryMs = Math.min(this.nextRequeryMs * 2, this.queryIntervalMs);
      this.scheduleRequery();
    }, this.nextRequeryMs * jitter);
    this.timer.unref();
  }

  /** Housekeeping before each re-query: staleness, forgetting, the browser's cache, silence. */
  private tick(): void {
    const now = performance.now();
    const { changed } = this.instances.expire(now);
    this.pruneBrowser();
    if (changed) this.emitIfChanged();
    if (this.watch?.check(now)) {
      const reason = this.watch.reason();
      const fields = { mode: this.mode, reason };
      if (this.silenceLogged) this.context.log.debug(fields, `multicast discovery: ${reason}`);
      else this.context.log.warn(fields, `multicast discovery (CLUSTER_DISCOVERY_TYPE=epmd) may find no other node: ${reason}`);
      this.silenceLogged = true;
    }
  }

  /** The browser forgets what the table does not hold (forgotten, evicted, refused), so it reports it as new when it announces again. */
  private pruneBrowser(): void {
    if (this.browser) pruneBrowserCache(this.browser, (fqdn) => this.instances.has(fqdn));
  }

  /** Any datagram (decodable or not): a source that is not this host proves multicast from other hosts arrives. */
  private onDatagram(address: string): void {
    if (this.watch?.packet(address, performance.now())) this.context.log.info({ mode: this.mode, from: address }, 'multicast discovery hears other hosts again');
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
    if (heard) {
      this.lastPollAt = Date.now();
      if (this.queryOut) {
        // A query went out and an answer came back: whatever failed before works now.
        this.queryOut = false;
        this.lastError = null;
      }
    }
    if (revived) this.emitIfChanged();
  }

  private onAnnouncement(service: BrowsedService): void {
    if (typeof service?.fqdn !== 'string') return this.count('malformed');
    const sender = service.referer?.address;
    const verdict = judgeAnnouncement(service.txt, this.local, this.mode, sender);
    const record = { source: this.mode, type: 'announcement', name: service.fqdn, ...(service.ttl === undefined ? {} : { ttl: service.ttl }), data: describeAnnouncement(service.txt, sender, verdict) };
    const outcome = this.instances.announce(service.fqdn, verdict, performance.now(), record);
    if (!outcome.accepted) {
      this.count('too-many-instances');
      this.pruneBrowser(); // so that its next announcement is considered again
      return;
    }
    if (outcome.evicted !== undefined) this.pruneBrowser();
    this.lastPollAt = Date.now();
    if (verdict.kind === 'ignored' && outcome.verdictChanged) {
      this.count(verdict.reason);
      const fields = { instance: service.fqdn, reason: verdict.reason, from: sender };
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

  private onWarning(err: Error & { syscall?: string }): void {
    if (err.syscall) return this.noteError('socket', err);
    // multicast-dns reports a datagram it cannot decode as a warning without
    // syscall: any device on the LAN may send one; not an error of this mode.
    this.count('foreign-undecodable');
    this.context.log.debug({ err: err.message }, 'an undecodable mDNS packet was dropped');
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

  /** A packet that breaks the library's parsing (or ours) is dropped and counted, never thrown. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.count('foreign-undecodable');
      this.context.log.debug({ err: (err as Error).message }, 'an mDNS packet could not be handled; dropped');
    }
  }
}

export function createMulticastDiscovery(context: DiscoveryContext): Discovery {
  return new MulticastDiscovery(context);
}
