import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiscoveryRecord } from '../../../discovery/discovery.js';
import { InstanceTable } from '../../../discovery/multicast-instances.js';
import type { Verdict } from '../../../discovery/multicast-announcement.js';

const candidate = (address: string, generation = 1): Verdict => ({ kind: 'candidate', candidate: { address, name: `n@${address}`, source: 'epmd' }, node: `n@${address}`, generation });
const otherCluster: Verdict = { kind: 'ignored', reason: 'other-cluster', detail: 'cluster b' };
const record = (name: string, data = 'x'): DiscoveryRecord => ({ source: 'epmd', type: 'announcement', name, data });
const table = (limits: Partial<{ staleAfterMs: number; maxInstances: number; maxRecords: number }> = {}) => new InstanceTable({ staleAfterMs: 1000, maxInstances: 10, maxRecords: 10, ...limits });
const addresses = (t: InstanceTable) => t.candidates().map((c) => c.address);

describe('InstanceTable', () => {
  it('proposes candidates only, sorted by address, one per address', () => {
    const t = table();
    t.announce('b._troupe._tcp.local', candidate('10.0.0.2:9100'), 0, record('b'));
    t.announce('a._troupe._tcp.local', candidate('10.0.0.1:9100'), 0, record('a'));
    t.announce('a-again._troupe._tcp.local', candidate('10.0.0.1:9100'), 0, record('a2'));
    t.announce('x._troupe._tcp.local', otherCluster, 0, record('x'));
    t.announce('self._troupe._tcp.local', { kind: 'self' }, 0, record('self'));
    assert.deepEqual(addresses(t), ['10.0.0.1:9100', '10.0.0.2:9100']);
  });

  it('says whether a verdict is new: a repeat is not, a new generation or reason is', () => {
    const t = table();
    assert.deepEqual(t.announce('x', otherCluster, 0, record('x')), { accepted: true, verdictChanged: true });
    assert.deepEqual(t.announce('X', otherCluster, 1, record('x')), { accepted: true, verdictChanged: false }, 'names compare case-insensitively');
    assert.deepEqual(t.announce('x', { ...otherCluster, detail: 'cluster c' }, 2, record('x')), { accepted: true, verdictChanged: true });
    t.announce('b', candidate('10.0.0.2:9100', 1), 0, record('b'));
    assert.deepEqual(t.announce('b', candidate('10.0.0.2:9100', 2), 0, record('b')), { accepted: true, verdictChanged: true });
  });

  it('lets an unheard instance go stale after staleAfterMs, and revives it when heard', () => {
    const t = table({ staleAfterMs: 1000 });
    t.announce('b', candidate('10.0.0.2:9100'), 0, record('b'));
    assert.equal(t.expire(1000), false, 'not yet: exactly at the limit');
    t.heard('b', 900);
    assert.equal(t.expire(1500), false, 'heard at 900: fresh until 1900');
    assert.equal(t.expire(1901), true);
    assert.deepEqual(addresses(t), []);
    assert.equal(t.expire(5000), false, 'already stale: no change');
    assert.equal(t.heard('B', 6000), true, 'heard again: revived');
    assert.deepEqual(addresses(t), ['10.0.0.2:9100']);
    assert.equal(t.heard('b', 6001), false, 'already fresh');
    assert.equal(t.heard('unknown', 6001), false);
  });

  it('a new announcement of a stale instance makes it fresh', () => {
    const t = table({ staleAfterMs: 10 });
    t.announce('b', candidate('10.0.0.2:9100', 1), 0, record('b'));
    t.expire(100);
    t.announce('b', candidate('10.0.0.2:9100', 2), 100, record('b'));
    assert.deepEqual(addresses(t), ['10.0.0.2:9100']);
  });

  it('forgets an instance at its goodbye, and records the goodbye', () => {
    const t = table();
    t.announce('b', candidate('10.0.0.2:9100'), 0, record('b', 'hello'));
    assert.equal(t.goodbye('b', { ...record('b', 'bye'), type: 'goodbye', ttl: 0 }), true);
    assert.deepEqual(addresses(t), []);
    assert.deepEqual(t.records().map((r) => r.data), ['bye']);
    assert.equal(t.goodbye('b', record('b')), false, 'unknown now');
  });

  it('bounds instances (a new one past the bound is refused, a known one still updates) and records (oldest first out)', () => {
    const t = table({ maxInstances: 2, maxRecords: 2 });
    t.announce('a', candidate('10.0.0.1:9100'), 0, record('a', 'a'));
    t.announce('b', candidate('10.0.0.2:9100'), 0, record('b', 'b'));
    assert.deepEqual(t.announce('c', candidate('10.0.0.3:9100'), 0, record('c', 'c')), { accepted: false });
    assert.equal(t.announce('a', candidate('10.0.0.1:9100', 2), 0, record('a', 'a2')).accepted, true);
    assert.equal(t.size, 2);
    assert.deepEqual(t.records().map((r) => r.data), ['b', 'a2'], 'one record per instance, newest last');
    const r = table({ maxRecords: 2 });
    for (const name of ['a', 'b', 'c']) r.announce(name, otherCluster, 0, record(name, name));
    assert.deepEqual(r.records().map((x) => x.data), ['b', 'c']);
  });
});
