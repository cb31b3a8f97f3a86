import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { StaticDiscovery, resolutionOf } from '../../../discovery/static.js';
import { joinFailure } from '../../../lib/cluster-operations.js';
import { parseNodeLocator } from '../../../lib/node-address.js';
import type { HostScan, ScannedNode } from '../../../lib/transport/port-scan.js';
import type { TransportEvent } from '../../../lib/transport/transport.js';

const RANGE = { first: 9100, last: 9155 };

function node(name: string, port: number, clusterName = 'troupe'): ScannedNode {
  return { name, clusterName, protocolVersion: 1, address: `127.0.0.1:${port}`, advertised: `127.0.0.1:${port}`, generation: 1 };
}

function scanOf(nodes: ScannedNode[], error: string | null = null): HostScan {
  return { host: '127.0.0.1', range: RANGE, nodes, otherListeners: [], error };
}

describe('resolutionOf: what a seed without a port stands for', () => {
  const scan = scanOf([node('hex_hub1@127.0.0.1', 9100), node('hex_hub2@127.0.0.1', 9101), node('other@127.0.0.1', 9102, 'elsewhere')]);

  it('name@host: the node of that name', () => {
    const r = resolutionOf(parseNodeLocator('hex_hub2@127.0.0.1'), scan, 'troupe');
    assert.deepEqual(r.candidates, [{ address: '127.0.0.1:9101', name: 'hex_hub2@127.0.0.1', source: 'static' }]);
    assert.equal(r.error, null);
  });

  it('a bare host: every node of this cluster there', () => {
    const r = resolutionOf(parseNodeLocator('127.0.0.1'), scan, 'troupe');
    assert.deepEqual(r.candidates.map((c) => c.address), ['127.0.0.1:9100', '127.0.0.1:9101']);
    assert.deepEqual(r.rejected.map((c) => [c.address, c.reason]), [['127.0.0.1:9102', 'wrong-cluster-name']]);
  });

  it('a name nobody has: an error naming what was found', () => {
    const r = resolutionOf(parseNodeLocator('nobody@127.0.0.1'), scan, 'troupe');
    assert.deepEqual(r.candidates, []);
    assert.equal(r.error, 'nobody@127.0.0.1: no node named nobody on 127.0.0.1 ports 9100-9155 (found: hex_hub1@127.0.0.1, hex_hub2@127.0.0.1, other@127.0.0.1)');
  });

  it('a namesake of another cluster is rejected, not proposed', () => {
    const r = resolutionOf(parseNodeLocator('other@127.0.0.1'), scan, 'troupe');
    assert.deepEqual(r.candidates, []);
    assert.equal(r.rejected[0]?.reason, 'wrong-cluster-name');
  });

  it('a host that does not resolve: its error', () => {
    const r = resolutionOf(parseNodeLocator('n@nowhere.invalid'), scanOf([], 'nowhere.invalid does not resolve (ENOTFOUND)'), 'troupe');
    assert.match(r.error ?? '', /does not resolve/);
  });
});

describe('StaticDiscovery with seeds without a port', () => {
  it('resolves them at start, keeps seeds with a port as written, and reports a node that appears later', async () => {
    let nodes: ScannedNode[] = [];
    const discovery = new StaticDiscovery(['hex_hub1@127.0.0.1', 'n9@10.0.0.9:9200'], { range: RANGE, clusterName: 'troupe', scan: async () => scanOf(nodes) });
    const changes: string[][] = [];
    discovery.onChange((candidates) => changes.push(candidates.map((c) => c.address)));
    await discovery.start();
    assert.deepEqual(discovery.candidates().map((c) => c.address), ['10.0.0.9:9200']);
    assert.match(discovery.state().lastError ?? '', /hex_hub1@127\.0\.0\.1: no node named hex_hub1/);
    nodes = [node('hex_hub1@127.0.0.1', 9103)];
    const deadline = performance.now() + 5000;
    while (changes.length === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(changes.at(-1), ['10.0.0.9:9200', '127.0.0.1:9103']);
    assert.equal(discovery.state().lastError, null);
    await discovery.close();
  });
});

describe('joinFailure: what a transport event means for a join', () => {
  const resolve = { resolve: (a: string) => a };
  const target = '127.0.0.1:9100';
  const cases: Array<[string, TransportEvent, string | null]> = [
    ['a refused dial', { type: 'dial-failed', address: target, message: 'ECONNREFUSED' }, 'ERR_UNREACHABLE'],
    ['a dial elsewhere', { type: 'dial-failed', address: '127.0.0.1:9999', message: 'ECONNREFUSED' }, null],
    ['a wrong cookie', { type: 'handshake-failed', remoteAddress: target, reason: 'bad-cookie', message: 'x' }, 'ERR_AUTHENTICATION'],
    ['another cluster', { type: 'handshake-failed', remoteAddress: target, reason: 'cluster-name', message: 'x' }, 'ERR_CLUSTER_NAME'],
    ['another release', { type: 'handshake-failed', remoteAddress: target, reason: 'protocol-version', message: 'x' }, 'ERR_PROTOCOL_VERSION'],
    ['an HTTP answer', { type: 'handshake-failed', remoteAddress: target, reason: 'frame-too-large', message: 'x' }, 'ERR_NOT_A_NODE'],
    ['garbage', { type: 'handshake-failed', remoteAddress: target, reason: 'bad-frame', message: 'x' }, 'ERR_NOT_A_NODE'],
    ['a handshake timeout', { type: 'handshake-failed', remoteAddress: target, reason: 'timeout', message: 'x' }, 'ERR_UNREACHABLE'],
    ['a link up', { type: 'link-up', peer: { name: 'n', address: target, generation: 1 } }, null],
  ];
  for (const [what, event, code] of cases) {
    it(`${what} → ${code ?? 'nothing'}`, () => assert.equal(joinFailure(event, target, 'n@127.0.0.1', resolve, 'troupe')?.code ?? null, code));
  }
});
