/**
 * Whether multicast discovery hears any other host. Pure: the caller passes
 * the monotonic time and the source address of every datagram received.
 *
 * Many networks (cloud VPCs, most Kubernetes CNIs) accept multicast packets
 * and drop them: sends succeed, joins succeed, and nobody is ever found.
 * That cannot be told from an error; it can be told from silence. mDNS is
 * chatty (every troupe node answers every query, and printers, phones and
 * avahi announce themselves), so on a LAN that carries multicast, packets
 * from other hosts arrive all the time. When none (decodable or not) has
 * arrived from an address that is not this host's for `silentAfterMs`, the
 * watch says so, until one arrives.
 */

export class OtherHostsWatch {
  private lastHeardAt: number;
  private silentSince: number | null = null;
  private local: ReadonlySet<string>;

  constructor(
    private readonly silentAfterMs: number,
    now: number,
    localAddresses: ReadonlySet<string>,
  ) {
    this.lastHeardAt = now;
    this.local = localAddresses;
  }

  /** This host's addresses (its own packets come from them); refreshed as interfaces change. */
  setLocalAddresses(addresses: ReadonlySet<string>): void {
    this.local = addresses;
  }

  /** A datagram arrived from `address`. True when it ended a silence. */
  packet(address: string, now: number): boolean {
    if (this.local.has(address)) return false;
    this.lastHeardAt = now;
    if (this.silentSince === null) return false;
    this.silentSince = null;
    return true;
  }

  /** True when this check found a new silence (to be reported once). */
  check(now: number): boolean {
    if (this.silentSince !== null || now - this.lastHeardAt <= this.silentAfterMs) return false;
    this.silentSince = now;
    return true;
  }

  get silent(): boolean {
    return this.silentSince !== null;
  }

  /** What to tell the operator while silent, else null. */
  reason(): string | null {
    if (this.silentSince === null) return null;
    return `no mDNS traffic from any other host in ${formatSeconds(this.silentAfterMs)}: multicast may be filtered on this network (or no other host runs mDNS); use CLUSTER_DISCOVERY_TYPE=dns or static`;
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
