/**
 * What a troupe node announces over mDNS, and how a received announcement
 * becomes a candidate or a reasoned refusal. Pure: no sockets, no clocks.
 *
 * Every node publishes one DNS-SD service instance of type `_troupe._tcp`
 * (RFC 6763). The instance name is unique per node and stable across
 * restarts (node name + cluster port), so a restarted node replaces its old
 * instance in every browser rather than adding a second one. The TXT record
 * carries everything a peer needs to decide without dialing:
 *
 *   node=n1@10.0.0.5    node name (`name@host`)
 *   cluster=troupe      CLUSTER_NAME: peers of another cluster are never proposed
 *   port=9100           inter-node (cluster) port
 *   proto=1             transport protocol version: another version is never proposed
 *   gen=7               generation of this start (changes on every restart)
 *   addr=10.0.0.5:9100  advertised address: what peers dial
 *
 * The first candidate address is `addr`, else the host of `node` with
 * `port`: the node's advertised address, what membership knows the node by.
 * When that host is a name rather than an IP address (the default NODE_NAME
 * `troupe@<hostname>`, on a LAN where host names may not resolve), the
 * sender's IP address (the mDNS referer: the packet came from there, so it is
 * reachable) with `port` is proposed as well. The transport aliases a dialed
 * address to the node's advertised one after the handshake, so both spellings
 * converge on one member. The A records are kept for diagnosis only.
 *
 * An announcement that is not proposed because it is this node, another
 * cluster or another protocol version still carries the address it would
 * have had, for `DiscoveryState.rejected`.
 *
 * A judgement never throws, whatever the TXT holds: junk is a verdict.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { formatAddress, parseNodeLocator } from '../lib/node-address.js';
import type { Candidate, RejectedCandidate } from './discovery.js';

/** DNS-SD service type (without the leading underscore and protocol), as bonjour-service wants it. */
export const SERVICE_TYPE = 'troupe';
/** Full name browsed for: `_troupe._tcp.local`. */
export const SERVICE_DOMAIN = `_${SERVICE_TYPE}._tcp.local`;
/** A DNS label holds at most 63 bytes (RFC 1035 §2.3.4); an instance name is one label. */
export const MAX_INSTANCE_NAME_BYTES = 63;
/** A TXT string holds at most 255 bytes (RFC 6763 §6.1); longer values are malformed. */
export const MAX_TXT_VALUE_BYTES = 200;

/** The TXT fields a troupe node publishes. Values are strings on the wire. */
export interface AnnouncementTxt {
  node: string;
  cluster: string;
  port: string;
  proto: string;
  gen: string;
  addr: string;
}

/** This node, as needed to announce it and to judge others. */
export interface LocalNode {
  /** `name@host`. */
  name: string;
  /** Advertised inter-node address `host:port`. */
  address: string;
  port: number;
  generation: number;
  clusterName: string;
  protocolVersion: number;
}

/** Why an announcement is not proposed. */
export type IgnoreReason = 'malformed' | 'other-cluster' | 'protocol-version';

export type Verdict =
  /** `candidates`: the advertised address first, then the sender's address when the advertised host is a name. */
  | { kind: 'candidate'; candidates: Candidate[]; node: string; generation: number | undefined }
  | { kind: 'self'; address: string; node: string }
  /** `address` and `node` are known unless the announcement is malformed. */
  | { kind: 'ignored'; reason: IgnoreReason; detail: string; address?: string; node?: string };

export function announcementTxt(self: LocalNode): AnnouncementTxt {
  return {
    node: self.name,
    cluster: self.clusterName,
    port: String(self.port),
    proto: String(self.protocolVersion),
    gen: String(self.generation),
    addr: self.address,
  };
}

/**
 * The instance name of a node: `name@host:port` with dots turned into dashes
 * (a dot would split the DNS label), shortened to one label with a hash of
 * the full name when too long, so it stays unique.
 */
export function instanceName(nodeName: string, port: number): string {
  const full = `${nodeName}:${port}`.replaceAll('.', '-');
  if (Buffer.byteLength(full) <= MAX_INSTANCE_NAME_BYTES) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 12);
  let prefix = full.slice(0, MAX_INSTANCE_NAME_BYTES - hash.length - 1);
  while (Buffer.byteLength(prefix) > MAX_INSTANCE_NAME_BYTES - hash.length - 1) prefix = prefix.slice(0, -1);
  return `${prefix}~${hash}`;
}

const INTEGER = /^[0-9]{1,10}$/;

/**
 * Decides what to do with one announcement: its decoded TXT (anything: the
 * wire is untrusted) against this node. Order: malformed, then another
 * cluster, then another protocol version, then this node itself. `sender` is
 * the IP address the announcement came from, when known.
 */
export function judgeAnnouncement(txt: unknown, self: LocalNode, source = 'epmd', sender?: string): Verdict {
  if (typeof txt !== 'object' || txt === null) return malformed('no TXT record');
  const field = (key: keyof AnnouncementTxt): string | undefined => {
    const value: unknown = Object.hasOwn(txt, key) ? (txt as Record<string, unknown>)[key] : undefined;
    return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= MAX_TXT_VALUE_BYTES ? value : undefined;
  };
  const node = field('node');
  const cluster = field('cluster');
  const portText = field('port');
  const protoText = field('proto');
  const missing = (['node', 'cluster', 'port', 'proto'] as const).filter((key, i) => [node, cluster, portText, protoText][i] === undefined);
  if (missing.length > 0) return malformed(`TXT lacks ${missing.join(', ')}`);
  const port = INTEGER.test(portText!) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return malformed(`port=${portText} is not a port`);
  if (!INTEGER.test(protoText!)) return malformed(`proto=${protoText} is not a version number`);
  const genText = field('gen');
  const generation = genText !== undefined && INTEGER.test(genText) ? Number(genText) : undefined;

  let address: string;
  let host: string;
  try {
    const named = parseNodeLocator(node!);
    if (named.name === undefined || (named.port ?? port) !== port) return malformed(`node=${node} is not name@host`);
    address = formatAddress(named.host, port);
    host = named.host;
    const addr = field('addr');
    if (addr !== undefined) {
      const advertised = parseNodeLocator(addr);
      if (advertised.name !== undefined || (advertised.port ?? port) !== port) return malformed(`addr=${addr} is not host:${port}`);
      address = formatAddress(advertised.host, port);
      host = advertised.host;
    }
  } catch {
    return malformed(`node=${node} or its address is not valid`);
  }

  const known = { address, node: node! };
  if (cluster !== self.clusterName) return { kind: 'ignored', reason: 'other-cluster', detail: `cluster ${cluster}, this node's CLUSTER_NAME is ${self.clusterName}`, ...known };
  if (Number(protoText) !== self.protocolVersion) {
    return { kind: 'ignored', reason: 'protocol-version', detail: `speaks protocol ${protoText}, this node speaks ${self.protocolVersion}: run the same troupe release on every node`, ...known };
  }
  if (address === self.address) return { kind: 'self', ...known };
  const candidates: Candidate[] = [{ address, name: node!, source }];
  const bySender = isIP(host) === 0 && sender !== undefined && isIP(sender) !== 0 && !sender.includes('%') ? formatAddress(sender, port) : undefined;
  if (bySender !== undefined && bySender !== address && bySender !== self.address) candidates.push({ address: bySender, name: node!, source });
  return { kind: 'candidate', candidates, node: node!, generation };
}

/** What `DiscoveryState.rejected` says of a verdict that is not proposed (nothing for a candidate or a malformed announcement). */
export function rejectedCandidate(verdict: Verdict, source: string): RejectedCandidate | undefined {
  if (verdict.kind === 'self') return { address: verdict.address, name: verdict.node, source, reason: 'self', detail: "this node's own announcement" };
  if (verdict.kind !== 'ignored' || verdict.address === undefined || verdict.reason === 'malformed') return undefined;
  const reason = verdict.reason === 'other-cluster' ? 'wrong-cluster-name' : 'wrong-protocol-version';
  return { address: verdict.address, ...(verdict.node === undefined ? {} : { name: verdict.node }), source, reason, detail: verdict.detail };
}

/** One line for `DiscoveryRecord.data`: what was announced, from where, and the verdict. */
export function describeAnnouncement(txt: unknown, referer: string | undefined, verdict: Verdict): string {
  const fields = typeof txt === 'object' && txt !== null ? Object.entries(txt).map(([k, v]) => `${k}=${showValue(v)}`).join(' ') : '(no TXT)';
  const outcome =
    verdict.kind === 'candidate'
      ? `proposed ${verdict.candidates.map((c, i) => (i === 0 ? c.address : `${c.address} (sender's address)`)).join(' and ')}`
      : verdict.kind === 'self'
        ? 'this node'
        : `ignored (${verdict.reason}): ${verdict.detail}`;
  return `${fields.slice(0, 400)}${referer ? ` from ${referer}` : ''} → ${outcome}`;
}

/** A TXT value for display; decoded TXT holds strings (or `true` for a bare key), but the caller may pass anything. */
function showValue(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : `(${typeof value})`;
}

function malformed(detail: string): Verdict {
  return { kind: 'ignored', reason: 'malformed', detail };
}
