import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatAge, formatDuration, formatTable } from '../../lib/cli/format.js';

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
