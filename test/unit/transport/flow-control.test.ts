import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyCredit, newConnectionFlow, receivedBytes, writableThrough } from '../../../lib/transport/flow-control.js';

describe('flow control', () => {
  it('opens bulk classes only while the bytes in flight are below the window', () => {
    const table: Array<[number, number, 'low' | 'high']> = [
      [0, 0, 'low'],
      [999, 0, 'low'],
      [1_000, 0, 'high'],
      [5_000, 4_001, 'low'],
      [5_000, 4_000, 'high'],
    ];
    for (const [sent, acked, expected] of table) assert.equal(writableThrough({ ...newConnectionFlow(), sent, acked }, 1_000), expected, `sent ${sent} acked ${acked}`);
  });

  it('credits the total received once a quarter window has accumulated', () => {
    const flow = newConnectionFlow();
    assert.equal(receivedBytes(flow, 100, 1_000), null);
    assert.equal(receivedBytes(flow, 100, 1_000), null);
    assert.equal(receivedBytes(flow, 50, 1_000), 250);
    assert.equal(receivedBytes(flow, 249, 1_000), null);
    assert.equal(receivedBytes(flow, 1, 1_000), 500);
    assert.equal(flow.credited, 500);
  });

  it('accepts only credits that move forward', () => {
    const flow = newConnectionFlow();
    assert.equal(applyCredit(flow, 300), true);
    assert.equal(applyCredit(flow, 200), false);
    assert.equal(applyCredit(flow, 'x'), false);
    assert.equal(applyCredit(flow, Number.NaN), false);
    assert.equal(flow.acked, 300);
  });
});
