import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServedQueries } from '../../../lib/remote/served-queries.js';

describe('ServedQueries', () => {
  it('forgets an answered query without releasing it again, and releases one whose deadline passed', () => {
    let now = 0;
    const served = new ServedQueries(() => now, 60_000);
    const released: string[] = [];
    const doneA = served.hold(100, () => released.push('a'));
    served.hold(200, () => released.push('b'));
    served.hold(300, () => released.push('c'));
    assert.equal(served.size, 3);
    doneA();
    now = 150;
    served.sweep();
    assert.deepEqual(released, [], 'a was answered; b and c are still within their deadlines');
    now = 200;
    served.sweep();
    assert.deepEqual(released, ['b']);
    assert.equal(served.size, 1);
    served.close();
    assert.deepEqual(released, ['b', 'c'], 'close releases what is still held');
    assert.equal(served.size, 0);
  });

  it('sweeps on its own timer while it holds queries', async () => {
    let now = 0;
    const served = new ServedQueries(() => now, 5);
    const released: number[] = [];
    served.hold(10, () => released.push(1));
    now = 11;
    const deadline = Date.now() + 5_000;
    while (released.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(released, [1]);
    assert.equal(served.size, 0);
    served.close();
  });
});
