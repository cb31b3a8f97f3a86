/**
 * A DNS server's address as CLUSTER_DNS_SERVER spells it (`host[:port]`,
 * a bare or bracketed IPv6 address, port 53 by default): parsed here, a leaf
 * of lib/, so that configuration validates it with the very parser dns
 * discovery uses, without importing discovery.
 */
import { isIP } from 'node:net';

export const DNS_PORT = 53;

export interface DnsServer {
  /** IP address or host name, without brackets. */
  host: string;
  port: number;
}

/** `host:port`, IPv6 in brackets: the form used in logs and state. */
export function formatDnsServer(server: DnsServer): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/**
 * Parses one `host[:port]` entry: `10.0.0.2`, `10.0.0.2:5353`, `dns.local:53`,
 * `[fd00::1]:53`, or a bare IPv6 address `fd00::1` (port 53). Returns null
 * when the entry is not one of these.
 */
export function parseDnsServer(text: string): DnsServer | null {
  const entry = text.trim();
  if (entry === '') return null;
  const bracketed = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\](?::(\d{1,5}))?$/.exec(entry);
  if (bracketed) return withPort(bracketed[1]!, bracketed[2], 6);
  if (isIP(entry.split('%')[0] ?? '') === 6) return { host: entry, port: DNS_PORT };
  const plain = /^([A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(entry);
  if (plain) return withPort(plain[1]!, plain[2], 0);
  return null;
}

function withPort(host: string, port: string | undefined, family: 0 | 6): DnsServer | null {
  if (family === 6 && isIP(host.split('%')[0] ?? '') !== 6) return null;
  const value = port === undefined ? DNS_PORT : Number(port);
  if (!Number.isInteger(value) || value < 1 || value > 65535) return null;
  return { host, port: value };
}

