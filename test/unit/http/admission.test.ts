import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, isExempt } from '../../../lib/http/admission.js';

/** An Admission whose turns end only when the test says so. */
function manualTurns(limit: number) {
  const pending: Array<() => void> = [];
  const admission = new Admission(limit, (callback) => pending.push(callback));
  const endTurn = () => {
    for (const callback of pending.splice(0)) callback();
  };
  return { admission, endTurn };
}

describe('Admission', () => {
  it('admits up to the limit in flight and sheds beyond it', () => {
    const { admission } = manualTurns(2);
    assert.equal(admission.tryAcquire(), true);
    assert.equal(admission.tryAcquire(), true);
    assert.equal(admission.tryAcquire(), false);
    assert.equal(admission.load(), 2);
  });

  it('counts requests finished earlier in the same event-loop turn, and forgets them when the turn ends', () => {
    const { admission, endTurn } = manualTurns(2);
    // Two requests served back to back in one turn: the third of that turn waited behind both.
    assert.equal(admission.tryAcquire(), true);
    admission.release();
    assert.equal(admission.tryAcquire(), true);
    admission.release();
    assert.equal(admission.tryAcquire(), false);
    endTurn();
    assert.equal(admission.load(), 0);
    assert.equal(admission.tryAcquire(), true);
  });

  it('refuses a limit that would shed everything', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) assert.throws(() => new Admission(limit), { name: 'ConfigError' }, String(limit));
  });

  it('a request still in flight when the turn ends keeps counting', () => {
    const { admission, endTurn } = manualTurns(1);
    assert.equal(admission.tryAcquire(), true);
    endTurn();
    assert.equal(admission.tryAcquire(), false);
    admission.release();
    endTurn();
    assert.equal(admission.tryAcquire(), true);
  });
});

describe('isExempt', () => {
  for (const [method, url, exempt] of [
    ['GET', '/health', true],
    ['GET', '/health/live', true],
    ['HEAD', '/health/ready', true],
    ['GET', '/health?x=1', true],
    ['GET', '/healthz', false],
    ['GET', '/api/cluster/status', false],
    ['HEAD', '/metrics', false],
    ['GET', '/metrics?name[]=x', false],
    ['POST', '/api/cluster/join', true],
    ['DELETE', '/api/cluster/nodes/n2@127.0.0.1', true],
    ['GET', '/api/topics/chat/events', true],
    ['GET', '/api/topics/$cluster/events?lastEventId=a-1', true],
    ['GET', '/api/topics/chat', false],
    ['GET', '/api/topics/chat/events/more', false],
  ] as const) {
    it(`${method} ${url}: ${exempt ? 'never shed' : 'may be shed'}`, () => assert.equal(isExempt(method, url), exempt));
  }
});
