import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiscoveryState } from '../../discovery/index.js';
import { buildDiscoveryReport } from '../../lib/discovery-report.js';
import type { MemberStatus } from '../../lib/node-api.js';

const member = (name: string, address: string, state: MemberStatus['state'], self = false): MemberStatus => ({ name, address, state, incarnation: 1, generation: 1, lastHeartbeatAgoMs: null, lagMs: 0, self });

const state: DiscoveryState = {
  mode: 'dns',
  candidates: ['10.0.0.1:9100', '10.0.0.2:9100', '10.0.0.3:9100', '10.0.0.4:9100', '10.0.0.5:9100', '10.0.0.6:9100'].map((address) => ({ address, source: 'dns' })),
  records: [],
  unavailable: null,
  lastPollAt: 1,
  lastError: null,
  queries: 4,
  failures: { 'dns:nxdomain': 1 },
  rejected: [{ address: '10.0.0.9:9100', name: 'x@other', source: 'epmd', reason: 'wrong-cluster-name', detail: 'cluster "blue"' }],
  parts: [{ mode: 'dns', candidates: [], records: [], unavailable: null, lastPollAt: 1, lastError: null, queries: 4, failures: { nxdomain: 1 } }],
};

describe('buildDiscoveryReport', () => {
  it('gives each candidate its outcome, matching members through the transport aliases', () => {
    const aliases: Record<string, string> = { '10.0.0.1:9100': 'me.svc:9100', '10.0.0.2:9100': 'b.svc:9100', '10.0.0.6:9100': 'f.svc:9100' };
    const report = buildDiscoveryReport({
      state,
      status: { modes: ['dns'], candidates: state.candidates.map((c) => c.address), lastPollAt: null, lastError: null, unavailable: null },
      members: [member('me@me.svc', 'me.svc:9100', 'up', true), member('b@b.svc', 'b.svc:9100', 'up'), member('f@f.svc', 'f.svc:9100', 'down')],
      selfAddress: 'me.svc:9100',
      resolve: (address) => aliases[address] ?? address,
      handshakeFailures: new Map([['10.0.0.3:9100', { reason: 'bad-cookie' as const, message: 'proof did not verify' }]]),
      dialFailures: new Map([['10.0.0.4:9100', 'ECONNREFUSED']]),
    });
    const outcomes = Object.fromEntries(report.candidateReports.map((c) => [c.address, [c.outcome, c.detail]]));
    assert.deepEqual(outcomes, {
      '10.0.0.1:9100': ['self', null],
      '10.0.0.2:9100': ['joined', null],
      '10.0.0.3:9100': ['wrong-cookie', 'proof did not verify'],
      '10.0.0.4:9100': ['unreachable', 'ECONNREFUSED'],
      '10.0.0.5:9100': ['pending', null],
      '10.0.0.6:9100': ['down', null],
      '10.0.0.9:9100': ['wrong-cluster-name', 'cluster "blue"'],
    });
    assert.equal(report.candidateReports.find((c) => c.address === '10.0.0.2:9100')!.name, 'b@b.svc');
    assert.deepEqual(report.perMode, [{ mode: 'dns', unavailable: null, lastPollAt: 1, lastError: null, queries: 4, failures: { nxdomain: 1 }, candidates: 0 }]);
    assert.equal(report.queries, 4);
  });

  it('is empty before discovery has a state', () => {
    const report = buildDiscoveryReport({ state: undefined, status: { modes: [], candidates: [], lastPollAt: null, lastError: null, unavailable: null }, members: [], selfAddress: 'a:1', resolve: (a) => a, handshakeFailures: new Map(), dialFailures: new Map() });
    assert.deepEqual(report.candidateReports, []);
    assert.deepEqual(report.perMode, []);
  });
});
