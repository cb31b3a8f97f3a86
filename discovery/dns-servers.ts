/**
 * Which DNS servers dns discovery asks: those of CLUSTER_DNS_SERVER
 * (`host[:port]`, comma-separated) when set, else the `nameserver` lines of
 * /etc/resolv.conf, else the local machine (127.0.0.1:53), which is what the
 * C library does when resolv.conf names no server.
 *
 * Both parsers are pure and total: they never throw. A resolv.conf is written
 * by many tools (DHCP clients, container runtimes, people), so anything that
 * is not a well-formed `nameserver <IP>` line is skipped, not fatal; an entry
 * of CLUSTER_DNS_SERVER that cannot be parsed is returned in `invalid` so the
 * caller can say so once.
 */
import { isIP } from 'node:net';

export { DNS_PORT, formatDnsServer, parseDnsServer, type DnsServer } from '../lib/dns-server-address.js';
import { DNS_PORT, parseDnsServer, type DnsServer } from '../lib/dns-server-address.js';

/** The servers of the `nameserver` lines of a resolv.conf text, in order, without duplicates. */
export function parseResolvConf(text: string): DnsServer[] {
  const servers: DnsServer[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/[#;].*$/, '').trim();
    const [keyword, value] = line.split(/\s+/);
    if (keyword !== 'nameserver' || value === undefined) continue;
    // A link-local IPv6 server may carry a zone (`fe80::1%eth0`); the socket layer accepts it.
    const bare = value.split('%')[0] ?? '';
    if (isIP(bare) === 0) continue;
    if (!servers.some((s) => s.host === value)) servers.push({ host: value, port: DNS_PORT });
  }
  return servers;
}

/** The resolver's search list and `ndots` (resolv.conf(5)). */
export interface ResolvSearch {
  /** Domains appended to a relative name, in order. */
  search: string[];
  /** A name with at least this many dots is tried as is before the search list. */
  ndots: number;
}

/** `ndots` when resolv.conf says nothing, and its cap, as in the C library. */
export const DEFAULT_NDOTS = 1;
const MAX_NDOTS = 15;
/** Search domains kept, as the classic C resolver: each one may cost a query per poll. */
export const MAX_SEARCH_DOMAINS = 6;
const MAX_NAME_LENGTH = 253;

/**
 * The `search` (or `domain`, a one-entry search list; the last of the two
 * wins) and `options ndots:n` lines of a resolv.conf text. Entries are kept
 * without a trailing dot, without duplicates (case-insensitive); the root and
 * entries that are not host names are skipped.
 */
export function parseResolvSearch(text: string): ResolvSearch {
  let search: string[] = [];
  let ndots = DEFAULT_NDOTS;
  for (const rawLine of text.split(/\r?\n/)) {
    const [keyword, ...values] = rawLine.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (keyword === 'search' || keyword === 'domain') {
      const domains: string[] = [];
      for (const value of keyword === 'domain' ? values.slice(0, 1) : values) {
        const domain = value.endsWith('.') ? value.slice(0, -1) : value;
        if (!/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(domain)) continue;
        if (!domains.some((d) => d.toLowerCase() === domain.toLowerCase())) domains.push(domain);
      }
      search = domains.slice(0, MAX_SEARCH_DOMAINS);
    } else if (keyword === 'options') {
      for (const option of values) {
        const match = /^ndots:(\d+)$/.exec(option);
        if (match) ndots = Math.min(Number(match[1]), MAX_NDOTS);
      }
    }
  }
  return { search, ndots };
}

/**
 * The names to try for `hostname`, in order, as the C resolver's search does:
 * a name with a trailing dot is absolute and tried as is only; a name with at
 * least `ndots` dots is tried as is, then with each search domain; a name
 * with fewer is tried with each search domain first, then as is. Names past
 * 253 characters are left out. Returned without a trailing dot.
 */
export function searchNames(hostname: string, options: ResolvSearch): string[] {
  const name = hostname.trim();
  if (name === '' || name === '.') return [];
  if (name.endsWith('.')) return [name.slice(0, -1)];
  const dots = name.split('.').length - 1;
  const searched = options.search.map((domain) => `${name}.${domain}`).filter((n) => n.length <= MAX_NAME_LENGTH);
  const ordered = dots >= options.ndots ? [name, ...searched] : [...searched, name];
  return ordered.filter((n, i) => ordered.findIndex((m) => m.toLowerCase() === n.toLowerCase()) === i);
}

/** Parses CLUSTER_DNS_SERVER entries; unparseable ones are reported, not fatal. */
export function parseDnsServers(entries: readonly string[]): { servers: DnsServer[]; invalid: string[] } {
  const servers: DnsServer[] = [];
  const invalid: string[] = [];
  for (const entry of entries.flatMap((e) => e.split(','))) {
    if (entry.trim() === '') continue;
    const server = parseDnsServer(entry);
    if (server === null) invalid.push(entry.trim());
    else if (!servers.some((s) => s.host === server.host && s.port === server.port)) servers.push(server);
  }
  return { servers, invalid };
}

/** The servers to ask: configured ones first, else resolv.conf's, else the local machine. */
export function chooseDnsServers(configured: readonly DnsServer[], resolvConf: readonly DnsServer[]): { servers: DnsServer[]; from: 'CLUSTER_DNS_SERVER' | 'resolv.conf' | 'default' } {
  if (configured.length > 0) return { servers: [...configured], from: 'CLUSTER_DNS_SERVER' };
  if (resolvConf.length > 0) return { servers: [...resolvConf], from: 'resolv.conf' };
  return { servers: [{ host: '127.0.0.1', port: DNS_PORT }], from: 'default' };
}
