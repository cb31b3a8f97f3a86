/**
 * The socket shell of dns discovery: asks one question and returns what came
 * back as data (`QueryOutcome`); it never throws and never rejects.
 *
 * One question goes to the servers in turn, starting with the last one that
 * gave a usable answer (so a dead first server costs one timeout once, not on
 * every query), for at least MIN_ATTEMPTS tries (so a lone server gets a
 * second chance after a lost datagram). Each try is a fresh connected UDP
 * socket (a random source port, and ICMP "port unreachable" surfaces as
 * ECONNREFUSED at once instead of a timeout) with a random id; datagrams that
 * are not the response to this id and question are ignored. A response with
 * the TC bit is asked again over TCP to the same server (2-byte length
 * prefix); if that fails too, the try fails as `truncated`. NOERROR and
 * NXDOMAIN are final answers; SERVFAIL, REFUSED and other codes move on to
 * the next server, and the last outcome is returned when every try failed.
 *
 * Queries carry an EDNS(0) OPT record. A server that answers one with FORMERR
 * or NOTIMP may not implement EDNS (RFC 6891 §7): the same server is asked
 * once more without OPT, within the same try. When that plain query gets
 * another answer, the server is remembered as one that takes plain queries
 * only (while it stays in the server list), so later queries skip the
 * wasted round trip.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, connect as connectTcp } from 'node:net';
import type { DnsFailureReason, QueryOutcome } from './dns-answer.js';
import { encodeQuery, frameForTcp, readResponse, takeTcpFrame, type DnsMessage, type DnsQuestion } from './dns-message.js';
import { formatDnsServer, type DnsServer } from './dns-servers.js';

/** Per try (UDP, and the TCP retry separately), ms: a loaded resolver answers in well under a second. */
export const DEFAULT_DNS_TIMEOUT_MS = 2000;
/** Tries per question when there are fewer servers than this. */
export const MIN_ATTEMPTS = 2;
/** The largest DNS message over TCP (a 16-bit length). */
const MAX_TCP_MESSAGE_BYTES = 65535;

export interface DnsClientOptions {
  /** Per try, ms. @default DEFAULT_DNS_TIMEOUT_MS */
  timeoutMs?: number;
}

export interface DnsClientStats {
  /** DNS messages sent, over UDP and TCP. */
  sent: number;
  /** UDP answers that came back truncated and were asked again over TCP. */
  tcpFallbacks: number;
  /** Datagrams ignored because they were not the response to our query. */
  strays: number;
  /** FORMERR/NOTIMP answers to a query with EDNS, asked again without it. */
  ednsFallbacks: number;
}

type TryResult = { kind: 'message'; message: DnsMessage } | { kind: 'truncated' } | { kind: 'failed'; reason: DnsFailureReason; detail: string };

export class DnsClient {
  private servers: DnsServer[] = [];
  private preferred = 0;
  private readonly timeoutMs: number;
  readonly stats: DnsClientStats = { sent: 0, tcpFallbacks: 0, strays: 0, ednsFallbacks: 0 };
  /** Servers (`host:port`) that answered FORMERR/NOTIMP with EDNS and something else without it. */
  private readonly withoutEdns = new Set<string>();

  constructor(options: DnsClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  }

  /** Replaces the server list; the preferred server is kept when it is still listed. */
  setServers(servers: readonly DnsServer[]): void {
    const current = this.servers[this.preferred];
    this.servers = [...servers];
    const kept = current ? this.servers.findIndex((s) => s.host === current.host && s.port === current.port) : -1;
    this.preferred = Math.max(kept, 0);
    const listed = new Set(this.servers.map(formatDnsServer));
    for (const name of this.withoutEdns) if (!listed.has(name)) this.withoutEdns.delete(name);
  }

  getServers(): DnsServer[] {
    return [...this.servers];
  }

  async query(question: DnsQuestion, signal?: AbortSignal): Promise<QueryOutcome> {
    const servers = this.servers;
    if (servers.length === 0) return { ok: false, reason: 'unreachable', detail: 'no DNS server to ask' };
    const attempts = Math.max(servers.length, MIN_ATTEMPTS);
    const start = this.preferred;
    let last: QueryOutcome = { ok: false, reason: 'error', detail: 'not asked' };
    for (let i = 0; i < attempts; i++) {
      if (signal?.aborted) return { ok: false, reason: 'aborted', detail: 'discovery closed' };
      const index = (start + i) % servers.length;
      const server = servers[index]!;
      last = await this.ask(server, question, signal);
      if (last.ok && (last.message.rcode === 'NOERROR' || last.message.rcode === 'NXDOMAIN')) {
        if (this.servers === servers) this.preferred = index;
        return last;
      }
    }
    return last;
  }

  /** One try at one server: with EDNS, and once more without it after FORMERR/NOTIMP. */
  private async ask(server: DnsServer, question: DnsQuestion, signal?: AbortSignal): Promise<QueryOutcome> {
    const name = formatDnsServer(server);
    const plainOnly = this.withoutEdns.has(name);
    const first = await this.askOnce(server, question, !plainOnly, signal);
    if (plainOnly || !rejectsEdns(first)) return first;
    this.stats.ednsFallbacks++;
    const plain = await this.askOnce(server, question, false, signal);
    if (plain.ok && !rejectsEdns(plain)) this.withoutEdns.add(name);
    return plain;
  }

  private async askOnce(server: DnsServer, question: DnsQuestion, edns: boolean, signal?: AbortSignal): Promise<QueryOutcome> {
    const name = formatDnsServer(server);
    const id = randomInt(0, 65536);
    const query = encodeQuery(id, question, { edns });
    const udp = await this.exchangeUdp(server, query, id, question, signal);
    if (udp.kind === 'message') return { ok: true, message: udp.message, server: name, transport: 'udp' };
    if (udp.kind === 'failed') return { ok: false, reason: udp.reason, detail: `${udp.detail} (${name})` };
    this.stats.tcpFallbacks++;
    const tcp = await this.exchangeTcp(server, query, id, question, signal);
    if (tcp.kind === 'message') return { ok: true, message: tcp.message, server: name, transport: 'tcp' };
    const detail = tcp.kind === 'truncated' ? 'truncated over TCP too' : tcp.detail;
    return { ok: false, reason: tcp.kind === 'failed' && tcp.reason === 'aborted' ? 'aborted' : 'truncated', detail: `UDP answer truncated and the TCP retry failed: ${detail} (${name})` };
  }

  private exchangeUdp(server: DnsServer, query: Buffer, id: number, question: DnsQuestion, signal?: AbortSignal): Promise<TryResult> {
    return new Promise((resolve) => {
      const socket = createSocket(isIP(stripZone(server.host)) === 6 ? 'udp6' : 'udp4');
      const finish = settleOnce(resolve, () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        try {
          socket.close();
        } catch {
          // already closed
        }
      });
      const onAbort = () => finish({ kind: 'failed', reason: 'aborted', detail: 'discovery closed' });
      const timer = setTimeout(() => finish({ kind: 'failed', reason: 'timeout', detail: `no answer within ${this.timeoutMs} ms` }), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'failed', reason: 'unreachable', detail: err.code ?? err.message }));
      socket.on('message', (bytes: Buffer) => {
        const verdict = readResponse(bytes, id, question);
        if (verdict.kind === 'stray') {
          this.stats.strays++;
          return;
        }
        if (verdict.kind === 'malformed') finish({ kind: 'failed', reason: 'malformed', detail: verdict.detail });
        else finish(verdict);
      });
      try {
        socket.connect(server.port, server.host, () => {
          this.stats.sent++;
          socket.send(query, (err) => err && finish({ kind: 'failed', reason: 'unreachable', detail: (err as NodeJS.ErrnoException).code ?? err.message }));
        });
      } catch (err) {
        finish({ kind: 'failed', reason: 'unreachable', detail: err instanceof Error ? err.message : String(err) });
      }
    });
  }

  private exchangeTcp(server: DnsServer, query: Buffer, id: number, question: DnsQuestion, signal?: AbortSignal): Promise<TryResult> {
    return new Promise((resolve) => {
      let buffered = Buffer.alloc(0);
      const socket = connectTcp({ host: server.host, port: server.port });
      const finish = settleOnce(resolve, () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
      });
      const onAbort = () => finish({ kind: 'failed', reason: 'aborted', detail: 'discovery closed' });
      const timer = setTimeout(() => finish({ kind: 'failed', reason: 'timeout', detail: `no TCP answer within ${this.timeoutMs} ms` }), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.setNoDelay(true);
      socket.on('connect', () => {
        this.stats.sent++;
        socket.write(frameForTcp(query));
      });
      socket.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'failed', reason: 'unreachable', detail: `TCP ${err.code ?? err.message}` }));
      socket.on('close', () => finish({ kind: 'failed', reason: 'malformed', detail: 'TCP connection closed before a whole answer' }));
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        // Whole frame first: bytes after a complete answer (even a maximum-size one) are not ours to judge.
        const taken = takeTcpFrame(buffered);
        if (!taken) {
          if (buffered.length > MAX_TCP_MESSAGE_BYTES + 2) finish({ kind: 'failed', reason: 'malformed', detail: 'TCP answer longer than a DNS message' });
          return;
        }
        const verdict = readResponse(taken.frame, id, question);
        if (verdict.kind === 'message' || verdict.kind === 'truncated') finish(verdict);
        else finish({ kind: 'failed', reason: 'malformed', detail: verdict.kind === 'stray' ? `TCP answer is not ours: ${verdict.why}` : verdict.detail });
      });
    });
  }
}

/** FORMERR or NOTIMP: what a server without EDNS may answer to a query with OPT. */
function rejectsEdns(outcome: QueryOutcome): boolean {
  return outcome.ok && (outcome.message.rcode === 'FORMERR' || outcome.message.rcode === 'NOTIMP');
}

function settleOnce<T>(resolve: (value: T) => void, cleanup: () => void): (value: T) => void {
  let settled = false;
  return (value: T) => {
    if (settled) return;
    settled = true;
    cleanup();
    resolve(value);
  };
}

function stripZone(host: string): string {
  return host.split('%')[0] ?? host;
}
