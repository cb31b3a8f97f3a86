import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floorDeadline, shiftProbeDeadline, stallGrace, stallMs, suspicionDeadline } from '../../../lib/protocol/swim/suspicion.js';

test('suspicionDeadline: timeout plus the member reported lag, capped at one more timeout, never shorter', () => {
  const table: [number, number, number, number][] = [
    // now, timeout, lag, expected
    [0, 10_000, 0, 10_000],
    [1000, 10_000, 250, 11_250],
    [0, 10_000, 4000, 14_000],
    [0, 10_000, 50_000, 20_000],
    [0, 10_000, -5, 10_000],
  ];
  for (const [now, timeout, lag, expected] of table) assert.equal(suspicionDeadline(now, timeout, lag), expected, `lag ${lag}`);
});

test('stallMs: lateness beyond the tolerance counts, within it none', () => {
  const table: [number, number | null, number, number][] = [
    [1000, 1000, 100, 0],
    [1100, 1000, 100, 0],
    [1101, 1000, 100, 101],
    [6000, 1000, 100, 5000],
    [6000, null, 100, 0],
    [900, 1000, 100, 0],
  ];
  for (const [now, armed, tolerance, expected] of table) assert.equal(stallMs(now, armed, tolerance), expected);
});

test('after a stall, probe deadlines move by the stall, other deadlines are only floored at now + grace', () => {
  assert.equal(stallGrace(1000), 50);
  assert.equal(stallGrace(20), 20);
  // stall of 5000 detected at 6000 (armed 1000): a probe deadline at 1000 moves to 6000, floored at 6050.
  assert.equal(shiftProbeDeadline(1000, 5000, 6000, 50), 6050);
  assert.equal(shiftProbeDeadline(1800, 5000, 6000, 50), 6800);
  assert.equal(floorDeadline(3000, 6000, 50), 6050, 'a suspicion that expired during the stall waits for queued input');
  assert.equal(floorDeadline(9000, 6000, 50), 9000, 'a later suspicion keeps its time');
});
