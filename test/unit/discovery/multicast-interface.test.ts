import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseMulticastInterface, type InterfaceChoice, type InterfaceTable } from '../../../discovery/multicast-interface.js';

const lo = { address: '127.0.0.1', family: 'IPv4', internal: true };
const lo6 = { address: '::1', family: 'IPv6', internal: true };
const eth0 = { address: '10.0.0.5', family: 'IPv4', internal: false };
const eth0v6 = { address: 'fe80::1', family: 'IPv6', internal: false };
const wlan0 = { address: '192.168.1.7', family: 4, internal: false };

const laptop: InterfaceTable = { lo: [lo, lo6], eth0: [eth0v6, eth0], wlan0: [wlan0] };
const offline: InterfaceTable = { lo: [lo, lo6] };
const noMulticast = (name: string) => name === 'lo';
const allMulticast = () => true;

interface Case {
  what: string;
  configured?: string;
  table: InterfaceTable;
  capable?: (name: string) => boolean;
  expected: Partial<InterfaceChoice> & { kind: InterfaceChoice['kind'] };
  /** Text the reason must contain. */
  says?: RegExp;
}

const cases: Case[] = [
  { what: 'unset, a LAN interface: every interface, routing picks', table: laptop, expected: { kind: 'all' } },
  { what: 'unset, IPv4 given as a number (older node)', table: { lo: [lo], wlan0: [wlan0] }, expected: { kind: 'all' } },
  { what: 'unset, only interfaces without MULTICAST: loopback fallback', table: laptop, capable: noMulticast, expected: { kind: 'loopback-fallback', address: '127.0.0.1' }, says: /only nodes on this host/ },
  { what: 'unset, loopback only: fallback, and how to choose it on purpose', table: offline, expected: { kind: 'loopback-fallback', address: '127.0.0.1' }, says: /CLUSTER_MULTICAST_INTERFACE=127\.0\.0\.1/ },
  { what: 'unset, an IPv6-only LAN interface does not count', table: { lo: [lo], eth0: [eth0v6] }, expected: { kind: 'loopback-fallback' } },
  { what: 'unset, no IPv4 at all', table: { lo: [lo6] }, expected: { kind: 'unavailable' }, says: /no IPv4 interface/ },
  { what: 'an address of this host', configured: '10.0.0.5', table: laptop, expected: { kind: 'interface', address: '10.0.0.5', loopback: false } },
  { what: 'an interface name: its IPv4 address', configured: 'eth0', table: laptop, expected: { kind: 'interface', address: '10.0.0.5', loopback: false } },
  { what: 'loopback by address, on purpose', configured: '127.0.0.1', table: laptop, expected: { kind: 'interface', address: '127.0.0.1', loopback: true } },
  { what: 'loopback by name, on purpose', configured: 'lo', table: offline, expected: { kind: 'interface', address: '127.0.0.1', loopback: true } },
  { what: 'given explicitly, the MULTICAST flag is not second-guessed', configured: 'eth0', table: laptop, capable: noMulticast, expected: { kind: 'interface', address: '10.0.0.5' } },
  { what: 'an address that is not here', configured: '10.9.9.9', table: laptop, expected: { kind: 'unavailable' }, says: /10\.9\.9\.9.*eth0 10\.0\.0\.5/ },
  { what: 'a name that is not here', configured: 'eth7', table: laptop, expected: { kind: 'unavailable' }, says: /eth7/ },
  { what: 'an interface without IPv4', configured: 'eth1', table: { ...laptop, eth1: [eth0v6] }, expected: { kind: 'unavailable' }, says: /eth1 has no IPv4/ },
  { what: 'an IPv6 address', configured: 'fe80::1', table: laptop, expected: { kind: 'unavailable' }, says: /IPv6/ },
];

describe('chooseMulticastInterface', () => {
  for (const c of cases) {
    it(`${c.expected.kind}: ${c.what}`, () => {
      const choice = chooseMulticastInterface(c.configured, c.table, c.capable ?? allMulticast);
      for (const [key, value] of Object.entries(c.expected)) assert.equal((choice as unknown as Record<string, unknown>)[key], value, `${key} of ${JSON.stringify(choice)}`);
      if (c.says) assert.match('reason' in choice ? choice.reason : '', c.says);
    });
  }

  it('an empty setting means unset', () => {
    assert.equal(chooseMulticastInterface('', laptop, allMulticast).kind, 'all');
  });
});
