/** Where dns discovery sends its questions: resolv.conf and CLUSTER_DNS_SERVER parsing, from tables. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseDnsServers, formatDnsServer, parseDnsServer, parseDnsServers, parseResolvConf, parseResolvSearch, searchNames, type ResolvSearch } from '../../../discovery/dns-servers.js';

describe('parseResolvConf', () => {
  const rows: Array<[string, string, string[]]> = [
    ['one server', 'nameserver 10.96.0.10\n', ['10.96.0.10:53']],
    ['the Kubernetes shape', 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n', ['10.96.0.10:53']],
    ['several, in order, deduplicated', 'nameserver 1.1.1.1\nnameserver 8.8.8.8\nnameserver 1.1.1.1\n', ['1.1.1.1:53', '8.8.8.8:53']],
    ['IPv6 and a zoned link-local address', 'nameserver ::1\nnameserver fe80::1%eth0\n', ['[::1]:53', '[fe80::1%eth0]:53']],
    ['comments, indentation, tabs and CRLF', '# generated\r\n  nameserver\t10.0.0.2  # primary\r\n; nameserver 10.0.0.3\r\n', ['10.0.0.2:53']],
    ['junk is skipped', 'nameserver\nnameserver not-an-ip\nnameserver 300.1.1.1\nnameservers 10.0.0.4\n\u0000\u00ff garbage\nnameserver 10.0.0.5 extra tokens\n', ['10.0.0.5:53']],
    ['nothing', '', []],
  ];
  for (const [what, text, expected] of rows) it(what, () => assert.deepEqual(parseResolvConf(text).map(formatDnsServer), expected));
});

describe('parseDnsServer', () => {
  const rows: Array<[string, string | null]> = [
    ['10.0.0.2', '10.0.0.2:53'],
    ['10.0.0.2:5353', '10.0.0.2:5353'],
    [' 127.0.0.1:1053 ', '127.0.0.1:1053'],
    ['dns.internal:53', 'dns.internal:53'],
    ['[fd00::53]:5353', '[fd00::53]:5353'],
    ['[fd00::53]', '[fd00::53]:53'],
    ['fd00::53', '[fd00::53]:53'],
    ['10.0.0.2:0', null],
    ['10.0.0.2:65536', null],
    ['10.0.0.2:x', null],
    ['[not-v6]:53', null],
    ['', null],
    ['a b', null],
  ];
  for (const [text, expected] of rows) it(JSON.stringify(text), () => {
    const server = parseDnsServer(text);
    assert.equal(server === null ? null : formatDnsServer(server), expected);
  });

  it('parseDnsServers splits commas, drops duplicates and reports what it could not parse', () => {
    const { servers, invalid } = parseDnsServers(['127.0.0.1:1053,10.0.0.2', '127.0.0.1:1053', 'bad host', '']);
    assert.deepEqual(servers.map(formatDnsServer), ['127.0.0.1:1053', '10.0.0.2:53']);
    assert.deepEqual(invalid, ['bad host']);
  });
});

describe('chooseDnsServers', () => {
  const configured = [{ host: '10.0.0.53', port: 53 }];
  const fromFile = [{ host: '10.96.0.10', port: 53 }];
  it('prefers CLUSTER_DNS_SERVER', () => assert.deepEqual(chooseDnsServers(configured, fromFile), { servers: configured, from: 'CLUSTER_DNS_SERVER' }));
  it('else resolv.conf', () => assert.deepEqual(chooseDnsServers([], fromFile), { servers: fromFile, from: 'resolv.conf' }));
  it('else the local machine, as the C library does', () => assert.deepEqual(chooseDnsServers([], []), { servers: [{ host: '127.0.0.1', port: 53 }], from: 'default' }));
});

describe('parseResolvSearch', () => {
  const rows: Array<[string, string, ResolvSearch]> = [
    ['the Kubernetes shape', 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n', { search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 }],
    ['nothing: no search domain, ndots 1', '', { search: [], ndots: 1 }],
    ['domain is a one-entry search list; the last of domain/search wins', 'search a.example b.example\ndomain c.example\n', { search: ['c.example'], ndots: 1 }],
    ['trailing dots dropped, the root and duplicates skipped', 'search a.example. . A.example b.example\n', { search: ['a.example', 'b.example'], ndots: 1 }],
    ['ndots capped at 15, bad values ignored, other options too', 'options rotate ndots:40 timeout:1\noptions ndots:x\n', { search: [], ndots: 15 }],
    ['ndots:0', 'options ndots:0\n', { search: [], ndots: 0 }],
    ['comments, tabs, CRLF; junk entries skipped', '# x\r\nsearch\tgood.example  bad/entry\r\n; search other.example\r\n', { search: ['good.example'], ndots: 1 }],
    ['at most 6 domains', 'search d1 d2 d3 d4 d5 d6 d7\n', { search: ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'], ndots: 1 }],
  ];
  for (const [what, text, expected] of rows) it(what, () => assert.deepEqual(parseResolvSearch(text), expected));
});

describe('searchNames (the C resolver order)', () => {
  const k8s: ResolvSearch = { search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 };
  const rows: Array<[string, string, ResolvSearch, string[]]> = [
    ['fewer dots than ndots: each search domain first, then as is', '_cluster._tcp.troupe', k8s, ['_cluster._tcp.troupe.default.svc.cluster.local', '_cluster._tcp.troupe.svc.cluster.local', '_cluster._tcp.troupe.cluster.local', '_cluster._tcp.troupe']],
    ['at least ndots dots: as is first, then each search domain', '_cluster._tcp.troupe.default.svc.cluster.local', k8s, ['_cluster._tcp.troupe.default.svc.cluster.local', '_cluster._tcp.troupe.default.svc.cluster.local.default.svc.cluster.local', '_cluster._tcp.troupe.default.svc.cluster.local.svc.cluster.local', '_cluster._tcp.troupe.default.svc.cluster.local.cluster.local']],
    ['a trailing dot: only as is', '_cluster._tcp.troupe.default.svc.cluster.local.', k8s, ['_cluster._tcp.troupe.default.svc.cluster.local']],
    ['no search list: as is', 'troupe', { search: [], ndots: 1 }, ['troupe']],
    ['ndots 1 and a dotted name: as is first', 'troupe.example', { search: ['corp.example'], ndots: 1 }, ['troupe.example', 'troupe.example.corp.example']],
    ['ndots 0: as is first even without a dot', 'troupe', { search: ['corp.example'], ndots: 0 }, ['troupe', 'troupe.corp.example']],
    ['a name past 253 characters is not tried', `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}`, { search: [`${'d'.repeat(63)}.${'e'.repeat(10)}`], ndots: 5 }, [`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}`]],
    ['empty', '', k8s, []],
  ];
  for (const [what, name, options, expected] of rows) it(what, () => assert.deepEqual(searchNames(name, options), expected));
});
