/**
 * Which network interface multicast discovery joins and sends on.
 *
 * - CLUSTER_MULTICAST_INTERFACE set to an IPv4 address of this host, or to an
 *   interface name (`eth0`): exactly that interface. `127.0.0.1` (or `lo`)
 *   is a deliberate loopback-only choice: nodes on this host find each other,
 *   nothing leaves the host. An address or name that is not here makes the
 *   mode unavailable, with the addresses that are.
 * - Unset, with at least one multicast-capable non-loopback IPv4 interface:
 *   join the group on every interface and send where the routing table sends
 *   224.0.0.251 (the usual LAN case).
 * - Unset, with loopback only (a laptop offline, a container with
 *   `network: none`): fall back to loopback so nodes on this host still find
 *   each other, and report that other hosts cannot be found.
 *
 * IPv6 (FF02::FB) is not used: one IPv4 group keeps the picture simple, and
 * every IPv6-only LAN also carries IPv4 link-local multicast in practice.
 * Pure apart from `readMulticastCapable`, which asks the OS.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

export interface InterfaceAddress {
  address: string;
  /** `'IPv4'` (node ≥ 18.4) or `4` (older). */
  family: string | number;
  internal: boolean;
}

/** `os.networkInterfaces()`. */
export type InterfaceTable = Record<string, InterfaceAddress[] | undefined>;

export type InterfaceChoice =
  /** Join and send on this one IPv4 address. `loopback`: only this host is reachable, by choice. */
  | { kind: 'interface'; address: string; label: string; loopback: boolean }
  /** Join on every IPv4 interface; the routing table picks where queries go. */
  | { kind: 'all'; label: string }
  /** Nothing but loopback here: run on it, and say that other hosts cannot be found. */
  | { kind: 'loopback-fallback'; address: string; label: string; reason: string }
  | { kind: 'unavailable'; reason: string };

const ipv4 = (a: InterfaceAddress) => a.family === 'IPv4' || a.family === 4;

export function chooseMulticastInterface(configured: string | undefined, table: InterfaceTable, multicastCapable: (name: string) => boolean): InterfaceChoice {
  const entries = Object.entries(table).map(([name, addresses]) => ({ name, addresses: (addresses ?? []).filter(ipv4) }));
  const known = entries.flatMap((e) => e.addresses.map((a) => `${e.name} ${a.address}`)).join(', ') || 'none';

  if (configured !== undefined && configured !== '') {
    if (isIPv6(configured)) return { kind: 'unavailable', reason: `CLUSTER_MULTICAST_INTERFACE=${configured} is IPv6; give an IPv4 address or an interface name (IPv4 addresses here: ${known})` };
    const byAddress = isIPv4(configured) ? entries.find((e) => e.addresses.some((a) => a.address === configured)) : undefined;
    if (byAddress) {
      const entry = byAddress.addresses.find((a) => a.address === configured)!;
      return { kind: 'interface', address: configured, label: `${byAddress.name} ${configured}`, loopback: entry.internal };
    }
    const byName = entries.find((e) => e.name === configured);
    if (byName && byName.addresses.length > 0) {
      const first = byName.addresses[0]!;
      return { kind: 'interface', address: first.address, label: `${configured} ${first.address}`, loopback: first.internal };
    }
    const what = byName ? `interface ${configured} has no IPv4 address` : `${configured} is not an IPv4 address of this host, nor an interface with one`;
    return { kind: 'unavailable', reason: `CLUSTER_MULTICAST_INTERFACE: ${what} (IPv4 addresses here: ${known})` };
  }

  const external = entries.filter((e) => e.addresses.some((a) => !a.internal) && multicastCapable(e.name));
  if (external.length > 0) return { kind: 'all', label: `all interfaces (${external.map((e) => e.name).join(', ')})` };
  const loopback = entries.flatMap((e) => e.addresses.filter((a) => a.internal).map((a) => ({ name: e.name, address: a.address })))[0];
  if (!loopback) return { kind: 'unavailable', reason: 'this host has no IPv4 interface at all' };
  return {
    kind: 'loopback-fallback',
    address: loopback.address,
    label: `${loopback.name} ${loopback.address}`,
    reason: `no multicast-capable network interface besides loopback (IPv4 addresses here: ${known}): only nodes on this host can be found; set CLUSTER_MULTICAST_INTERFACE=${loopback.address} to choose this on purpose, or use CLUSTER_DISCOVERY_TYPE=dns or static`,
  };
}

/** IFF_MULTICAST in `/sys/class/net/<name>/flags` (Linux, <linux/if.h>). */
const IFF_MULTICAST = 0x1000;

/** Whether the interface can carry multicast. Linux reads the interface flags; elsewhere (or if unreadable) assume it can. */
export function readMulticastCapable(name: string): boolean {
  if (process.platform !== 'linux') return true;
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16) & IFF_MULTICAST) !== 0;
  } catch {
    return true;
  }
}
