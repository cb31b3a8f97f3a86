import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatAge, formatDiscovery, formatDuration, formatTable } from '../../lib/cli/format.js';

describe('formatDuration', () => {
  const rows: Array<[number, string]> = [
    [0, '0ms'],
    [349.6, '350ms'],
    [999, '999ms'],
    [1000, '1.0s'],
    [4230, '4.2s'],
    [59_949, '59.9s'],
    [60_000, '1m00s'],
    [185_000, '3m05s'],
    [7_620_000, '2h07m'],
    [-1, '-'],
    [Number.NaN, '-'],
  ];
  for (const [ms, expected] of rows) it(`${ms} → ${expected}`, () => assert.equal(formatDuration(ms), expected));
});

describe('formatAge', () => {
  it('says never for null', () => assert.equal(formatAge(null), 'never'));
  it('says ago otherwise', () => assert.equal(formatAge(1500), '1.5s ago'));
});

describe('formatTable', () => {
  it('pads columns and leaves no trailing spaces', () => {
    assert.equal(formatTable([['A', 'BB', 'C'], ['aaa', 'b', '']]), 'A    BB  C\naaa  b\n');
  });
});

describe('formatDiscovery', () => {
  it('lists candidates with their outcome and the raw records', () => {
    const text = formatDiscovery({
      modes: ['dns'],
      candidates: ['10.0.0.5:9100'],
      lastPollAt: '2026-01-01T00:00:00.000Z',
      lastError: 'NXDOMAIN for _troupe._tcp.x',
      unavailable: null,
      queries: 7,
      failures: { nxdomain: 2 },
      records: [{ source: 'dns', type: 'SRV', name: '_troupe._tcp.x', ttl: 30, data: '0 0 9100 n1.x' }],
      candidateReports: [{ address: '10.0.0.5:9100', name: null, source: 'dns', outcome: 'unreachable', detail: 'ECONNREFUSED' }],
      perMode: [],
    });
    assert.match(text, /discovery: dns; 7 queries/);
    assert.match(text, /last error: NXDOMAIN/);
    assert.match(text, /failures: nxdomain=2/);
    assert.match(text, /10\.0\.0\.5:9100\s+-\s+dns\s+unreachable\s+ECONNREFUSED/);
    assert.match(text, /dns\s+SRV\s+_troupe\._tcp\.x\s+30\s+0 0 9100 n1\.x/);
  });
});
