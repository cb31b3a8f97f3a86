/**
 * Node names and addresses: parse, validate, format. A leaf module (it
 * imports only the error types), used by config, transport, discovery, the
 * HTTP routes and the CLI, so every part reads `name@host[:port]` alike.
 *
 * Vocabulary:
 * - a node name is `name@host`: unique in the cluster, stable across
 *   restarts; `host` is where peers reach the node;
 * - an address is `host:port` (IPv6 hosts in brackets): one inter-node
 *   listener, what the transport dials;
 * - a locator is what an operator types to point at a node:
 *   `name@host:port`, `name@host` (the port is found by asking the host's
 *   port range, as epmd answers for Erlang), `host:port` or `host`.
 */
import { hostname } from 'node:os';
import { ConfigError } from './errors.js';

/** Longest name part (before the `@`). */
export const MAX_NAME_PART_LENGTH = 64;
/** Longest host part: a DNS name's limit (RFC 1035 §2.3.4). */
export const MAX_HOST_LENGTH = 253;

const NAME_PART = /^[A-Za-z0-9_.-]+$/;
const HOST_LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const IPV6_BRACKETED = /^\[([0-9A-Fa-f:.]+)\]$/;

/** The rule, as error messages state it. */
export const NODE_NAME_RULE = `must be name@host: a name of 1-${MAX_NAME_PART_LENGTH} letters, digits, _ . - and a host name (labels of 1-63 letters, digits, _ -; at most ${MAX_HOST_LENGTH} characters), an IPv4 address or a bracketed IPv6 address, e.g. troupe@10.0.0.5`;

export interface NodeLocator {
  /** The name part, or undefined for a bare `host[:port]`. */
  name: string | undefined;
  /** Host name or IP address, IPv6 without brackets. */
  host: string;
  /** Explicit inter-node port, or undefined: ask the host which port the node took. */
  port: number | undefined;
}

/** An inclusive range of ports, `first-last`. */
export interface PortRange {
  first: number;
  last: number;
}

/** Where a node listens unless CLUSTER_PORT says otherwise: the range Erlang distribution is usually given by firewalls (inet_dist_listen_min/max). */
export const DEFAULT_CLUSTER_PORT_RANGE: Readonly<PortRange> = Object.freeze({ first: 9100, last: 9155 });

/** `name@host`, validated; a bare `name` gets `@<hostname>`. */
export function parseNodeName(value: unknown, setting = 'NODE_NAME', defaultHost: string = hostname()): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '') throw new ConfigError(setting, value, NODE_NAME_RULE);
  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const host = at < 0 ? defaultHost : text.slice(at + 1);
  if (!isNamePart(name) || hostProblem(host) !== null) throw new ConfigError(setting, abbreviate(text), NODE_NAME_RULE);
  return `${name}@${host}`;
}

/** Parses `name@host[:port]` or `host[:port]`. */
export function parseNodeLocator(value: string, setting = 'CLUSTER_NODES'): NodeLocator {
  const text = value.trim();
  const at = text.indexOf('@');
  const name = at < 0 ? undefined : text.slice(0, at);
  const rule = 'each entry must be name@host[:port] or host[:port] (IPv6 in brackets), e.g. troupe@10.0.0.5 or troupe@10.0.0.5:9100';
  if (name !== undefined && !isNamePart(name)) throw new ConfigError(setting, abbreviate(text), rule);
  const hostPort = at < 0 ? text : text.slice(at + 1);
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(hostPort);
  if (match === null || hostProblem(match[1]!) !== null) throw new ConfigError(setting, abbreviate(text), rule);
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new ConfigError(setting, abbreviate(text), 'port must be from 1 to 65535');
  return { name, host: unbracket(match[1]!), port };
}

/** `name@host[:port]` (or `host[:port]`), the inverse of parseNodeLocator. */
export function formatLocator(locator: NodeLocator): string {
  const host = locator.port === undefined ? bracketIfIpv6(locator.host) : formatAddress(locator.host, locator.port);
  return locator.name === undefined ? host : `${locator.name}@${host}`;
}

/** Joins a host and a port into an address, bracketing IPv6 hosts. */
export function formatAddress(host: string, port: number): string {
  return `${bracketIfIpv6(host)}:${port}`;
}

/** Splits `host:port` (IPv6 hosts in brackets: `[::1]:9100`). Returns null when it is not one. */
export function parseAddress(address: string): { host: string; port: number } | null {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = unbracket(address.slice(0, colon));
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535 || host.length === 0) return null;
  return { host, port };
}

/** Host part of `name@host`, IPv6 without brackets. */
export function nodeHost(nodeName: string): string {
  return unbracket(nodeName.slice(nodeName.indexOf('@') + 1));
}

/** Name part of `name@host`. */
export function namePart(nodeName: string): string {
  const at = nodeName.indexOf('@');
  return at < 0 ? nodeName : nodeName.slice(0, at);
}

/** Whether `nodeName` (`name@host`) is what `locator` points at, by name (and host, spelled alike). */
export function locatorNames(locator: NodeLocator, nodeName: string): boolean {
  return locator.name !== undefined && namePart(nodeName) === locator.name && nodeHost(nodeName) === locator.host;
}

/** Parses `first-last` (or a single port). */
export function parsePortRange(value: unknown, setting = 'CLUSTER_PORT_RANGE'): PortRange {
  const match = typeof value === 'string' ? /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(value) : null;
  const first = match ? Number(match[1]) : NaN;
  const last = match ? Number(match[2] ?? match[1]) : NaN;
  if (!(first >= 1 && last <= 65535 && first <= last && last - first < 1024)) {
    throw new ConfigError(setting, value, 'must be first-last, ports from 1 to 65535, first <= last, at most 1024 ports (e.g. 9100-9155)');
  }
  return { first, last };
}

export function formatPortRange(range: PortRange): string {
  return range.first === range.last ? String(range.first) : `${range.first}-${range.last}`;
}

/** Every port of the range, in order. */
export function portsOf(range: PortRange): number[] {
  const ports: number[] = [];
  for (let port = range.first; port <= range.last; port++) ports.push(port);
  return ports;
}

function isNamePart(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_NAME_PART_LENGTH && NAME_PART.test(name);
}

/** Null when `host` (IPv6 in brackets) is a valid host part, else why not. */
function hostProblem(host: string): string | null {
  if (IPV6_BRACKETED.test(host)) return null;
  if (host.length === 0 || host.length > MAX_HOST_LENGTH) return 'length';
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
  return labels.every((label) => HOST_LABEL.test(label)) ? null : 'characters';
}

function unbracket(host: string): string {
  const match = IPV6_BRACKETED.exec(host);
  return match ? match[1]! : host;
}

function bracketIfIpv6(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Long bad values are cut in messages: a 2,000-character name helps no one read the error. */
function abbreviate(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 60)}… (${text.length} characters)`;
}
