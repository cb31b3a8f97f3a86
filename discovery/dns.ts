/**
 * DNS discovery (`CLUSTER_DISCOVERY_TYPE=dns`): polls the SRV records of
 * CLUSTER_DNS_HOSTNAME, or its A/AAAA records when it has no SRV (a
 * Kubernetes headless service), and proposes the addresses it finds.
 *
 * The mechanism is split in three: `DnsLookup` (dns-answer.ts) is one poll
 * as a pure state machine that says which questions to ask and what the
 * answers mean; `DnsClient` (dns-client.ts) asks one question over UDP, TCP
 * on truncation, and the next server on timeout; this file runs a poll every
 * `pollIntervalMs` (the first at start) and applies the shrink rule of
 * `nextCandidates`: only a complete answer removes candidates, so timeouts,
 * server outages, truncated or malformed answers, NXDOMAIN and empty answers
 * keep the last good set.
 *
 * Failure handling: nothing here throws to the caller and `start()` never
 * rejects for a lookup failure (only for an abort of its own signal). Each
 * failed or partial poll increments `failures[reason]` and sets `lastError`;
 * a change of error is logged once (warn), and the recovery once (info), so a
 * name that does not resolve for an hour costs one log line, not 720.
 * A throw inside a poll (a defect) ends that poll as an `error` failure,
 * logged once with its stack, and a poll still running after
 * `pollDeadlineMs` ends as a `timeout` failure (`driveLookup`), so a poll
 * always settles and `close()` never waits on a stuck one.
 * Polling never stops before `close()`: a name that is not resolvable yet at
 * start-up, or a node that dropped out of DNS and came back, is found on a
 * later poll. The servers come from CLUSTER_DNS_SERVER, else from
 * /etc/resolv.conf, which is read again before each poll (it may be written
 * after the node starts, as in some container runtimes).
 *
 * Search domains: when the servers are not CLUSTER_DNS_SERVER's (they come
 * from resolv.conf, or are its default), resolv.conf's `search` and `ndots`
 * apply to CLUSTER_DNS_HOSTNAME as in the C resolver (`searchNames`), so the
 * relative `_cluster._tcp.troupe` works in a Kubernetes pod. With
 * CLUSTER_DNS_SERVER the name is asked as it is: that server need not serve
 * the search domains of this machine. A trailing dot is never searched.
 *
 * Node names: a candidate found through SRV is named after its target host
 * (`n1.troupe.default.svc.cluster.local`), its address is `<target's
 * address>:<SRV port>`; a candidate found through A/AAAA has no name. The
 * name is a hint only: the transport handshake learns each node's real
 * NODE_NAME, and membership keys on that.
 */
import { readFile } from 'node:fs/promises';
import { AbortError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Candidate, Discovery, DiscoveryRecord, DiscoveryState } from './discovery.js';
import type { DiscoveryContext } from './index.js';
import { DnsLookup, nextCandidates, sameCandidates, type DnsFailureReason, type DnsLookupInput, type DnsLookupReady, type LookupVerdict, type QueryOutcome } from './dns-answer.js';
import { DnsClient, DEFAULT_DNS_TIMEOUT_MS } from './dns-client.js';
import type { DnsQuestion } from './dns-message.js';
import { chooseDnsServers, formatDnsServer, parseDnsServers, parseResolvConf, parseResolvSearch, searchNames, type DnsServer } from './dns-servers.js';

/** Questions of one poll in flight at once (target resolutions when the server sends no additionals). */
export const DEFAULT_DNS_CONCURRENCY = 8;
/** How long `start()` waits for the first poll before it returns (the poll goes on), ms. */
export const DEFAULT_START_WAIT_MS = 3000;
/** Least gap between the end of a poll and the start of the next, ms, when polls take longer than the interval. */
const MIN_POLL_GAP_MS = 100;
/**
 * The watchdog of one poll, ms: a poll still running then ends as a `timeout`
 * failure and the next is scheduled. Far above what a poll takes when
 * servers time out (each try is bounded by `timeoutMs`); it exists so that
 * no defect can stop polling for good.
 */
export const DEFAULT_POLL_DEADLINE_MS = 60_000;

export interface DnsDiscoveryOptions {
  /** SRV (or A/AAAA) name to poll. (CLUSTER_DNS_HOSTNAME) */
  hostname: string;
  /** `host[:port]` entries; empty means the nameservers of `resolvConfPath`. (CLUSTER_DNS_SERVER) */
  servers?: readonly string[];
  /** ms between the starts of two polls. @default 5000 (CLUSTER_DNS_POLL_INTERVAL) */
  pollIntervalMs: number;
  /** Port of candidates found through A/AAAA records of the name itself. (CLUSTER_PORT) */
  fallbackPort: number;
  log: Logger;
  /** Per try, ms. @default DEFAULT_DNS_TIMEOUT_MS */
  timeoutMs?: number;
  /** @default '/etc/resolv.conf' */
  resolvConfPath?: string;
  /** @default DEFAULT_START_WAIT_MS */
  startWaitMs?: number;
  /** @default DEFAULT_DNS_CONCURRENCY */
  concurrency?: number;
  /** Watchdog of one poll, ms. @default DEFAULT_POLL_DEADLINE_MS */
  pollDeadlineMs?: number;
}

/** The last answer that changed or confirmed the candidate set. */
export interface DnsAnswerSummary {
  /** Wall-clock ms. */
  at: number;
  /** The name that answered: CLUSTER_DNS_HOSTNAME, or it with a search domain. */
  name: string;
  complete: boolean;
  via: 'srv' | 'address';
  /** `tcp` when some answer of the poll came over TCP after a truncated UDP answer. */
  transport: 'udp' | 'tcp';
  candidates: number;
}

/** The last poll that failed: why, and the records it did get (the good ones stay in `records`). */
export interface DnsFailedAnswer {
  /** Wall-clock ms. */
  at: number;
  reason: DnsFailureReason;
  detail: string;
  /** Records the failed poll got before it failed (e.g. an SRV answer whose targets did not resolve); often none. */
  records: DiscoveryRecord[];
}

export interface DnsDiscoveryState extends DiscoveryState {
  hostname: string;
  /** Servers asked, `host:port`, and where they came from. */
  servers: string[];
  serversFrom: 'CLUSTER_DNS_SERVER' | 'resolv.conf' | 'default';
  /** The names each poll tries, in order: the hostname, with resolv.conf's search domains unless CLUSTER_DNS_SERVER is set. */
  names: string[];
  polls: number;
  /** Truncated UDP answers asked again over TCP. */
  tcpFallbacks: number;
  /** FORMERR/NOTIMP answers to a query with EDNS, asked again without it. */
  ednsFallbacks: number;
  lastAnswer: DnsAnswerSummary | null;
  /** The last failed poll, kept after a recovery (compare `at` with `lastAnswer.at`); null before any failure. */
  lastFailedAnswer: DnsFailedAnswer | null;
}

export class DnsDiscovery implements Discovery {
  readonly mode = 'dns';
  private readonly client: DnsClient;
  private readonly configured: DnsServer[];
  private serversFrom: DnsDiscoveryState['serversFrom'] = 'default';
  private names: string[];
  private readonly log: Logger;
  private readonly listeners: Array<(candidates: Candidate[]) => void> = [];
  private readonly closing = new AbortController();
  private current: readonly Candidate[] = [];
  private records: DiscoveryRecord[] = [];
  private readonly failures: Record<string, number> = {};
  private lastError: string | null = null;
  private lastPollAt: number | null = null;
  private lastAnswer: DnsAnswerSummary | null = null;
  private lastFailedAnswer: DnsFailedAnswer | null = null;
  private polls = 0;
  private internalErrorLogged = false;
  private started = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly firstPoll: Promise<void>;
  private firstPollDone!: () => void;

  constructor(private readonly options: DnsDiscoveryOptions) {
    this.log = options.log;
    this.client = new DnsClient({ timeoutMs: options.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS });
    const { servers, invalid } = parseDnsServers(options.servers ?? []);
    if (invalid.length > 0) this.log.warn({ invalid }, `ignoring CLUSTER_DNS_SERVER entries that are not host[:port]: ${invalid.join(', ')}`);
    this.configured = servers;
    this.names = [options.hostname];
    this.firstPoll = new Promise((resolve) => (this.firstPollDone = resolve));
  }

  /** Starts polling (the first poll now) and waits up to `startWaitMs` for it. Idempotent. */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return;
    if (!this.started) {
      this.started = true;
      if (!this.options.hostname) {
        this.lastError = 'CLUSTER_DNS_HOSTNAME is not set: nothing to poll';
        this.log.error(this.lastError);
        this.firstPollDone();
      } else {
        this.schedule(0);
      }
    }
    await this.waitForFirstPoll(options.signal);
  }

  candidates(): Candidate[] {
    return [...this.current];
  }

  onChange(listener: (candidates: Candidate[]) => void): void {
    this.listeners.push(listener);
  }

  state(): DnsDiscoveryState {
    return {
      mode: this.mode,
      candidates: this.candidates(),
      records: [...this.records],
      unavailable: this.options.hostname ? null : 'CLUSTER_DNS_HOSTNAME is not set',
      lastPollAt: this.lastPollAt,
      lastError: this.lastError,
      queries: this.client.stats.sent,
      failures: { ...this.failures },
      hostname: this.options.hostname,
      servers: this.client.getServers().map(formatDnsServer),
      serversFrom: this.serversFrom,
      names: [...this.names],
      polls: this.polls,
      tcpFallbacks: this.client.stats.tcpFallbacks,
      ednsFallbacks: this.client.stats.ednsFallbacks,
      lastAnswer: this.lastAnswer,
      lastFailedAnswer: this.lastFailedAnswer && { ...this.lastFailedAnswer, records: [...this.lastFailedAnswer.records] },
    };
  }

  /** Polls now (or waits for the poll in flight), then polls on schedule again. For tools and tests. */
  async pollNow(): Promise<void> {
    if (this.closed || !this.started || !this.options.hostname) return;
    if (this.running) return this.running;
    this.schedule(0);
    await this.running;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closing.abort();
    this.firstPollDone();
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    if (delayMs > 0) {
      this.timer = setTimeout(() => this.schedule(0), delayMs);
      return;
    }
    const startedAt = performance.now();
    this.running = this.poll().finally(() => {
      this.running = null;
      this.firstPollDone();
      const wait = Math.max(MIN_POLL_GAP_MS, startedAt + this.options.pollIntervalMs - performance.now());
      if (!this.closed && this.timer === null) this.timer = setTimeout(() => this.schedule(0), wait);
    });
  }

  private async poll(): Promise<void> {
    let verdict: LookupVerdict;
    try {
      await this.refreshServers();
      verdict = await this.lookup();
    } catch (err) {
      verdict = { ok: false, reason: 'error', detail: err instanceof Error ? err.message : String(err), records: [], usedTcp: false };
    }
    if (this.closed) return;
    try {
      this.apply(verdict);
    } catch (err) {
      this.log.error({ err }, 'dns discovery could not apply a poll result; polling goes on');
    }
  }

  /** Servers and search names for the next poll, from CLUSTER_DNS_SERVER or resolv.conf. */
  private async refreshServers(): Promise<void> {
    let resolvConf: DnsServer[] = [];
    let text = '';
    if (this.configured.length === 0) {
      const path = this.options.resolvConfPath ?? '/etc/resolv.conf';
      text = await readFile(path, 'utf8').catch(() => '');
      resolvConf = parseResolvConf(text);
    }
    const chosen = chooseDnsServers(this.configured, resolvConf);
    const names = chosen.from === 'CLUSTER_DNS_SERVER' ? [this.options.hostname] : searchNames(this.options.hostname, parseResolvSearch(text));
    if (names.join(',') !== this.names.join(',') && names.length > 1) this.log.info({ names }, `dns discovery tries ${names.join(', ')} in turn (resolv.conf search domains; end CLUSTER_DNS_HOSTNAME with a dot to ask it as it is)`);
    this.names = names.length > 0 ? names : [this.options.hostname];
    const before = this.client.getServers().map(formatDnsServer).join(',');
    this.client.setServers(chosen.servers);
    this.serversFrom = chosen.from;
    const after = chosen.servers.map(formatDnsServer).join(',');
    if (before !== after) this.log.info({ servers: after, from: chosen.from }, `dns discovery asks ${after} (from ${chosen.from}) for ${this.options.hostname}`);
  }

  /** Runs one DnsLookup to its verdict. */
  private lookup(): Promise<LookupVerdict> {
    const lookup = new DnsLookup({ name: this.options.hostname, names: this.names, fallbackPort: this.options.fallbackPort });
    return driveLookup(lookup, (question, signal) => this.client.query(question, signal), {
      concurrency: Math.max(1, this.options.concurrency ?? DEFAULT_DNS_CONCURRENCY),
      deadlineMs: this.options.pollDeadlineMs ?? DEFAULT_POLL_DEADLINE_MS,
      signal: this.closing.signal,
      onError: (err) => {
        if (this.internalErrorLogged) return;
        this.internalErrorLogged = true;
        this.log.error({ err }, 'dns discovery: internal error in a poll (counted as failures.error; polling goes on; logged once)');
      },
    });
  }

  private apply(verdict: LookupVerdict): void {
    this.polls++;
    this.lastPollAt = Date.now();
    let reason: DnsFailureReason | null = null;
    let error: string | null = null;
    if (verdict.ok) {
      this.records = verdict.records;
      this.lastAnswer = { at: this.lastPollAt, name: verdict.name, complete: verdict.complete, via: verdict.via, transport: verdict.usedTcp ? 'tcp' : 'udp', candidates: verdict.candidates.length };
      const problem = verdict.problems[0];
      if (problem) {
        reason = problem.reason;
        error = `${problem.reason}: partial answer, ${verdict.problems.length} SRV target(s) unresolved, e.g. ${problem.question.name}: ${problem.detail}`;
      }
    } else {
      reason = verdict.reason;
      error = `${verdict.reason}: ${verdict.detail}`;
      // `records` keeps the last good answer's records, the ones the candidates come from.
      this.lastFailedAnswer = { at: this.lastPollAt, reason: verdict.reason, detail: verdict.detail, records: verdict.records };
    }
    if (reason !== null) this.failures[reason] = (this.failures[reason] ?? 0) + 1;
    this.reportError(error);

    const next = nextCandidates(this.current, verdict);
    if (sameCandidates(next, this.current)) return;
    const before = new Set(this.current.map((c) => c.address));
    const after = new Set(next.map((c) => c.address));
    this.current = next;
    this.log.info(
      { candidates: next.length, added: [...after].filter((a) => !before.has(a)), removed: [...before].filter((a) => !after.has(a)) },
      `dns discovery: ${next.length} candidate(s) for ${this.options.hostname}`,
    );
    const snapshot = this.candidates();
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (err) {
        this.log.error({ err }, 'a dns discovery listener threw; the others still ran');
      }
    }
  }

  /** Logs an error once per change, and the recovery once. */
  private reportError(error: string | null): void {
    if (error === this.lastError) return;
    const previous = this.lastError;
    this.lastError = error;
    if (error !== null) {
      this.log.warn({ hostname: this.options.hostname, error, candidates: this.current.length }, `dns discovery of ${this.options.hostname} failed (${error}); keeping the ${this.current.length} known candidate(s) and polling on`);
    } else if (previous !== null) {
      this.log.info({ hostname: this.options.hostname }, `dns discovery of ${this.options.hostname} answers again`);
    }
  }

  private async waitForFirstPoll(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new AbortError('dns discovery start');
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.firstPoll,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.startWaitMs ?? DEFAULT_START_WAIT_MS))),
        new Promise<void>((_, reject) => {
          onAbort = () => reject(new AbortError('dns discovery start'));
          signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** The factory behind `CLUSTER_DISCOVERY_TYPE=dns`. */
export function createDnsDiscovery(context: DiscoveryContext): DnsDiscovery {
  const { config, log, self } = context;
  return new DnsDiscovery({
    hostname: config.dnsHostname ?? '',
    servers: config.dnsServers,
    pollIntervalMs: config.dnsPollIntervalMs,
    // CLUSTER_PORT=0 means "any free port" for this node; peers behind an A record then share ours.
    fallbackPort: config.clusterPort || self.port, // A/AAAA carry no port: a node's peers usually took the same one
    log,
  });
}

/** What `driveLookup` needs of a poll: `DnsLookup`'s interface. */
export interface LookupMachine {
  step(input: DnsLookupInput): void;
  ready(): DnsLookupReady;
  advance(ready: DnsLookupReady): void;
}

export interface DriveOptions {
  /** Questions in flight at once. */
  concurrency: number;
  /** After this, ms, the poll ends as a `timeout` failure and its questions are aborted. */
  deadlineMs: number;
  /** Aborts the questions in flight (discovery closed). */
  signal?: AbortSignal;
  /** Called with what a throw inside the poll threw (the poll then ends as an `error` failure). */
  onError?: (err: unknown) => void;
}

/**
 * Runs a poll to its verdict, at most `concurrency` questions in flight. The
 * promise always resolves, never rejects, and never later than `deadlineMs`:
 * a throw out of the machine or of `ask` ends the poll as an `error` verdict,
 * a poll still running at the deadline as a `timeout` verdict, and either way
 * the questions still in flight are aborted through the signal `ask` gets.
 */
export function driveLookup(lookup: LookupMachine, ask: (question: DnsQuestion, signal: AbortSignal) => Promise<QueryOutcome>, options: DriveOptions): Promise<LookupVerdict> {
  const concurrency = Math.max(1, options.concurrency);
  const stop = new AbortController();
  return new Promise<LookupVerdict>((resolve) => {
    const waiting: DnsQuestion[] = [];
    let inFlight = 0;
    let done = false;
    const onAbort = () => stop.abort();
    const finish = (verdict: LookupVerdict): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      stop.abort(); // late questions: stop waiting for them
      resolve(verdict);
    };
    const failWith = (err: unknown): void => {
      try {
        options.onError?.(err);
      } catch {
        // a reporting hook must not keep the poll from ending
      }
      finish({ ok: false, reason: 'error', detail: `internal error in the poll: ${err instanceof Error ? err.message : String(err)}`, records: [], usedTcp: false });
    };
    const deadline = setTimeout(() => finish({ ok: false, reason: 'timeout', detail: `the poll did not finish within ${options.deadlineMs} ms`, records: [], usedTcp: false }), options.deadlineMs);
    if (options.signal?.aborted) stop.abort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    const onOutcome = (question: DnsQuestion, outcome: QueryOutcome): void => {
      inFlight--;
      if (done) return;
      try {
        lookup.step({ type: 'outcome', question, outcome });
        pump();
      } catch (err) {
        failWith(err);
      }
    };
    const pump = (): void => {
      if (done) return;
      const ready = lookup.ready();
      lookup.advance(ready);
      waiting.push(...ready.queries);
      if (ready.verdict) return finish(ready.verdict);
      while (inFlight < concurrency && waiting.length > 0) {
        const question = waiting.shift()!;
        inFlight++;
        let asked: Promise<QueryOutcome>;
        try {
          asked = ask(question, stop.signal);
        } catch (err) {
          asked = Promise.reject(err);
        }
        asked
          .catch((err): QueryOutcome => ({ ok: false, reason: 'error', detail: err instanceof Error ? err.message : String(err) }))
          .then((outcome) => onOutcome(question, outcome));
      }
      if (inFlight === 0 && waiting.length === 0) finish({ ok: false, reason: 'error', detail: 'lookup stalled without a verdict', records: [], usedTcp: false });
    };
    try {
      lookup.step({ type: 'start' });
      pump();
    } catch (err) {
      failWith(err);
    }
  });
}
