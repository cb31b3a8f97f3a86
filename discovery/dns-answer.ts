/**
 * One DNS discovery poll as a pure state machine, and the rule that turns its
 * verdict into the next candidate set.
 *
 * A poll (`DnsLookup`) asks, in this order:
 *
 *   1. SRV for the name. Each SRV record names a target host and a port.
 *      A target's address comes from the additional section when the server
 *      put its A/AAAA records there; else the target is resolved, A first,
 *      then AAAA when it has no A record. A target that is an IP literal is
 *      used as is; the target `.` means "no service" (RFC 2782) and is skipped.
 *      Each address of a target gives one candidate `address:port`, named
 *      after the target.
 *   2. When the name exists but has no SRV record (NOERROR, no data), the
 *      name's own A records, else its AAAA records, each with CLUSTER_PORT:
 *      this is a Kubernetes headless service. These candidates have no name.
 *
 * When the shell gives several `names` (the name with resolv.conf's search
 * domains applied, in the C resolver's order), they are tried in turn: a name
 * that does not exist (NXDOMAIN for SRV), or exists with no SRV, A or AAAA
 * record, moves on to the next; the first that answers is used, and the
 * verdict says which (`name`). Any other failure (timeout, SERVFAIL, …) ends
 * the poll: a later name must not stand in for one that could not be asked.
 * When no name yields an address the failure is `nxdomain` (no name exists)
 * or `empty` (some exists), naming every name tried.
 *
 * CNAMEs inside an answer are followed (up to 8). Priority and weight are
 * shown but not used: every target is a cluster member, not a load-balancing
 * choice. Duplicate records collapse; candidates are sorted by address.
 *
 * The verdict is `ok` with a candidate set that is `complete` when every
 * target the SRV answer lists gave at least one address, and partial when
 * some target gave none: its question failed (timeout, SERVFAIL, …) or it
 * was denied (NXDOMAIN, or no data for both A and AAAA). A denied target is
 * not taken as proof that the member left: a lagging secondary or a negative
 * cache entry can deny a name the SRV answer still lists, and only the SRV
 * answer says who the members are. Every such target is a `problem`. It is a
 * failure (`ok: false`) when the SRV question itself failed, the name does
 * not exist (NXDOMAIN), or no address came out.
 *
 * The shrink rule (`nextCandidates`): the candidate set is replaced only by a
 * complete verdict with at least one candidate; a partial verdict adds its
 * candidates to the known ones and removes none; a failure changes nothing.
 * So a timeout, an outage of the server, a truncated answer whose TCP retry
 * failed, a malformed packet, an NXDOMAIN while DNS is not ready yet, a
 * listed target the server denies, or an empty answer never removes a known
 * member; only a full, successful answer that no longer lists it does. Keeping a stale candidate costs a backoff-
 * bounded dial; dropping a live one could leave a new node alone.
 *
 * The shell performs the queries of `ready()` (UDP, TCP on TC, next server on
 * timeout) and steps each outcome back in; `ready().verdict` is set once.
 * Pure: no I/O, no clock.
 */
import { isIP } from 'node:net';
import { formatAddress } from '../lib/node-address.js';
import type { Candidate, DiscoveryRecord } from './discovery.js';
import { normalizeName, type DnsMessage, type DnsQuestion, type DnsRecord } from './dns-message.js';

export const DNS_SOURCE = 'dns';

/**
 * Why a query or a poll failed; the keys of `state().failures`:
 * nxdomain, servfail, refused, formerr, notimp, rcode (any other response code),
 * timeout, unreachable, malformed, truncated (TCP retry failed too), empty
 * (the name exists but yields no address), aborted, error (an unexpected local error).
 */
export type DnsFailureReason =
  | 'nxdomain'
  | 'servfail'
  | 'refused'
  | 'formerr'
  | 'notimp'
  | 'rcode'
  | 'timeout'
  | 'unreachable'
  | 'malformed'
  | 'truncated'
  | 'empty'
  | 'aborted'
  | 'error';

/** What the shell learnt for one question, after its retries over servers and TCP. */
export type QueryOutcome =
  | { ok: true; message: DnsMessage; server: string; transport: 'udp' | 'tcp' }
  | { ok: false; reason: DnsFailureReason; detail: string };

export interface LookupProblem {
  question: DnsQuestion;
  reason: DnsFailureReason;
  detail: string;
}

export type LookupVerdict =
  | {
      ok: true;
      /** The name that answered (one of the search names). */
      name: string;
      /** False when some SRV target could not be resolved: the set may lack members. */
      complete: boolean;
      via: 'srv' | 'address';
      candidates: Candidate[];
      records: DiscoveryRecord[];
      /** The listed targets that gave no address: failed or denied (empty when complete). */
      problems: LookupProblem[];
      usedTcp: boolean;
    }
  | { ok: false; reason: DnsFailureReason; detail: string; records: DiscoveryRecord[]; usedTcp: boolean };

export type DnsLookupInput = { type: 'start' } | { type: 'outcome'; question: DnsQuestion; outcome: QueryOutcome };

/** Data only: the questions to ask now, and the verdict once the poll is over. */
export interface DnsLookupReady {
  queries: DnsQuestion[];
  verdict: LookupVerdict | null;
}

export interface DnsLookupConfig {
  /** The SRV (or A/AAAA) name to poll. */
  name: string;
  /** The names to try, in order (`name` with search domains applied); default `[name]`. */
  names?: readonly string[];
  /** Port of candidates found through A/AAAA records of the name itself (CLUSTER_PORT). */
  fallbackPort: number;
}

/** Bound on the records kept for diagnosis. */
export const MAX_RECORDS = 512;
/** Bound on the target resolutions of one poll; targets past it make the poll partial. */
export const MAX_TARGET_QUERIES = 512;
const MAX_CNAME_HOPS = 8;
/** Problems where the server answered that a target has no address (rather than not answering). */
const DENIED: ReadonlySet<DnsFailureReason> = new Set(['nxdomain', 'empty']);

interface SrvTarget {
  target: string;
  port: number;
}

export class DnsLookup {
  /** The name being tried: one of `names`. */
  private name: string;
  private readonly names: string[];
  private nameIndex = 0;
  /** Some name tried before existed (NOERROR) with no usable record. */
  private sawEmptyName = false;
  private queued: DnsQuestion[] = [];
  private readonly pending = new Set<string>();
  private readonly records: DiscoveryRecord[] = [];
  private readonly recordKeys = new Set<string>();
  private targets: SrvTarget[] = [];
  /** Addresses per SRV target; a target with no entry is still unresolved or failed. */
  private readonly addresses = new Map<string, string[]>();
  private readonly problems: LookupProblem[] = [];
  private usedTcp = false;
  private verdict: LookupVerdict | null = null;
  private started = false;

  constructor(private readonly config: DnsLookupConfig) {
    const names = (config.names ?? [config.name]).map(normalizeName);
    this.names = names.length > 0 ? names : [normalizeName(config.name)];
    this.name = this.names[0]!;
  }

  step(input: DnsLookupInput): void {
    if (input.type === 'start') {
      if (this.started) return;
      this.started = true;
      this.ask({ name: this.name, type: 'SRV' });
      return;
    }
    const key = questionKey(input.question);
    if (this.verdict !== null || !this.pending.delete(key)) return; // late or unknown: ignore
    this.queued = this.queued.filter((q) => questionKey(q) !== key); // answered before the shell advanced
    const { question, outcome } = input;
    if (outcome.ok) {
      if (outcome.transport === 'tcp') this.usedTcp = true;
      this.keepRecords(outcome.message);
    }
    const onName = normalizeName(question.name) === this.name;
    if (question.type === 'SRV') this.onSrv(outcome);
    else if (onName && this.targets.length === 0) this.onNameAddress(question, outcome);
    else this.onTargetAddress(question, outcome);
    if (this.verdict === null && this.pending.size === 0) this.finishTargets();
  }

  ready(): DnsLookupReady {
    return { queries: [...this.queued], verdict: this.verdict };
  }

  advance(ready: DnsLookupReady): void {
    const sent = new Set(ready.queries.map(questionKey));
    this.queued = this.queued.filter((q) => !sent.has(questionKey(q)));
  }

  private onSrv(outcome: QueryOutcome): void {
    if (!outcome.ok) return this.fail(outcome.reason, `SRV ${this.name}: ${outcome.detail}`);
    const { message } = outcome;
    if (message.rcode === 'NXDOMAIN') return this.nextName(false, `NXDOMAIN for SRV ${this.name} from ${outcome.server}`);
    if (message.rcode !== 'NOERROR') return this.fail(rcodeReason(message.rcode), `${message.rcode} for SRV ${this.name} from ${outcome.server}`);
    const srv = recordsOf(indexRecords(message.answers), this.name, 'SRV').filter((r): r is Extract<DnsRecord, { type: 'SRV' }> => r.type === 'SRV');
    if (srv.length === 0) {
      // No SRV record: a name with only A/AAAA records (a Kubernetes headless service).
      this.ask({ name: this.name, type: 'A' });
      return;
    }
    const seen = new Set<string>();
    for (const r of srv) {
      if (r.target === '.' || seen.has(`${r.target} ${r.port}`)) continue;
      seen.add(`${r.target} ${r.port}`);
      this.targets.push({ target: r.target, port: r.port });
    }
    const known = indexRecords([...message.answers, ...message.additionals]);
    let asked = 0;
    for (const target of new Set(this.targets.map((t) => t.target))) {
      if (isIP(target) !== 0) {
        this.addresses.set(target, [target]);
        continue;
      }
      const v4 = addressesOf(known, target, 'A');
      const v6 = v4.length > 0 ? [] : addressesOf(known, target, 'AAAA');
      if (v4.length + v6.length > 0) {
        this.addresses.set(target, v4.length > 0 ? v4 : v6);
      } else if (asked < MAX_TARGET_QUERIES) {
        asked++;
        this.ask({ name: target, type: 'A' });
      } else {
        this.problems.push({ question: { name: target, type: 'A' }, reason: 'error', detail: `more than ${MAX_TARGET_QUERIES} SRV targets to resolve in one poll` });
      }
    }
  }

  /** A or AAAA of the name itself: the A/AAAA fallback. */
  private onNameAddress(question: DnsQuestion, outcome: QueryOutcome): void {
    if (!outcome.ok) return this.fail(outcome.reason, `${question.type} ${this.name}: ${outcome.detail}`);
    const { message } = outcome;
    if (message.rcode !== 'NOERROR' && message.rcode !== 'NXDOMAIN') return this.fail(rcodeReason(message.rcode), `${message.rcode} for ${question.type} ${this.name} from ${outcome.server}`);
    const found = message.rcode === 'NOERROR' ? addressesOf(indexRecords(message.answers), this.name, addressType(question)) : [];
    if (found.length > 0) {
      const candidates = found.map((ip) => ({ address: formatAddress(ip, this.config.fallbackPort), source: DNS_SOURCE }));
      this.verdict = { ok: true, name: this.name, complete: true, via: 'address', candidates: sortCandidates(candidates), records: this.records, problems: [], usedTcp: this.usedTcp };
      return;
    }
    if (question.type === 'A') return this.ask({ name: this.name, type: 'AAAA' });
    this.nextName(true, `${this.name} has no SRV, A or AAAA record`);
  }

  /** The current name gave nothing (it does not exist, or `exists` with no record): try the next, or fail. */
  private nextName(exists: boolean, detail: string): void {
    if (exists) this.sawEmptyName = true;
    if (this.nameIndex + 1 < this.names.length) {
      this.nameIndex++;
      this.name = this.names[this.nameIndex]!;
      this.ask({ name: this.name, type: 'SRV' });
      return;
    }
    const tried = this.names.length > 1 ? ` (tried, in order: ${this.names.join(', ')})` : '';
    this.fail(this.sawEmptyName ? 'empty' : 'nxdomain', `${detail}${tried}`);
  }

  private onTargetAddress(question: DnsQuestion, outcome: QueryOutcome): void {
    const target = normalizeName(question.name);
    if (!outcome.ok) {
      this.problems.push({ question, reason: outcome.reason, detail: outcome.detail });
      return;
    }
    const { message } = outcome;
    if (message.rcode === 'NOERROR') {
      const found = addressesOf(indexRecords(message.answers), target, addressType(question));
      if (found.length > 0) this.addresses.set(target, found);
      else if (question.type === 'A') this.ask({ name: target, type: 'AAAA' });
      else this.problems.push({ question, reason: 'empty', detail: `no A or AAAA record (NOERROR, no data, from ${outcome.server})` });
      return;
    }
    // NXDOMAIN or no data for a listed target is a problem too, not a removal: see the module comment.
    this.problems.push({ question, reason: rcodeReason(message.rcode), detail: `${message.rcode} from ${outcome.server}` });
  }

  private finishTargets(): void {
    const candidates: Candidate[] = [];
    for (const { target, port } of this.targets) {
      for (const ip of this.addresses.get(target) ?? []) candidates.push({ address: formatAddress(ip, port), name: target, source: DNS_SOURCE });
    }
    const unique = sortCandidates(candidates);
    if (unique.length === 0) {
      // A target that could not be asked says more than one that was denied.
      const failed = this.problems.find((p) => !DENIED.has(p.reason));
      if (failed) return this.fail(failed.reason, `SRV target ${failed.question.name} (${failed.question.type}): ${failed.detail}`);
      const denied = this.problems[0];
      return this.fail('empty', `no SRV target of ${this.name} has an A or AAAA record${denied ? ` (e.g. ${denied.question.name} ${denied.question.type}: ${denied.detail})` : ''}`);
    }
    this.verdict = { ok: true, name: this.name, complete: this.problems.length === 0, via: 'srv', candidates: unique, records: this.records, problems: [...this.problems], usedTcp: this.usedTcp };
  }

  private fail(reason: DnsFailureReason, detail: string): void {
    this.verdict = { ok: false, reason, detail, records: this.records, usedTcp: this.usedTcp };
  }

  private ask(question: DnsQuestion): void {
    const key = questionKey(question);
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.queued.push(question);
  }

  private keepRecords(message: DnsMessage): void {
    for (const record of [...message.answers, ...message.additionals]) {
      const shown = presentRecord(record);
      if (!shown) continue;
      const key = `${shown.type} ${shown.name} ${shown.data}`;
      if (this.recordKeys.has(key) || this.records.length >= MAX_RECORDS) continue;
      this.recordKeys.add(key);
      this.records.push(shown);
    }
  }
}

/**
 * The shrink rule: the next candidate set after a poll's verdict (see the
 * module comment). Returns `previous` itself when nothing changes.
 */
export function nextCandidates(previous: readonly Candidate[], verdict: LookupVerdict): readonly Candidate[] {
  if (!verdict.ok || verdict.candidates.length === 0) return previous;
  if (verdict.complete) return verdict.candidates;
  const byAddress = new Map(previous.map((c) => [c.address, c]));
  for (const c of verdict.candidates) byAddress.set(c.address, c);
  return sortCandidates([...byAddress.values()]);
}

/** Same addresses with the same names, in any order. */
export function sameCandidates(a: readonly Candidate[], b: readonly Candidate[]): boolean {
  if (a.length !== b.length) return false;
  const key = (c: Candidate) => `${c.address} ${c.name ?? ''}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}

/** The failure reason of a response code other than NOERROR. */
export function rcodeReason(rcode: string): DnsFailureReason {
  switch (rcode) {
    case 'NXDOMAIN':
      return 'nxdomain';
    case 'SERVFAIL':
      return 'servfail';
    case 'REFUSED':
      return 'refused';
    case 'FORMERR':
      return 'formerr';
    case 'NOTIMP':
      return 'notimp';
    default:
      return 'rcode';
  }
}

/** A record in presentation form for `state().records`; null for types discovery does not use. */
export function presentRecord(record: DnsRecord): DiscoveryRecord | null {
  switch (record.type) {
    case 'SRV':
      return { source: DNS_SOURCE, type: 'SRV', name: record.name, ttl: record.ttl, data: `${record.priority} ${record.weight} ${record.port} ${record.target}` };
    case 'A':
    case 'AAAA':
      return { source: DNS_SOURCE, type: record.type, name: record.name, ttl: record.ttl, data: record.address };
    case 'CNAME':
      return { source: DNS_SOURCE, type: 'CNAME', name: record.name, ttl: record.ttl, data: record.target };
    case 'other':
      return null;
  }
}

export function questionKey(question: DnsQuestion): string {
  return `${question.type} ${normalizeName(question.name)}`;
}

/** Records by owner name, so each target is looked up once, not searched for. */
type RecordIndex = Map<string, DnsRecord[]>;

function indexRecords(records: readonly DnsRecord[]): RecordIndex {
  const index: RecordIndex = new Map();
  for (const r of records) {
    const list = index.get(r.name);
    if (list) list.push(r);
    else index.set(r.name, [r]);
  }
  return index;
}

/** Records of `type` owned by `name` or by a name its CNAME chain (within the index) leads to. */
function recordsOf(index: RecordIndex, name: string, type: DnsRecord['type']): DnsRecord[] {
  const found: DnsRecord[] = [];
  const visited = new Set<string>();
  let current: string | undefined = name;
  for (let hop = 0; current !== undefined && hop <= MAX_CNAME_HOPS && !visited.has(current); hop++) {
    visited.add(current);
    const owned: DnsRecord[] = index.get(current) ?? [];
    for (const r of owned) if (r.type === type) found.push(r);
    const alias = owned.find((r) => r.type === 'CNAME');
    current = alias?.type === 'CNAME' ? alias.target : undefined;
  }
  return found;
}

function addressType(question: DnsQuestion): 'A' | 'AAAA' {
  return question.type === 'AAAA' ? 'AAAA' : 'A';
}

function addressesOf(index: RecordIndex, name: string, type: 'A' | 'AAAA'): string[] {
  const found: string[] = [];
  for (const r of recordsOf(index, name, type)) if ((r.type === 'A' || r.type === 'AAAA') && !found.includes(r.address)) found.push(r.address);
  return found;
}

/**
 * Sorted by address, then name; one per address (the first name in that
 * order), so the result does not depend on the order a server lists records in.
 */
function sortCandidates(candidates: readonly Candidate[]): Candidate[] {
  const order = (c: Candidate) => `${c.address}\u0000${c.name ?? ''}`;
  const sorted = [...candidates].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  return sorted.filter((c, i) => i === 0 || sorted[i - 1]!.address !== c.address);
}
