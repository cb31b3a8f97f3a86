import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseMulticastInterface, localAddresses, membershipTargets, reachesOtherHosts, type InterfaceChoice, type InterfaceTable } from '../../../discovery/multicast-interface.js';

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
  /** `addresses`: the chosen interfaces' addresses, comma-separated. */
  expected: { kind: InterfaceChoice['kind']; address?: string; addresses?: string; loopback?: boolean };
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
  { what: 'an address of this host', configured: '10.0.0.5', table: laptop, expected: { kind: 'interfaces', addresses: '10.0.0.5', loopback: false } },
  { what: 'an interface name: its IPv4 address', configured: 'eth0', table: laptop, expected: { kind: 'interfaces', addresses: '10.0.0.5', loopback: false } },
  { what: 'loopback by address, on purpose', configured: '127.0.0.1', table: laptop, expected: { kind: 'interfaces', addresses: '127.0.0.1', loopback: true } },
  { what: 'loopback by name, on purpose', configured: 'lo', table: offline, expected: { kind: 'interfaces', addresses: '127.0.0.1', loopback: true } },
  { what: 'given explicitly, the MULTICAST flag is not second-guessed', configured: 'eth0', table: laptop, capable: noMulticast, expected: { kind: 'interfaces', addresses: '10.0.0.5' } },
  { what: 'a list of names', configured: 'eth0,wlan0', table: laptop, expected: { kind: 'interfaces', addresses: '10.0.0.5,192.168.1.7', loopback: false } },
  { what: 'a list mixing a name and an address, with spaces', configured: ' wlan0 , 10.0.0.5 ', table: laptop, expected: { kind: 'interfaces', addresses: '192.168.1.7,10.0.0.5', loopback: false } },
  { what: 'loopback and a LAN interface: reaches other hosts', configured: 'lo,eth0', table: laptop, expected: { kind: 'interfaces', addresses: '127.0.0.1,10.0.0.5', loopback: false } },
  { what: 'the same interface twice (name and address) is joined once', configured: 'eth0,10.0.0.5', table: laptop, expected: { kind: 'interfaces', addresses: '10.0.0.5' } },
  { what: 'empty items are ignored', configured: 'eth0,,', table: laptop, expected: { kind: 'interfaces', addresses: '10.0.0.5' } },
  { what: 'only commas: unset', configured: ' , ', table: laptop, expected: { kind: 'all' } },
  { what: 'a list with one entry that is not here: unavailable, naming it', configured: 'eth0,eth7', table: laptop, expected: { kind: 'unavailable' }, says: /eth7 is not/ },
  { what: 'an address that is not here', configured: '10.9.9.9', table: laptop, expected: { kind: 'unavailable' }, says: /10\.9\.9\.9.*eth0 10\.0\.0\.5/ },
  { what: 'a name that is not here', configured: 'eth7', table: laptop, expected: { kind: 'unavailable' }, says: /eth7/ },
  { what: 'an interface without IPv4', configured: 'eth1', table: { ...laptop, eth1: [eth0v6] }, expected: { kind: 'unavailable' }, says: /eth1 has no IPv4/ },
  { what: 'an IPv6 address', configured: 'fe80::1', table: laptop, expected: { kind: 'unavailable' }, says: /IPv6/ },
];

describe('chooseMulticastInterface', () => {
  for (const c of cases) {
    it(`${c.expected.kind}: ${c.what}`, () => {
      const choice = chooseMulticastInterface(c.configured, c.table, c.capable ?? allMulticast);
      const seen: Record<string, unknown> = { ...choice, ...(choice.kind === 'interfaces' ? { addresses: choice.interfaces.map((i) => i.address).join(',') } : {}) };
      for (const [key, value] of Object.entries(c.expected)) assert.equal(seen[key], value, `${key} of ${JSON.stringify(choice)}`);
      if (c.says) assert.match('reason' in choice ? choice.reason : '', c.says);
    });
  }

  it('an empty setting means unset', () => {
    assert.equal(chooseMulticastInterface('', laptop, allMulticast).kind, 'all');
  });
});

describe('membershipTargets', () => {
  it('the chosen interfaces; for all interfaces, the first IPv4 address of each, loopback marked', () => {
    assert.deepEqual(membershipTargets(chooseMulticastInterface('eth0,lo', laptop, allMulticast) as Exclude<InterfaceChoice, { kind: 'unavailable' }>, laptop), [
      { name: 'eth0', address: '10.0.0.5', loopback: false },
      { name: 'lo', address: '127.0.0.1', loopback: true },
    ]);
    assert.deepEqual(membershipTargets({ kind: 'all', label: 'all' }, laptop), [
      { name: 'lo', address: '127.0.0.1', loopback: true },
      { name: 'eth0', address: '10.0.0.5', loopback: false },
      { name: 'wlan0', address: '192.168.1.7', loopback: false },
    ]);
    assert.deepEqual(membershipTargets(chooseMulticastInterface(undefined, offline, allMulticast) as Exclude<InterfaceChoice, { kind: 'unavailable' }>, offline), [{ name: 'lo', address: '127.0.0.1', loopback: true }]);
  });

  it('for all interfaces, an interface that comes up later is a target at the next look', () => {
    const later = { ...laptop, eth1: [{ address: '10.1.0.5', family: 'IPv4', internal: false }] };
    assert.ok(membershipTargets({ kind: 'all', label: 'all' }, later).some((t) => t.address === '10.1.0.5'));
  });
});

describe('reachesOtherHosts and localAddresses', () => {
  it('a loopback-only choice (on purpose or by fallback) does not reach other hosts', () => {
    assert.equal(reachesOtherHosts(chooseMulticastInterface('', laptop, allMulticast)), true);
    assert.equal(reachesOtherHosts(chooseMulticastInterface('eth0', laptop, allMulticast)), true);
    assert.equal(reachesOtherHosts(chooseMulticastInterface('lo', laptop, allMulticast)), false);
    assert.equal(reachesOtherHosts(chooseMulticastInterface('', offline, allMulticast)), false);
    assert.equal(reachesOtherHosts(chooseMulticastInterface('eth7', laptop, allMulticast)), false);
  });

  it('every address of this host, of any family', () => {
    assert.deepEqual([...localAddresses(laptop)].sort(), ['10.0.0.5', '127.0.0.1', '192.168.1.7', '::1', 'fe80::1']);
  });
});
