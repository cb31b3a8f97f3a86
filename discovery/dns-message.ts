/**
 * DNS messages for dns discovery: the query we send, and the reading of a
 * response into a small, validated shape (or a verdict saying why not).
 *
 * `readResponse` is total: it never throws, whatever the bytes. It first reads
 * the 12-byte header by hand, so a response is matched to its query by id
 * before anything else is trusted, and the TC bit is seen even when the
 * truncated body does not decode. Then dns-packet decodes the body inside a
 * try, and every record we use is checked field by field: a message we do not
 * fully understand is `malformed`, never half-used, because an answer that
 * may shrink the candidate set has to be trustworthy.
 *
 * Verdicts:
 *   stray      not the response to this query (too short, a query, another id or question): ignore it, keep waiting;
 *   truncated  our response with the TC bit: ask again over TCP;
 *   malformed  our id, but the body does not decode or a record is ill-formed;
 *   message    a decoded response (any rcode).
 *
 * Names are compared in lower case without the trailing dot, as DNS names are
 * case-insensitive. Pure: no I/O, no clock.
 */
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';

export type QueryType = 'SRV' | 'A' | 'AAAA';

export interface DnsQuestion {
  name: string;
  type: QueryType;
}

/** A record we understand, with its data checked; other types keep only their type (`rrtype`). */
export type DnsRecord =
  | { type: 'SRV'; name: string; ttl: number; priority: number; weight: number; port: number; target: string }
  | { type: 'A' | 'AAAA'; name: string; ttl: number; address: string }
  | { type: 'CNAME'; name: string; ttl: number; target: string }
  | { type: 'other'; name: string; ttl: number; rrtype: string };

export interface DnsMessage {
  id: number;
  /** Response code by name: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP, … */
  rcode: string;
  authoritative: boolean;
  answers: DnsRecord[];
  additionals: DnsRecord[];
}

export type ResponseVerdict =
  | { kind: 'stray'; why: string }
  | { kind: 'truncated' }
  | { kind: 'malformed'; detail: string }
  | { kind: 'message'; message: DnsMessage };

/**
 * UDP payload size we advertise with EDNS(0): 1232 bytes fits any path's MTU
 * without IP fragmentation (DNS flag day 2020); bigger answers come back
 * truncated and are fetched over TCP.
 */
export const EDNS_UDP_PAYLOAD_BYTES = 1232;

const HEADER_BYTES = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** `Example.COM.` → `example.com`; the root stays `.`. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  if (lower === '.' || lower === '') return '.';
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * A recursive query (RD set) for one question, with an EDNS(0) OPT record
 * unless `edns` is false (for a server that rejects EDNS, RFC 6891 §7).
 */
export function encodeQuery(id: number, question: DnsQuestion, options: { edns?: boolean } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: question.name, type: question.type, class: 'IN' }],
    additionals: options.edns === false ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_PAYLOAD_BYTES, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
}

/** Reads a response to the query `id` for `question`. Never throws. */
export function readResponse(bytes: Uint8Array, id: number, question: DnsQuestion): ResponseVerdict {
  if (bytes.length < HEADER_BYTES) return { kind: 'stray', why: `${bytes.length} bytes is shorter than a DNS header` };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.readUInt16BE(2);
  if ((flags & FLAG_QR) === 0) return { kind: 'stray', why: 'a query, not a response' };
  if (view.readUInt16BE(0) !== id) return { kind: 'stray', why: `id ${view.readUInt16BE(0)} is not ${id}` };
  let decoded: ReturnType<typeof dnsPacket.decode>;
  try {
    decoded = dnsPacket.decode(view);
  } catch (err) {
    // A truncated body need not decode (counts may exceed what was sent): TC alone decides.
    if (flags & FLAG_TC) return { kind: 'truncated' };
    return { kind: 'malformed', detail: `undecodable: ${err instanceof Error ? err.message : String(err)}` };
  }
  const questions = Array.isArray(decoded.questions) ? decoded.questions : [];
  const asked = questions[0];
  if (questions.length !== 1 || !asked || typeof asked.name !== 'string' || normalizeName(asked.name) !== normalizeName(question.name) || asked.type !== question.type) {
    // A server echoes the question (RFC 1035 §4.1.2); a truncated one may drop it.
    if (flags & FLAG_TC) return { kind: 'truncated' };
    return { kind: 'stray', why: 'the question does not match ours' };
  }
  if (flags & FLAG_TC) return { kind: 'truncated' };
  const answers = checkRecords(decoded.answers);
  if (typeof answers === 'string') return { kind: 'malformed', detail: `answer section: ${answers}` };
  const additionals = checkRecords(decoded.additionals);
  if (typeof additionals === 'string') return { kind: 'malformed', detail: `additional section: ${additionals}` };
  return { kind: 'message', message: { id, rcode: rcodeName(flags & 0xf), authoritative: (flags & FLAG_AA) !== 0, answers, additionals } };
}

function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE${code}`;
}

/** Validated records, or what is wrong with the first bad one. OPT (EDNS) pseudo-records are dropped. */
function checkRecords(list: unknown): DnsRecord[] | string {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return 'not a list';
  const records: DnsRecord[] = [];
  for (const raw of list as unknown[]) {
    if (typeof raw !== 'object' || raw === null) return 'a record that is not an object';
    const r = raw as { type?: unknown; name?: unknown; ttl?: unknown; data?: unknown };
    if (r.type === 'OPT') continue;
    if (typeof r.type !== 'string' || typeof r.name !== 'string') return 'a record without type or name';
    const name = normalizeName(r.name);
    const ttl = typeof r.ttl === 'number' && Number.isFinite(r.ttl) && r.ttl >= 0 ? r.ttl : 0;
    switch (r.type) {
      case 'SRV': {
        const d = r.data as { port?: unknown; target?: unknown; priority?: unknown; weight?: unknown } | null;
        if (typeof d !== 'object' || d === null || !isPort(d.port) || typeof d.target !== 'string' || !isUint16(d.priority) || !isUint16(d.weight)) return `ill-formed SRV record for ${name}`;
        records.push({ type: 'SRV', name, ttl, priority: d.priority, weight: d.weight, port: d.port, target: normalizeName(d.target) });
        break;
      }
      case 'A':
      case 'AAAA':
        if (typeof r.data !== 'string' || isIP(r.data) !== (r.type === 'A' ? 4 : 6)) return `ill-formed ${r.type} record for ${name}`;
        records.push({ type: r.type, name, ttl, address: r.data });
        break;
      case 'CNAME':
        if (typeof r.data !== 'string') return `ill-formed CNAME record for ${name}`;
        records.push({ type: 'CNAME', name, ttl, target: normalizeName(r.data) });
        break;
      default:
        records.push({ type: 'other', name, ttl, rrtype: r.type });
    }
  }
  return records;
}

function isUint16(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

/** Port 0 is not a port a node can listen on. */
function isPort(value: unknown): value is number {
  return isUint16(value) && value > 0;
}

/** A DNS message over TCP: a 2-byte big-endian length, then the message (RFC 1035 §4.2.2). */
export function frameForTcp(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** The first complete length-prefixed message in `buffer` and what follows it, or null while incomplete. */
export function takeTcpFrame(buffer: Buffer): { frame: Buffer; rest: Buffer } | null {
  if (buffer.length < 2) return null;
  const length = buffer.readUInt16BE(0);
  if (buffer.length < 2 + length) return null;
  return { frame: buffer.subarray(2, 2 + length), rest: buffer.subarray(2 + length) };
}
