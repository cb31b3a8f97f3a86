/**
 * Which network interfaces multicast discovery joins and sends on.
 *
 * - CLUSTER_MULTICAST_INTERFACE set to a comma-separated list of IPv4
 *   addresses of this host and/or interface names (`eth0`, `eth0,10.1.0.5`):
 *   exactly those interfaces; the group is joined on each, and every packet
 *   is sent on each. `127.0.0.1` (or `lo`) alone is a deliberate
 *   loopback-only choice: nodes on this host find each other, nothing leaves
 *   the host. An entry that is not here makes the mode unavailable, with the
 *   addresses that are.
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

/** One interface to join the group on, by its IPv4 address. */
export interface ChosenInterface {
  name: string;
  address: string;
  loopback: boolean;
}

export type InterfaceChoice =
  /** Join and send on each of these (as configured). `loopback`: all are loopback, so only this host is reachable, by choice. */
  | { kind: 'interfaces'; interfaces: ChosenInterface[]; label: string; loopback: boolean }
  /** Join on every IPv4 interface; the routing table picks where packets go. */
  | { kind: 'all'; label: string }
  /** Nothing but loopback here: run on it, and say that other hosts cannot be found. */
  | { kind: 'loopback-fallback'; name: string; address: string; label: string; reason: string }
  | { kind: 'unavailable'; reason: string };

const ipv4 = (a: InterfaceAddress) => a.family === 'IPv4' || a.family === 4;

function ipv4Entries(table: InterfaceTable): Array<{ name: string; addresses: InterfaceAddress[] }> {
  return Object.entries(table).map(([name, addresses]) => ({ name, addresses: (addresses ?? []).filter(ipv4) }));
}

export function chooseMulticastInterface(configured: string | undefined, table: InterfaceTable, multicastCapable: (name: string) => boolean): InterfaceChoice {
  const entries = ipv4Entries(table);
  const known = entries.flatMap((e) => e.addresses.map((a) => `${e.name} ${a.address}`)).join(', ') || 'none';

  const items = (configured ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length > 0) {
    const chosen: ChosenInterface[] = [];
    const problems: string[] = [];
    for (const item of items) {
      const found = resolveItem(item, entries);
      if (typeof found === 'string') problems.push(found);
      else if (!chosen.some((c) => c.address === found.address)) chosen.push(found);
    }
    if (problems.length > 0) return { kind: 'unavailable', reason: `CLUSTER_MULTICAST_INTERFACE: ${problems.join('; ')} (IPv4 addresses here: ${known})` };
    return { kind: 'interfaces', interfaces: chosen, label: chosen.map((c) => `${c.name} ${c.address}`).join(', '), loopback: chosen.every((c) => c.loopback) };
  }

  const external = entries.filter((e) => e.addresses.some((a) => !a.internal) && multicastCapable(e.name));
  if (external.length > 0) return { kind: 'all', label: `all interfaces (${external.map((e) => e.name).join(', ')})` };
  const loopback = entries.flatMap((e) => e.addresses.filter((a) => a.internal).map((a) => ({ name: e.name, address: a.address })))[0];
  if (!loopback) return { kind: 'unavailable', reason: 'this host has no IPv4 interface at all' };
  return {
    kind: 'loopback-fallback',
    name: loopback.name,
    address: loopback.address,
    label: `${loopback.name} ${loopback.address}`,
    reason: `no multicast-capable network interface besides loopback (IPv4 addresses here: ${known}): only nodes on this host can be found; set CLUSTER_MULTICAST_INTERFACE=${loopback.address} to choose this on purpose, or use CLUSTER_DISCOVERY_TYPE=dns or static`,
  };
}

/** One entry of the list: an IPv4 address of this host or an interface name; or what is wrong with it. */
function resolveItem(item: string, entries: Array<{ name: string; addresses: InterfaceAddress[] }>): ChosenInterface | string {
  if (isIPv6(item)) return `${item} is IPv6; give an IPv4 address or an interface name`;
  if (isIPv4(item)) {
    for (const e of entries) {
      const match = e.addresses.find((a) => a.address === item);
      if (match) return { name: e.name, address: item, loopback: match.internal };
    }
  }
  const byName = entries.find((e) => e.name === item);
  if (byName && byName.addresses.length > 0) {
    const first = byName.addresses[0]!;
    return { name: item, address: first.address, loopback: first.internal };
  }
  return byName ? `interface ${item} has no IPv4 address` : `${item} is not an IPv4 address of this host, nor an interface with one`;
}

/**
 * Where to join the group now: the chosen interfaces, or for `all` the first
 * IPv4 address of every interface in `table` (re-read periodically, so an
 * interface that comes up later is joined too).
 */
export function membershipTargets(choice: Exclude<InterfaceChoice, { kind: 'unavailable' }>, table: InterfaceTable): ChosenInterface[] {
  if (choice.kind === 'interfaces') return choice.interfaces;
  if (choice.kind === 'loopback-fallback') return [{ name: choice.name, address: choice.address, loopback: true }];
  return ipv4Entries(table).flatMap((e) => (e.addresses[0] ? [{ name: e.name, address: e.addresses[0].address, loopback: e.addresses[0].internal }] : []));
}

/** Whether the choice reaches other hosts at all (a loopback-only choice does not, on purpose or by fallback). */
export function reachesOtherHosts(choice: InterfaceChoice): boolean {
  return choice.kind === 'all' || (choice.kind === 'interfaces' && !choice.loopback);
}

/** Every address of this host (any family), to tell its own packets from other hosts'. */
export function localAddresses(table: InterfaceTable): Set<string> {
  return new Set(Object.values(table).flatMap((addresses) => (addresses ?? []).map((a) => a.address)));
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
