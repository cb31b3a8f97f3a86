import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentMessages } from '../../../lib/remote/recent-messages.js';

const seqs = (messages: { seq: number }[] | null) => messages?.map((m) => m.seq) ?? null;

describe('RecentMessages', () => {
  it('resumes exactly after any number it still covers', () => {
    const ring = new RecentMessages(10, { maxMessages: 3, maxBytes: 1000 });
    for (const seq of [12, 15, 16]) ring.append({ seq, data: `"${seq}"` });
    assert.deepEqual(seqs(ring.after(10)), [12, 15, 16], 'from its start: numbers of other topics in between are not gaps');
    assert.deepEqual(seqs(ring.after(13)), [15, 16]);
    assert.deepEqual(seqs(ring.after(16)), []);
    assert.equal(ring.after(9), null, 'before the feed existed: unknown');
  });

  it('evicts the oldest beyond the count or the bytes, and then refuses resumes from before them', () => {
    const ring = new RecentMessages(0, { maxMessages: 3, maxBytes: 12 });
    for (let seq = 1; seq <= 4; seq++) ring.append({ seq, data: '"ab"' }); // 4 bytes each
    assert.deepEqual(seqs(ring.all()), [2, 3, 4], 'three by count');
    assert.equal(ring.after(0), null);
    assert.deepEqual(seqs(ring.after(1)), [2, 3, 4], 'the evicted one was the last before the resume point');
    ring.append({ seq: 5, data: '"a long message"' });
    assert.deepEqual(seqs(ring.all()), [5], 'bytes: a large message pushes the others out but is kept itself');
    assert.equal(ring.after(3), null);
    assert.deepEqual(seqs(ring.after(4)), [5]);
  });
});
