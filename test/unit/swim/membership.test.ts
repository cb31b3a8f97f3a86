import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSwimConfig } from '../../../lib/protocol/swim/config.js';
import type { SwimMessage } from '../../../lib/protocol/swim/membership.js';
import type { MemberRecord } from '../../../lib/protocol/swim/record.js';
import { nameOf, Wire, type WireMessage } from '../../sim/wire.js';

const config = defaultSwimConfig(1000, 5000);
const between = (x: string, y: string) => (m: WireMessage) =>
  (nameOf(m.from) === x && nameOf(m.to) === y) || (nameOf(m.from) === y && nameOf(m.to) === x);
const touching = (x: string) => (m: WireMessage) => nameOf(m.from) === x || nameOf(m.to) === x;
const record = (w: Wire, name: string): MemberRecord => {
  const v = w.node(name).core.self();
  return { name: v.name, address: v.address, generation: v.generation, incarnation: v.incarnation, state: v.state };
};

/** Runs in small steps until `done()` or `maxMs` pass; returns whether it happened. */
function runUntil(w: Wire, done: () => boolean, maxMs: number): boolean {
  const end = w.now + maxMs;
  while (w.now < end) {
    if (done()) return true;
    w.run(10);
  }
  return done();
}

test('ping/ack: members probe each other and stay up', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b']);
  w.run(5000);
  const a = w.node('a').core.stats();
  assert.ok(a.probesSent >= 4, `probes sent: ${a.probesSent}`);
  assert.equal(a.probesFailed, 0);
  const ping = w.node('a').sent.find((m) => m.msg.type === 'ping')!.msg as Extract<SwimMessage, { type: 'ping' }>;
  assert.ok(w.node('b').sent.some((m) => m.msg.type === 'ack' && m.msg.seq === ping.seq && m.msg.about === 'b'), 'b acked a ping with its seq');
  const b = w.viewOf('a', 'b')!;
  assert.equal(b.state, 'up');
  assert.ok(b.lastHeardAgoMs !== null && b.lastHeardAgoMs <= config.probeIntervalMs);
  assert.equal(w.viewOf('a', 'a')!.lastHeardAgoMs, null, 'null for self');
  assert.deepEqual(w.eventsAbout('a', 'b'), ['member-joining', 'member-up']);
  assert.ok(w.node('a').events.some((e) => e.type === 'self-up'));
});

test('indirect probe: with the a-b link cut, probes succeed through c and nobody is suspected', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  const before = w.eventsAbout('a', 'b').length;
  w.rule = (m) => (between('a', 'b')(m) ? 'drop' : 'deliver');
  w.run(20_000);
  const stats = w.node('a').core.stats();
  assert.ok(stats.indirectProbesSent > 0);
  assert.equal(stats.suspicionsRaised, 0);
  assert.equal(stats.probesFailed, 0);
  assert.deepEqual(w.eventsAbout('a', 'b').slice(before), [], 'no state change of b seen by a');
  assert.equal(w.viewOf('b', 'a')!.state, 'up');
});

test('suspicion is refuted by a higher incarnation: suspect, then up, never down', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  w.rule = (m) => (touching('b')(m) ? 'drop' : 'deliver');
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.state === 'suspect', 10_000), 'a suspects the silent b');
  const accused = w.viewOf('a', 'b')!.incarnation;
  w.rule = () => 'deliver';
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.state === 'up' && w.viewOf('c', 'b')!.state === 'up', config.suspicionTimeoutMs), 'the suspicion was refuted in time');
  assert.ok(w.node('b').core.self().incarnation > accused);
  assert.ok(w.node('b').core.stats().suspicionsRefuted >= 1);
  w.run(2 * config.suspicionTimeoutMs);
  for (const observer of ['a', 'c']) {
    assert.ok(!w.eventsAbout(observer, 'b').includes('member-down'), `${observer} never declared b down`);
    assert.equal(w.viewOf(observer, 'b')!.state, 'up');
  }
});

test('suspicion ends in down when the member stays silent; exactly one event each', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  const before = w.eventsAbout('a', 'b').length;
  w.kill('b');
  w.run(config.suspicionTimeoutMs + 5 * config.probeIntervalMs);
  for (const observer of ['a', 'c']) {
    assert.deepEqual(w.eventsAbout(observer, 'b').slice(observer === 'a' ? before : 2), ['member-suspect', 'member-down'], observer);
    assert.equal(w.viewOf(observer, 'b')!.state, 'down');
  }
  assert.equal(w.node('a').core.self().state, 'up');
});

test('a node declared down while alive refutes and is readmitted', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  w.rule = (m) => (touching('b')(m) ? 'drop' : 'deliver');
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.state === 'down' && w.viewOf('c', 'b')!.state === 'down', 20_000));
  const downAt = w.viewOf('a', 'b')!.incarnation;
  w.rule = () => 'deliver';
  assert.ok(runUntil(w, () => ['a', 'c'].every((o) => w.viewOf(o, 'b')!.state === 'up') && ['a', 'c'].every((s) => w.viewOf('b', s)!.state === 'up'), 60_000));
  assert.ok(w.viewOf('a', 'b')!.incarnation > downAt);
  assert.deepEqual(w.eventsAbout('a', 'b').slice(-3), ['member-suspect', 'member-down', 'member-up']);
});

test('a restart is a new generation: it replaces the old record, and the old generation is dropped', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b']);
  const stale = record(w, 'b');
  w.kill('b');
  w.add('b', 2);
  w.step('b', { type: 'join', addresses: [Wire.address('a')] });
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.generation === 2 && w.viewOf('a', 'b')!.state === 'up', 1000));
  assert.equal(w.viewOf('a', 'b')!.generation, 2);
  assert.equal(w.viewOf('a', 'b')!.state, 'up');
  assert.deepEqual(w.eventsAbout('a', 'b'), ['member-joining', 'member-up', 'member-joining', 'member-up']);
  const dropped = w.node('a').core.stats().messagesDropped;
  w.step('a', { type: 'message', from: stale.address, msg: { type: 'gossip', from: { ...stale, incarnation: 50 }, gossip: [{ ...stale, incarnation: 50, state: 'down' }] } });
  assert.equal(w.node('a').core.stats().messagesDropped, dropped + 1);
  assert.equal(w.viewOf('a', 'b')!.generation, 2);
  assert.equal(w.viewOf('a', 'b')!.state, 'up');
});

test('remove: only down or left members; a tombstone is gossiped and never resurrected; a new generation is admitted', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  const c1 = record(w, 'c');
  w.step('a', { type: 'remove', name: 'c' });
  w.step('a', { type: 'remove', name: 'a' });
  w.step('a', { type: 'remove', name: 'zed' });
  const rejections = w.node('a').events.filter((e) => e.type === 'rejected');
  assert.deepEqual(rejections.map((e) => e.type === 'rejected' && e.input), ['remove', 'remove', 'remove']);
  assert.match(rejections[0]!.type === 'rejected' ? rejections[0]!.reason : '', /is up; only down or left/);
  w.kill('c');
  assert.ok(runUntil(w, () => w.viewOf('a', 'c')?.state === 'down' && w.viewOf('b', 'c')?.state === 'down', 20_000));
  w.step('a', { type: 'remove', name: 'c' });
  w.run(2000);
  for (const observer of ['a', 'b']) {
    assert.equal(w.eventsAbout(observer, 'c').at(-1), 'member-removed', observer);
    assert.equal(w.viewOf(observer, 'c'), undefined, `${observer} forgot c`);
  }
  // Stale gossip (even at a huge incarnation) and messages of the removed process are ignored.
  const events = w.node('b').events.length;
  w.step('b', { type: 'message', from: Wire.address('a'), msg: { type: 'gossip', from: record(w, 'a'), gossip: [{ ...c1, incarnation: 99 }] } });
  w.step('b', { type: 'message', from: c1.address, msg: { type: 'ping', from: { ...c1, incarnation: 99 }, seq: 1, target: 'b', gossip: [] } });
  assert.equal(w.viewOf('b', 'c'), undefined);
  assert.equal(w.node('b').events.length, events);
  // A restart of c (generation 2) is a new process and is admitted.
  w.add('c', 2);
  w.step('c', { type: 'join', addresses: [Wire.address('b')] });
  assert.ok(runUntil(w, () => ['a', 'b'].every((o) => w.viewOf(o, 'c')?.state === 'up' && w.viewOf(o, 'c')?.generation === 2), 10_000));
});

test('graceful leave: leaving, then left sent to every member, leave-complete; others show left, never down', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  w.step('b', { type: 'leave' });
  assert.equal(w.node('b').core.self().state, 'leaving');
  w.step('b', { type: 'leave' });
  assert.ok(w.node('b').events.some((e) => e.type === 'rejected' && e.input === 'leave'), 'a second leave is rejected');
  assert.ok(runUntil(w, () => w.node('b').events.some((e) => e.type === 'leave-complete'), 1000));
  const lefts = w.node('b').sent.filter((m) => m.msg.from.state === 'left').map((m) => nameOf(m.to)).sort();
  assert.deepEqual(lefts, ['a', 'c'], 'the left record went straight to both members');
  assert.equal(w.node('b').core.self().state, 'left');
  // A left core answers nothing and accepts no join.
  const sent = w.node('b').sent.length;
  w.step('b', { type: 'message', from: Wire.address('a'), msg: { type: 'ping', from: record(w, 'a'), seq: 999, target: 'b', gossip: [] } });
  w.step('b', { type: 'join', addresses: [Wire.address('a')] });
  assert.equal(w.node('b').sent.length, sent);
  assert.equal(w.node('b').core.ready().nextWakeAt, null);
  w.kill('b'); // the shell stops
  w.run(3 * config.suspicionTimeoutMs);
  for (const observer of ['a', 'c']) {
    assert.equal(w.viewOf(observer, 'b')!.state, 'left', observer);
    assert.ok(!w.eventsAbout(observer, 'b').includes('member-down'), `${observer} never saw b down`);
    assert.equal(w.eventsAbout(observer, 'b').at(-1), 'member-left');
  }
});

test('stall: a core stepped 5 s late does not suspect a member whose ack arrives right after', () => {
  for (const releaseAck of [true, false]) {
    const w = new Wire(defaultSwimConfig(1000, 10_000));
    w.cluster(['a', 'b']);
    // Hold b's answers to a, and wait for a's next ping to b: its ack is now queued.
    w.rule = (m) => (nameOf(m.from) === 'b' && nameOf(m.to) === 'a' ? 'hold' : 'deliver');
    const pings = w.node('a').sent.filter((m) => m.msg.type === 'ping').length;
    assert.ok(runUntil(w, () => w.node('a').sent.filter((m) => m.msg.type === 'ping').length > pings, 3000));
    assert.ok(w.held.some((m) => m.msg.type === 'ack'));
    w.rule = () => 'deliver';
    // a's event loop was blocked for 5 s: the timer fires first, then the queued I/O.
    w.now += 5000;
    w.step('a', { type: 'tick' });
    if (releaseAck) w.release();
    else w.held = [];
    w.nodes.delete('b'); // b silent from now on, so only the queued ack can save this probe
    w.run(950); // the end of this probe's (shifted) period, before the next probe could fail
    const stats = w.node('a').core.stats();
    if (releaseAck) {
      assert.equal(stats.suspicionsRaised, 0, 'the queued ack counted');
      assert.equal(stats.probesFailed, 0);
    } else {
      assert.equal(stats.suspicionsRaised, 1, 'control: without the ack the probe fails');
    }
  }
});

test('lag: a member that reported event-loop lag gets that much longer before it is declared down', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b']);
  w.step('b', { type: 'local-lag', lagMs: 3000 });
  assert.equal(w.node('b').core.self().lagMs, 3000);
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.lagMs === 3000, 3000), 'the lag came with an ack');
  w.kill('b');
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.state === 'suspect', 5000));
  const suspectedAt = w.now;
  assert.ok(runUntil(w, () => w.viewOf('a', 'b')!.state === 'down', 20_000));
  const took = w.now - suspectedAt;
  assert.ok(took >= config.suspicionTimeoutMs + 3000 - 10 && took <= config.suspicionTimeoutMs + 3000 + 20, `down after ${took} ms of suspicion`);
  w.step('a', { type: 'local-lag', lagMs: -1 });
  assert.ok(w.node('a').events.some((e) => e.type === 'rejected' && e.input === 'local-lag'));
});

test('join: alone when the only address is our own; after joinTimeoutMs when seeds are silent, merging when a seed appears', () => {
  const w = new Wire(config);
  w.add('a');
  w.step('a', { type: 'join', addresses: [Wire.address('a')] });
  assert.deepEqual(w.node('a').events, [{ type: 'self-up' }]);
  assert.equal(w.node('a').core.self().incarnation, 1);

  w.add('b');
  w.step('b', { type: 'join', addresses: [Wire.address('z')] });
  w.run(config.joinTimeoutMs - 1);
  assert.equal(w.node('b').core.self().state, 'joining');
  w.run(1);
  assert.equal(w.node('b').core.self().state, 'up');
  // z starts later, alone; b's push-pull with its seeds merges the two.
  w.add('z');
  w.step('z', { type: 'join', addresses: [] });
  assert.ok(runUntil(w, () => w.viewOf('b', 'z')?.state === 'up' && w.viewOf('z', 'b')?.state === 'up', config.pushPullIntervalMs + 1000));
});

test('events: one per observable change; an idempotent re-merge emits nothing', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b']);
  const x: MemberRecord = { name: 'x', address: 'x:1', generation: 1, incarnation: 4, state: 'suspect' };
  const msg: SwimMessage = { type: 'gossip', from: record(w, 'b'), gossip: [x, x] };
  const before = w.node('a').events.length;
  w.step('a', { type: 'message', from: Wire.address('b'), msg });
  w.step('a', { type: 'message', from: Wire.address('b'), msg });
  w.step('a', { type: 'message', from: Wire.address('b'), msg: { ...msg, gossip: [{ ...x, incarnation: 3, state: 'down' }] } });
  assert.deepEqual(w.node('a').events.slice(before).map((e) => e.type), ['member-suspect']);
  w.step('a', { type: 'message', from: Wire.address('b'), msg: { ...msg, gossip: [{ ...x, incarnation: 5, state: 'suspect' }] } });
  assert.equal(w.node('a').events.length, before + 1, 'a new incarnation in the same state is not a new event');
});

test('malformed input is dropped and counted, never thrown', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b']);
  const core = w.node('a').core;
  const junk: unknown[] = [null, undefined, 0, 'ping', [], {}, { type: 'ping' }, { type: 'ack', from: record(w, 'b') }, { type: 'sync', from: record(w, 'b'), members: [1] }];
  const { messagesDropped, messagesReceived } = core.stats();
  for (const msg of junk) w.step('a', { type: 'message', from: Wire.address('b'), msg: msg as SwimMessage });
  w.step('a', { type: 'message', from: 42 as unknown as string, msg: { type: 'gossip', from: record(w, 'b'), gossip: [] } });
  assert.equal(core.stats().messagesDropped, messagesDropped + junk.length + 1);
  assert.equal(core.stats().messagesReceived, messagesReceived + junk.length + 1);
  for (const input of [null, {}, { type: 'explode' }, { type: 'join' }, { type: 'remove', name: 7 }]) {
    w.step('a', input as never);
  }
  assert.equal(w.node('a').events.filter((e) => e.type === 'rejected').length, 5);
  assert.equal(core.self().state, 'up');
});

test('a record about ourselves from a newer generation or a tombstone is reported once', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b']);
  const me = record(w, 'a');
  for (let i = 0; i < 2; i++) {
    w.step('a', { type: 'message', from: Wire.address('b'), msg: { type: 'gossip', from: record(w, 'b'), gossip: [{ ...me, state: 'removed' }] } });
  }
  const notices = w.node('a').events.filter((e) => e.type === 'rejected');
  assert.equal(notices.length, 1);
  assert.match(notices[0]!.type === 'rejected' ? notices[0]!.reason : '', /removed this node/);
  assert.equal(w.node('a').core.self().state, 'up');
});

test('fuzz: any sequence of inputs, well-formed or not, never throws and never makes a node suspect itself', async () => {
  const fc = (await import('fast-check')).default;
  const { Membership } = await import('../../../lib/protocol/swim/membership.js');
  const { SeededRandom } = await import('../../../lib/protocol/random.js');
  const { RECORD_STATES } = await import('../../../lib/protocol/swim/record.js');
  const names = ['a', 'b', 'c', 'x'];
  const recordArb = fc.record({
    name: fc.constantFrom(...names),
    address: fc.constantFrom(...names.map((n) => Wire.address(n))),
    generation: fc.integer({ min: 0, max: 3 }),
    incarnation: fc.integer({ min: 0, max: 6 }),
    state: fc.constantFrom(...RECORD_STATES),
  });
  const gossip = fc.array(recordArb, { maxLength: 4 });
  const msgArb = fc.oneof(
    fc.record({ type: fc.constant('ping'), from: recordArb, seq: fc.nat(5), target: fc.constantFrom(...names), gossip }),
    fc.record({ type: fc.constant('ack'), from: recordArb, seq: fc.nat(5), about: fc.constantFrom(...names), lagMs: fc.nat(5000), gossip }),
    fc.record({ type: fc.constant('ping-req'), from: recordArb, seq: fc.nat(5), target: fc.constantFrom(...names), targetAddress: fc.string(), gossip }),
    fc.record({ type: fc.constant('gossip'), from: recordArb, gossip }),
    fc.record({ type: fc.constantFrom('sync', 'sync-reply'), from: recordArb, members: gossip }),
    fc.anything(),
  );
  const inputArb = fc.oneof(
    { weight: 6, arbitrary: fc.record({ type: fc.constant('message'), from: fc.constantFrom(...names.map((n) => Wire.address(n))), msg: msgArb }) },
    { weight: 2, arbitrary: fc.constant({ type: 'tick' }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('join'), addresses: fc.array(fc.oneof(fc.constantFrom(...names.map((n) => Wire.address(n))), fc.anything()), { maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('remove'), name: fc.oneof(fc.constantFrom(...names), fc.anything()) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('leave', 'local-lag'), lagMs: fc.oneof(fc.nat(), fc.double()) }) },
    { weight: 1, arbitrary: fc.anything() },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(inputArb, fc.nat(3000)), { maxLength: 60 }), fc.nat(), (inputs, seed) => {
      const core = new Membership(config, { name: 'a', address: Wire.address('a'), generation: 2 }, new SeededRandom(seed), 0);
      let now = 0;
      for (const [input, dt] of inputs) {
        now += dt;
        core.step(input as never, now);
        const ready = core.ready();
        assert.ok(ready.nextWakeAt === null || ready.nextWakeAt >= now);
        for (const out of ready.messages) assert.equal(typeof out.to, 'string');
        core.advance(ready);
        const self = core.self();
        assert.ok(self.state !== 'suspect' && self.state !== 'down', `self is ${self.state}`);
        assert.equal(core.members(now).filter((m) => m.name === 'a').length, 1);
      }
    }),
    { numRuns: 300 },
  );
});

test('link-down: the member is probed at once, and only a failed probe plus the timeout makes it down', () => {
  const w = new Wire(defaultSwimConfig(1000, 5000));
  w.cluster(['a', 'b', 'c']);
  w.run(3000);
  const pingsToC = () => w.node('a').sent.filter((m) => m.msg.type === 'ping' && nameOf(m.to) === 'c').length;
  // Let a's current probe finish, so the expedited one can start at once.
  w.run(1000);
  const before = pingsToC();
  const at = w.now;
  w.rule = (m) => (touching('c')(m) ? 'drop' : 'deliver');
  w.step('a', { type: 'link-down', address: Wire.address('c') });
  w.run(10);
  assert.ok(pingsToC() > before, 'c pinged right after its link dropped');
  assert.equal(w.viewOf('a', 'c')!.state, 'up', 'a dropped link alone is not a verdict');
  assert.ok(runUntil(w, () => w.viewOf('a', 'c')!.state === 'down', 10_000));
  assert.ok(w.now - at >= 5000, 'down only after the full suspicion timeout');
  // A link-down for an address nobody has is ignored.
  w.step('a', { type: 'link-down', address: 'nobody@127.0.0.1:1' });
  assert.deepEqual(w.eventsAbout('a', 'nobody@127.0.0.1'), []);
});

test('link-down right after the member acked our probe: it is probed again at once, not a pass later', () => {
  const w = new Wire(defaultSwimConfig(1000, 5000));
  w.cluster(['a', 'b', 'c']);
  w.run(3000);
  // Run until a's current probe is of c and acked.
  const probingC = () => {
    const pings = w.node('a').sent.filter((m) => m.msg.type === 'ping');
    const last = pings[pings.length - 1];
    return last !== undefined && nameOf(last.to) === 'c' && w.node('c').sent.some((m) => m.msg.type === 'ack' && (m.msg as { seq: number }).seq === (last.msg as { seq: number }).seq);
  };
  assert.ok(runUntil(w, probingC, 10_000), 'a probed c and c acked');
  const before = w.node('a').sent.filter((m) => m.msg.type === 'ping' && nameOf(m.to) === 'c').length;
  w.rule = (m) => (touching('c')(m) ? 'drop' : 'deliver');
  w.step('a', { type: 'link-down', address: Wire.address('c') });
  w.run(10);
  assert.ok(w.node('a').sent.filter((m) => m.msg.type === 'ping' && nameOf(m.to) === 'c').length > before, 'c pinged again at once');
});

test('a core rebuilt for the same process (a reset shell) rejoins up: peers never see it go back to joining', () => {
  const w = new Wire(config);
  w.cluster(['a', 'b', 'c']);
  w.run(3000);
  const before = { a: w.eventsAbout('a', 'c').length, b: w.eventsAbout('b', 'c').length };
  const held = record(w, 'c');
  w.add('c', 1); // same generation: the supervisor rebuilt the core of the running process
  w.step('c', { type: 'join', addresses: [Wire.address('a'), Wire.address('b')] });
  // Before any sync reply, a peer's ping gossips the record it holds of c (up, at c's old incarnation).
  w.step('c', { type: 'message', from: Wire.address('a'), msg: { type: 'ping', from: record(w, 'a'), seq: 999_999, target: 'c', gossip: [held] } });
  assert.ok(runUntil(w, () => w.viewOf('c', 'c')?.state === 'up', 10_000), 'c is up again');
  w.run(5000);
  assert.deepEqual(w.eventsAbout('a', 'c').slice(before.a), [], 'a saw no state change of c');
  assert.deepEqual(w.eventsAbout('b', 'c').slice(before.b), [], 'b saw no state change of c');
  assert.equal(w.viewOf('a', 'c')!.state, 'up');
  assert.ok(w.viewOf('a', 'c')!.incarnation > 0);
});
