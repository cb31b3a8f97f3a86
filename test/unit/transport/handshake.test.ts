import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  Handshake,
  PROTOCOL_VERSION,
  type HandshakeCrypto,
  type HandshakeInit,
  type HandshakeMessage,
  type HandshakeOutcome,
  type HandshakeOutput,
} from '../../../lib/transport/handshake.js';
import type { HandshakeFailureReason } from '../../../lib/transport/transport.js';

const crypto: HandshakeCrypto = {
  hmacSha256: (key, data) => createHmac('sha256', key).update(data).digest(),
  timingSafeEqual: (a, b) => a.length === b.length && timingSafeEqual(a, b),
};

function init(role: 'initiator' | 'acceptor', overrides: Partial<HandshakeInit> = {}): HandshakeInit {
  const name = role === 'initiator' ? 'a@host' : 'b@host';
  const address = role === 'initiator' ? '10.0.0.1:9100' : '10.0.0.2:9100';
  return { role, clusterName: 'prod', cookie: 'secret', self: { name, address, generation: 7 }, nonce: randomBytes(32), crypto, ...overrides };
}

interface Side {
  handshake: Handshake;
  outcome?: HandshakeOutcome;
  /** Decides admissions; admits by default. */
  admit: () => { type: 'admit' } | { type: 'refuse'; reason: HandshakeFailureReason; message: string };
}

/** Runs two machines against each other, delivering messages in order, until both are done or silent. */
function run(a: Side, b: Side): void {
  const inbox: [HandshakeMessage[], HandshakeMessage[]] = [[], []];
  const sides = [a, b];
  const handle = (i: 0 | 1, out: HandshakeOutput): void => {
    inbox[i === 0 ? 1 : 0].push(...out.send);
    if (out.admission !== undefined) handle(i, sides[i]!.handshake.step(sides[i]!.admit()));
    if (out.outcome !== undefined) sides[i]!.outcome = out.outcome;
  };
  handle(0, a.handshake.step({ type: 'start' }));
  handle(1, b.handshake.step({ type: 'start' }));
  while (inbox[0].length + inbox[1].length > 0) {
    for (const i of [0, 1] as const) {
      const msg = inbox[i].shift();
      if (msg !== undefined) handle(i, sides[i]!.handshake.step({ type: 'message', msg }));
    }
  }
}

function side(overrides: Partial<HandshakeInit> & { role: 'initiator' | 'acceptor' }, admit: Side['admit'] = () => ({ type: 'admit' })): Side {
  return { handshake: new Handshake(init(overrides.role, overrides)), admit };
}

function failure(outcome: HandshakeOutcome | undefined): { reason: HandshakeFailureReason; fromPeer: boolean } {
  assert.ok(outcome !== undefined, 'an outcome');
  assert.equal(outcome.ok, false, 'a failure');
  return { reason: outcome.reason, fromPeer: outcome.fromPeer };
}

describe('handshake', () => {
  it('succeeds both ways and each side learns the other\'s identity', () => {
    const a = side({ role: 'initiator' });
    const b = side({ role: 'acceptor' });
    run(a, b);
    assert.deepEqual(a.outcome, { ok: true, peer: { name: 'b@host', address: '10.0.0.2:9100', generation: 7 } });
    assert.deepEqual(b.outcome, { ok: true, peer: { name: 'a@host', address: '10.0.0.1:9100', generation: 7 } });
  });

  it('does not send the cookie', () => {
    const a = side({ role: 'initiator', cookie: 'c00kie-value' });
    const b = side({ role: 'acceptor', cookie: 'c00kie-value' });
    const sent: HandshakeMessage[] = [];
    const start = a.handshake.step({ type: 'start' });
    sent.push(...start.send);
    const bStart = b.handshake.step({ type: 'start' });
    const bOut = b.handshake.step({ type: 'message', msg: start.send[0] });
    sent.push(...bStart.send, ...b.handshake.step({ type: 'admit' }).send, ...bOut.send);
    const text = JSON.stringify(sent, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    assert.ok(!text.includes('c00kie-value'));
  });

  const cookieCases: Array<[string, string, string]> = [
    ['the initiator', 'wrong', 'secret'],
    ['the acceptor', 'secret', 'wrong'],
  ];
  for (const [who, cookieA, cookieB] of cookieCases) {
    it(`fails with bad-cookie on both sides when ${who} has another cookie`, () => {
      const a = side({ role: 'initiator', cookie: cookieA });
      const b = side({ role: 'acceptor', cookie: cookieB });
      run(a, b);
      assert.equal(failure(a.outcome).reason, 'bad-cookie');
      assert.equal(failure(b.outcome).reason, 'bad-cookie');
    });
  }

  it('fails with cluster-name when the clusters differ, before any proof', () => {
    const a = side({ role: 'initiator', clusterName: 'staging' });
    const b = side({ role: 'acceptor' });
    run(a, b);
    assert.equal(failure(a.outcome).reason, 'cluster-name');
    assert.equal(failure(b.outcome).reason, 'cluster-name');
  });

  it('fails with protocol-version when the versions differ', () => {
    const a = side({ role: 'initiator', version: PROTOCOL_VERSION + 1 });
    const b = side({ role: 'acceptor' });
    run(a, b);
    assert.equal(failure(a.outcome).reason, 'protocol-version');
    assert.equal(failure(b.outcome).reason, 'protocol-version');
  });

  it('rejects a reflected proof (its own role\'s mac sent back)', () => {
    const initiator = new Handshake(init('initiator'));
    initiator.step({ type: 'start' });
    const attackerHello = { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', name: 'mallory', address: '10.9.9.9:1', generation: 1, nonce: randomBytes(32) };
    assert.ok(initiator.step({ type: 'message', msg: attackerHello }).admission);
    const proof = initiator.step({ type: 'admit' }).send[0];
    assert.equal(proof?.t, 'proof');
    const out = initiator.step({ type: 'message', msg: proof });
    assert.equal(failure(out.outcome).reason, 'bad-cookie');
    assert.deepEqual(out.send.map((m) => m.t), ['reject']);
  });

  it('the initiator proves first: the acceptor sends its proof only after verifying the initiator\'s', () => {
    const a = new Handshake(init('initiator'));
    const b = new Handshake(init('acceptor'));
    const aHello = a.step({ type: 'start' }).send;
    const bHello = b.step({ type: 'start' }).send;
    assert.deepEqual([aHello.map((m) => m.t), bHello.map((m) => m.t)], [['hello'], ['hello']]);
    assert.ok(b.step({ type: 'message', msg: aHello[0] }).admission);
    assert.deepEqual(b.step({ type: 'admit' }).send, [], 'the acceptor waits for the initiator\'s proof');
    assert.ok(a.step({ type: 'message', msg: bHello[0] }).admission);
    const aProof = a.step({ type: 'admit' });
    assert.deepEqual(aProof.send.map((m) => m.t), ['proof']);
    assert.equal(aProof.outcome, undefined);
    const bOut = b.step({ type: 'message', msg: aProof.send[0] });
    assert.deepEqual(bOut.send.map((m) => m.t), ['proof']);
    assert.equal(bOut.outcome?.ok, true);
    assert.equal(a.step({ type: 'message', msg: bOut.send[0] }).outcome?.ok, true);
  });

  it('gives a dialer without the cookie nothing to attack offline: no proof, only a reject', () => {
    const acceptor = new Handshake(init('acceptor'));
    const sent: HandshakeMessage[] = [...acceptor.step({ type: 'start' }).send];
    const dialerHello = { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', name: 'mallory', address: '10.9.9.9:1', generation: 1, nonce: randomBytes(32) };
    const admission = acceptor.step({ type: 'message', msg: dialerHello });
    assert.ok(admission.admission);
    sent.push(...admission.send, ...acceptor.step({ type: 'admit' }).send);
    const out = acceptor.step({ type: 'message', msg: { t: 'proof', mac: randomBytes(32) } });
    sent.push(...out.send);
    assert.equal(failure(out.outcome).reason, 'bad-cookie');
    assert.deepEqual(sent.map((m) => m.t), ['hello', 'reject']);
  });

  it('the initiator takes a proof before it proved itself as a bad frame', () => {
    const a = new Handshake(init('initiator'));
    const b = new Handshake(init('acceptor'));
    a.step({ type: 'start' });
    const [bHello] = b.step({ type: 'start' }).send;
    assert.ok(a.step({ type: 'message', msg: bHello }).admission);
    const out = a.step({ type: 'message', msg: { t: 'proof', mac: randomBytes(32) } });
    assert.equal(failure(out.outcome).reason, 'bad-frame');
  });

  it('rejects a proof replayed from another connection', () => {
    const a1 = side({ role: 'initiator' });
    const b1 = side({ role: 'acceptor' });
    const recorded: HandshakeMessage[] = [];
    const b1Start = b1.handshake.step({ type: 'start' }).send;
    a1.handshake.step({ type: 'start' });
    a1.handshake.step({ type: 'message', msg: b1Start[0] });
    recorded.push(...a1.handshake.step({ type: 'admit' }).send);
    const b2 = new Handshake(init('acceptor'));
    b2.step({ type: 'start' });
    const hello = { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', name: 'a@host', address: '10.0.0.1:9100', generation: 7, nonce: randomBytes(32) };
    b2.step({ type: 'message', msg: hello });
    b2.step({ type: 'admit' });
    const out = b2.step({ type: 'message', msg: recorded.find((m) => m.t === 'proof') });
    assert.equal(failure(out.outcome).reason, 'bad-cookie');
  });

  it('reports a refusal at admission to both sides, with the reason', () => {
    const a = side({ role: 'initiator' });
    const b = side({ role: 'acceptor' }, () => ({ type: 'refuse', reason: 'duplicate', message: 'a link exists' }));
    run(a, b);
    assert.deepEqual(failure(b.outcome), { reason: 'duplicate', fromPeer: false });
    assert.deepEqual(failure(a.outcome), { reason: 'duplicate', fromPeer: true });
  });

  it('verifies a proof that arrives before the admission is answered', () => {
    const a = new Handshake(init('initiator'));
    const b = new Handshake(init('acceptor'));
    const aHello = a.step({ type: 'start' }).send;
    const bHello = b.step({ type: 'start' }).send;
    assert.ok(a.step({ type: 'message', msg: bHello[0] }).admission);
    const aProof = a.step({ type: 'admit' }).send;
    assert.ok(b.step({ type: 'message', msg: aHello[0] }).admission);
    assert.deepEqual(b.step({ type: 'message', msg: aProof[0] }).send, [], 'held until admitted');
    const bOut = b.step({ type: 'admit' });
    assert.equal(bOut.outcome?.ok, true);
    assert.equal(a.step({ type: 'message', msg: bOut.send[0] }).outcome?.ok, true);
  });

  const malformed: Array<[string, unknown]> = [
    ['a non-map', 42],
    ['an array', ['hello']],
    ['a proof instead of a hello', { t: 'proof', mac: new Uint8Array(32) }],
    ['a hello with a short nonce', { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', name: 'x', address: 'h:1', generation: 1, nonce: new Uint8Array(8) }],
    ['a hello without a name', { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', address: 'h:1', generation: 1, nonce: new Uint8Array(32).fill(1) }],
    ['a hello with a negative generation', { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', name: 'x', address: 'h:1', generation: -1, nonce: new Uint8Array(32).fill(1) }],
    ['a hello with a huge name', { t: 'hello', v: PROTOCOL_VERSION, cluster: 'prod', name: 'x'.repeat(5000), address: 'h:1', generation: 1, nonce: new Uint8Array(32).fill(1) }],
  ];
  for (const [what, msg] of malformed) {
    it(`fails with bad-frame on ${what}, and tells the peer`, () => {
      const b = new Handshake(init('acceptor'));
      b.step({ type: 'start' });
      const out = b.step({ type: 'message', msg });
      assert.equal(failure(out.outcome).reason, 'bad-frame');
      assert.deepEqual(out.send.map((m) => m.t), ['reject']);
    });
  }

  it('rejects a hello that echoes its own nonce', () => {
    const nonce = randomBytes(32);
    const b = new Handshake(init('acceptor', { nonce }));
    const [hello] = b.step({ type: 'start' }).send;
    assert.equal(failure(b.step({ type: 'message', msg: hello }).outcome).reason, 'bad-frame');
  });

  it('times out, and ignores every input once done', () => {
    const b = new Handshake(init('acceptor'));
    b.step({ type: 'start' });
    assert.equal(failure(b.step({ type: 'timeout' }).outcome).reason, 'timeout');
    assert.equal(b.done, true);
    assert.deepEqual(b.step({ type: 'message', msg: { t: 'proof' } }), { send: [] });
    assert.deepEqual(b.step({ type: 'admit' }), { send: [] });
  });

  it('takes an unknown reason in a reject as closed', () => {
    const b = new Handshake(init('acceptor'));
    b.step({ type: 'start' });
    const out = b.step({ type: 'message', msg: { t: 'reject', reason: 'gremlins', message: 'x' } });
    assert.deepEqual(failure(out.outcome), { reason: 'closed', fromPeer: true });
    assert.deepEqual(out.send, [], 'no reject answers a reject');
  });
});
