import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { announcementTxt, describeAnnouncement, instanceName, judgeAnnouncement, MAX_INSTANCE_NAME_BYTES, rejectedCandidate, type LocalNode, type Verdict } from '../../../discovery/multicast-announcement.js';

const self: LocalNode = { name: 'n1@10.0.0.1', address: '10.0.0.1:9100', port: 9100, generation: 3, clusterName: 'prod', protocolVersion: 1 };
const peer = { node: 'n2@10.0.0.2', cluster: 'prod', port: '9100', proto: '1', gen: '5', addr: '10.0.0.2:9100' };

interface Case {
  what: string;
  txt: unknown;
  /** 'candidate:<address>', 'self', or 'ignored:<reason>'. */
  expected: string;
}

const cases: Case[] = [
  { what: 'a node of this cluster', txt: peer, expected: 'candidate:10.0.0.2:9100' },
  { what: 'another host on the same port as this node', txt: { ...peer, addr: '10.0.0.2:9100' }, expected: 'candidate:10.0.0.2:9100' },
  { what: 'another node on this host, another port', txt: { ...peer, node: 'n3@10.0.0.1', port: '9101', addr: '10.0.0.1:9101' }, expected: 'candidate:10.0.0.1:9101' },
  { what: 'no addr: the host of the node name and the port', txt: { ...peer, addr: undefined }, expected: 'candidate:10.0.0.2:9100' },
  { what: 'a host name in the node name', txt: { ...peer, node: 'n2@db-2.lan', addr: undefined, port: '9200' }, expected: 'candidate:db-2.lan:9200' },
  { what: 'an IPv6 host is bracketed', txt: { ...peer, node: 'n2@[fd00::2]', addr: '[fd00::2]:9100' }, expected: 'candidate:[fd00::2]:9100' },
  { what: 'no generation (still proposed)', txt: { ...peer, gen: undefined }, expected: 'candidate:10.0.0.2:9100' },
  { what: 'extra unknown fields (a later release)', txt: { ...peer, zone: 'b', txtvers: '2' }, expected: 'candidate:10.0.0.2:9100' },
  { what: 'itself', txt: announcementTxt(self), expected: 'self' },
  { what: 'itself, announced by an earlier generation', txt: { ...announcementTxt(self), gen: '2' }, expected: 'self' },
  { what: 'another cluster', txt: { ...peer, cluster: 'staging' }, expected: 'ignored:other-cluster' },
  { what: 'another cluster that looks like this node', txt: { ...announcementTxt(self), cluster: 'staging' }, expected: 'ignored:other-cluster' },
  { what: 'another protocol version', txt: { ...peer, proto: '2' }, expected: 'ignored:protocol-version' },
  { what: 'no TXT at all', txt: undefined, expected: 'ignored:malformed' },
  { what: 'TXT is not an object', txt: 'node=n2', expected: 'ignored:malformed' },
  { what: 'empty TXT', txt: {}, expected: 'ignored:malformed' },
  { what: 'no node', txt: { ...peer, node: undefined }, expected: 'ignored:malformed' },
  { what: 'no cluster', txt: { ...peer, cluster: undefined }, expected: 'ignored:malformed' },
  { what: 'no port', txt: { ...peer, port: undefined }, expected: 'ignored:malformed' },
  { what: 'no protocol version', txt: { ...peer, proto: undefined }, expected: 'ignored:malformed' },
  { what: 'a key without value (decoded as true)', txt: { ...peer, node: true }, expected: 'ignored:malformed' },
  { what: 'a port that is not a number', txt: { ...peer, port: 'http' }, expected: 'ignored:malformed' },
  { what: 'port 0', txt: { ...peer, port: '0' }, expected: 'ignored:malformed' },
  { what: 'a port out of range', txt: { ...peer, port: '70000' }, expected: 'ignored:malformed' },
  { what: 'a negative port', txt: { ...peer, port: '-1' }, expected: 'ignored:malformed' },
  { what: 'a version that is not a number', txt: { ...peer, proto: 'v1' }, expected: 'ignored:malformed' },
  { what: 'a node name without host', txt: { ...peer, node: 'n2', addr: undefined }, expected: 'ignored:malformed' },
  { what: 'a node name with a port of its own', txt: { ...peer, node: 'n2@10.0.0.2:9300', addr: undefined }, expected: 'ignored:malformed' },
  { what: 'a node name with spaces', txt: { ...peer, node: 'n 2@10.0.0.2' }, expected: 'ignored:malformed' },
  { what: 'addr on another port than port', txt: { ...peer, addr: '10.0.0.2:9999' }, expected: 'ignored:malformed' },
  { what: 'addr that is a node name', txt: { ...peer, addr: 'n2@10.0.0.2:9100' }, expected: 'ignored:malformed' },
  { what: 'addr that is junk', txt: { ...peer, addr: '::::' }, expected: 'ignored:malformed' },
  { what: 'an oversized value', txt: { ...peer, node: `n2@${'a'.repeat(300)}` }, expected: 'ignored:malformed' },
  { what: 'node inherited from the prototype only', txt: Object.assign(Object.create({ node: 'n2@10.0.0.2' }), { cluster: 'prod', port: '9100', proto: '1' }), expected: 'ignored:malformed' },
];

const summary = (v: Verdict) => (v.kind === 'candidate' ? `candidate:${v.candidates.map((c) => c.address).join(',')}` : v.kind === 'self' ? 'self' : `ignored:${v.reason}`);

describe('judgeAnnouncement', () => {
  for (const c of cases) {
    it(`${c.expected}: ${c.what}`, () => {
      const txt = c.txt && typeof c.txt === 'object' && Object.getPrototypeOf(c.txt) === Object.prototype ? Object.fromEntries(Object.entries(c.txt).filter(([, v]) => v !== undefined)) : c.txt;
      const verdict = judgeAnnouncement(txt, self);
      assert.equal(summary(verdict), c.expected, JSON.stringify(verdict));
      if (verdict.kind === 'ignored') assert.ok(verdict.detail.length > 0, 'a refusal says why');
    });
  }

  it('a candidate carries the node name, the source and the generation', () => {
    const verdict = judgeAnnouncement(peer, self, 'epmd');
    assert.deepEqual(verdict, { kind: 'candidate', candidates: [{ address: '10.0.0.2:9100', name: 'n2@10.0.0.2', source: 'epmd' }], node: 'n2@10.0.0.2', generation: 5 });
  });

  describe("the sender's address", () => {
    const named = { ...peer, node: 'troupe@db-2', addr: 'db-2:9100' };
    const table: Array<{ what: string; txt: object; sender: string | undefined; expected: string }> = [
      { what: 'a host name advertised: the sender IP is proposed too, after it', txt: named, sender: '10.0.0.2', expected: 'candidate:db-2:9100,10.0.0.2:9100' },
      { what: 'a host name in node= only (no addr)', txt: { ...named, addr: undefined }, sender: '10.0.0.2', expected: 'candidate:db-2:9100,10.0.0.2:9100' },
      { what: 'an IPv6 sender is bracketed', txt: named, sender: 'fd00::2', expected: 'candidate:db-2:9100,[fd00::2]:9100' },
      { what: 'an IP advertised: the advertised address only', txt: peer, sender: '10.0.0.9', expected: 'candidate:10.0.0.2:9100' },
      { what: 'an IPv6 advertised: the advertised address only', txt: { ...peer, node: 'n2@[fd00::2]', addr: '[fd00::2]:9100' }, sender: '10.0.0.9', expected: 'candidate:[fd00::2]:9100' },
      { what: 'no sender known', txt: named, sender: undefined, expected: 'candidate:db-2:9100' },
      { what: 'a sender that is not an IP address', txt: named, sender: 'db-2', expected: 'candidate:db-2:9100' },
      { what: 'a scoped IPv6 sender', txt: named, sender: 'fe80::2%eth0', expected: 'candidate:db-2:9100' },
      { what: "never this node's own address", txt: named, sender: '10.0.0.1', expected: 'candidate:db-2:9100' },
      { what: 'another cluster: still not proposed', txt: { ...named, cluster: 'staging' }, sender: '10.0.0.2', expected: 'ignored:other-cluster' },
    ];
    for (const c of table) {
      it(`${c.expected}: ${c.what}`, () => {
        const txt = Object.fromEntries(Object.entries(c.txt).filter(([, v]) => v !== undefined));
        assert.equal(summary(judgeAnnouncement(txt, self, 'epmd', c.sender)), c.expected);
      });
    }

    it('both candidates carry the node name, and the record says which is the sender', () => {
      const verdict = judgeAnnouncement(named, self, 'epmd', '10.0.0.2');
      assert.ok(verdict.kind === 'candidate');
      assert.deepEqual(verdict.candidates.map((c) => c.name), ['troupe@db-2', 'troupe@db-2']);
      assert.match(describeAnnouncement(named, '10.0.0.2', verdict), /proposed db-2:9100 and 10\.0\.0\.2:9100 \(sender's address\)$/);
    });
  });

  it('the refusal of another cluster names both cluster names', () => {
    const verdict = judgeAnnouncement({ ...peer, cluster: 'staging' }, self);
    assert.ok(verdict.kind === 'ignored' && verdict.detail.includes('staging') && verdict.detail.includes('prod'));
  });

  it('the refusal of another version says what to do', () => {
    const verdict = judgeAnnouncement({ ...peer, proto: '7' }, self);
    assert.ok(verdict.kind === 'ignored' && /protocol 7/.test(verdict.detail) && /same troupe release/.test(verdict.detail));
  });

  it('never throws, whatever the TXT holds', () => {
    const value = fc.oneof(fc.string(), fc.integer().map(String), fc.constant(true), fc.constant(null), fc.constant(undefined), fc.object());
    const txt = fc.oneof(
      fc.anything(),
      fc.record({ node: value, cluster: fc.oneof(value, fc.constant('prod')), port: value, proto: fc.oneof(value, fc.constant('1')), gen: value, addr: value }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(txt, (t) => {
        const verdict = judgeAnnouncement(t, self);
        assert.ok(['candidate', 'self', 'ignored'].includes(verdict.kind));
        assert.equal(typeof describeAnnouncement(t, '10.0.0.9', verdict), 'string');
      }),
      { numRuns: 500 },
    );
  });
});

describe('rejectedCandidate', () => {
  it('this node, another cluster, another version: with the address they would have had', () => {
    assert.deepEqual(rejectedCandidate(judgeAnnouncement(announcementTxt(self), self), 'epmd'), { address: '10.0.0.1:9100', name: 'n1@10.0.0.1', source: 'epmd', reason: 'self', detail: "this node's own announcement" });
    const cluster = rejectedCandidate(judgeAnnouncement({ ...peer, cluster: 'staging' }, self), 'epmd');
    assert.deepEqual({ ...cluster, detail: undefined }, { address: '10.0.0.2:9100', name: 'n2@10.0.0.2', source: 'epmd', reason: 'wrong-cluster-name', detail: undefined });
    assert.match(cluster!.detail, /staging/);
    const version = rejectedCandidate(judgeAnnouncement({ ...peer, proto: '9' }, self), 'epmd');
    assert.equal(version?.reason, 'wrong-protocol-version');
    assert.equal(version?.address, '10.0.0.2:9100');
  });

  it('nothing for a candidate or a malformed announcement', () => {
    assert.equal(rejectedCandidate(judgeAnnouncement(peer, self), 'epmd'), undefined);
    assert.equal(rejectedCandidate(judgeAnnouncement({ ...peer, port: 'x' }, self), 'epmd'), undefined);
  });
});

describe('announcementTxt', () => {
  it('carries node, cluster, port, protocol version, generation and address, as strings', () => {
    assert.deepEqual(announcementTxt(self), { node: 'n1@10.0.0.1', cluster: 'prod', port: '9100', proto: '1', gen: '3', addr: '10.0.0.1:9100' });
  });
});

describe('instanceName', () => {
  it('is the node name and port, dots turned into dashes', () => {
    assert.equal(instanceName('n1@10.0.0.1', 9100), 'n1@10-0-0-1:9100');
  });

  it('differs for two nodes on one host', () => {
    assert.notEqual(instanceName('a@10.0.0.1', 9100), instanceName('a@10.0.0.1', 9101));
  });

  it('fits one DNS label and stays unique when the name is long', () => {
    const long = `${'x'.repeat(80)}@host.example.org`;
    const a = instanceName(long, 9100);
    const b = instanceName(long, 9101);
    assert.ok(Buffer.byteLength(a) <= MAX_INSTANCE_NAME_BYTES, a);
    assert.notEqual(a, b);
    assert.ok(!a.includes('.'));
  });

  it('never contains a dot and never exceeds a label', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), fc.integer({ min: 1, max: 65535 }), (name, port) => {
        const instance = instanceName(name, port);
        assert.ok(!instance.includes('.'));
        assert.ok(Buffer.byteLength(instance) <= MAX_INSTANCE_NAME_BYTES);
      }),
    );
  });
});
