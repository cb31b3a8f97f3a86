import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiscoveryRecord } from '../../../discovery/discovery.js';
import { InstanceTable, type InstanceLimits } from '../../../discovery/multicast-instances.js';
import type { Verdict } from '../../../discovery/multicast-announcement.js';

const candidate = (address: string, generation = 1): Verdict => ({ kind: 'candidate', candidates: [{ address, name: `n@${address}`, source: 'epmd' }], node: `n@${address}`, generation });
const otherCluster: Verdict = { kind: 'ignored', reason: 'other-cluster', detail: 'cluster b', address: '10.0.0.9:9100', node: 'x@10.0.0.9' };
const selfVerdict: Verdict = { kind: 'self', address: '10.0.0.1:9100', node: 'me@10.0.0.1' };
const record = (name: string, data = 'x'): DiscoveryRecord => ({ source: 'epmd', type: 'announcement', name, data });
const table = (limits: Partial<InstanceLimits> = {}) => new InstanceTable({ staleAfterMs: 1000, forgetAfterMs: 5000, maxInstances: 10, maxRecords: 10, ...limits });
const addresses = (t: InstanceTable) => t.candidates().map((c) => c.address);

describe('InstanceTable', () => {
  it('proposes candidates only, sorted by address, one per address', () => {
    const t = table();
    t.announce('b._troupe._tcp.local', candidate('10.0.0.2:9100'), 0, record('b'));
    t.announce('a._troupe._tcp.local', candidate('10.0.0.1:9100'), 0, record('a'));
    t.announce('a-again._troupe._tcp.local', candidate('10.0.0.1:9100'), 0, record('a2'));
    t.announce('x._troupe._tcp.local', otherCluster, 0, record('x'));
    t.announce('self._troupe._tcp.local', selfVerdict, 0, record('self'));
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
    assert.equal(t.expire(1000).changed, false, 'not yet: exactly at the limit');
    t.heard('b', 900);
    assert.equal(t.expire(1500).changed, false, 'heard at 900: fresh until 1900');
    assert.equal(t.expire(1901).changed, true);
    assert.deepEqual(addresses(t), []);
    assert.equal(t.expire(5000).changed, false, 'already stale: no change');
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

  it('proposes every address of a candidate (advertised and sender), deduplicated across instances', () => {
    const t = table();
    const both: Verdict = { kind: 'candidate', candidates: [{ address: 'db-2:9100', name: 'n@db-2', source: 'epmd' }, { address: '10.0.0.2:9100', name: 'n@db-2', source: 'epmd' }], node: 'n@db-2', generation: 1 };
    t.announce('b', both, 0, record('b'));
    t.announce('b2', candidate('10.0.0.2:9100'), 0, record('b2'));
    assert.deepEqual(addresses(t), ['10.0.0.2:9100', 'db-2:9100']);
  });

  it('forgets an instance unheard for forgetAfterMs (a fresh or stale one alike), and says which', () => {
    const t = table({ staleAfterMs: 1000, forgetAfterMs: 5000 });
    t.announce('a', candidate('10.0.0.1:9100'), 0, record('a'));
    t.announce('x', otherCluster, 0, record('x'));
    t.announce('b', candidate('10.0.0.2:9100'), 4500, record('b'));
    assert.deepEqual(t.expire(2000), { changed: true, forgotten: [] }, 'a goes stale first');
    assert.deepEqual(t.expire(5001), { changed: false, forgotten: ['a', 'x'] }, 'a was stale already: no candidate change');
    assert.equal(t.has('a'), false);
    assert.equal(t.has('B'), true);
    assert.deepEqual(t.expire(9501), { changed: true, forgotten: ['b'] }, 'b, never expired before, leaves the candidates at once');
    assert.equal(t.size, 0);
    assert.equal(t.heard('a', 9502), false, 'a forgotten instance is not revived by an answer: it must announce again');
    assert.equal(t.announce('a', candidate('10.0.0.1:9100'), 9503, record('a')).accepted, true);
    assert.deepEqual(addresses(t), ['10.0.0.1:9100']);
  });

  it('at the bound, a new instance evicts the least recently heard one that proposes nothing', () => {
    const t = table({ maxInstances: 3, staleAfterMs: 1000 });
    t.announce('x', otherCluster, 0, record('x'));
    t.announce('self', selfVerdict, 10, record('self'));
    t.announce('a', candidate('10.0.0.1:9100'), 20, record('a'));
    t.heard('x', 30);
    assert.deepEqual(t.announce('b', candidate('10.0.0.2:9100'), 40, record('b')), { accepted: true, verdictChanged: true, evicted: 'self' }, 'self was heard least recently');
    assert.deepEqual(t.announce('c', candidate('10.0.0.3:9100'), 50, record('c')), { accepted: true, verdictChanged: true, evicted: 'x' });
    assert.deepEqual(t.announce('d', candidate('10.0.0.4:9100'), 60, record('d')), { accepted: false }, 'every instance is a fresh candidate: refused');
    t.expire(1025); // a (heard at 20) is stale now
    assert.deepEqual(t.announce('d', candidate('10.0.0.4:9100'), 1030, record('d')), { accepted: true, verdictChanged: true, evicted: 'a' }, 'a stale candidate gives way');
    assert.deepEqual(addresses(t), ['10.0.0.2:9100', '10.0.0.3:9100', '10.0.0.4:9100']);
  });

  it('never refuses for good: 5000 distinct instances over time, memory stays bounded, the newest is always taken', () => {
    const t = table({ maxInstances: 100, staleAfterMs: 1000, forgetAfterMs: 50_000 });
    for (let i = 0; i < 5000; i++) {
      const now = i * 100;
      t.expire(now);
      // Restarts under new names (CLUSTER_PORT=0), nodes of other clusters: each is heard once, then never again.
      const verdict: Verdict = i % 3 === 0 ? otherCluster : candidate(`10.0.${Math.floor(i / 250)}.${i % 250}:9100`);
      assert.equal(t.announce(`n${i}`, verdict, now, record(`n${i}`)).accepted, true, `instance ${i}`);
      assert.ok(t.size <= 100);
    }
  });

  it('lists the instances heard of and not proposed, with reason and address, most recently heard last, bounded', () => {
    const t = table();
    t.announce('self', selfVerdict, 0, record('self'));
    t.announce('x', otherCluster, 1, record('x'));
    t.announce('v', { kind: 'ignored', reason: 'protocol-version', detail: 'speaks 2', address: '10.0.0.8:9100', node: 'v@10.0.0.8' }, 2, record('v'));
    t.announce('m', { kind: 'ignored', reason: 'malformed', detail: 'no TXT' }, 3, record('m'));
    t.announce('a', candidate('10.0.0.1:9100'), 4, record('a'));
    t.heard('self', 5);
    assert.deepEqual(
      t.rejected('epmd', 10).map((r) => `${r.reason} ${r.address} ${r.name}`),
      ['wrong-cluster-name 10.0.0.9:9100 x@10.0.0.9', 'wrong-protocol-version 10.0.0.8:9100 v@10.0.0.8', 'self 10.0.0.1:9100 me@10.0.0.1'],
    );
    assert.deepEqual(t.rejected('epmd', 1).map((r) => r.reason), ['self']);
    assert.ok(t.rejected('epmd', 10).every((r) => r.source === 'epmd' && r.detail.length > 0));
    t.goodbye('x', record('x'));
    assert.deepEqual(t.rejected('epmd', 10).map((r) => r.reason), ['wrong-protocol-version', 'self']);
  });

  it('bounds instances (a known one still updates at the bound) and records (oldest first out)', () => {
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
