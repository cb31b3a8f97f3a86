/**
 * The membership actor's priority lane: a SWIM ping is answered, and the ack
 * flushed, within the transport callback that delivered it (never behind
 * nact's one-message-per-turn mailbox); a step of that lane that throws goes
 * to the supervisor like a crash in the mailbox.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { start, stop as stopSystem } from 'nact';
import { spawnMembershipActor, SWIM_CHANNEL, type MembershipActorHandle } from '../../actors/membership-actor.js';
import { createLogger } from '../../lib/log.js';
import { SeededRandom } from '../../lib/protocol/random.js';
import { defaultSwimConfig } from '../../lib/protocol/swim/config.js';
import type { NodeStateStore } from '../../lib/storage/node-state.js';
import type { PeerIdentity, Transport } from '../../lib/transport/transport.js';
import { waitFor } from '../harness/wait-for.js';

const SELF = { name: 'a@127.0.0.1', address: '127.0.0.1:9001', generation: 1 };
const PEER = { name: 'b@127.0.0.1', address: '127.0.0.1:9002', generation: 1, incarnation: 0, state: 'up' as const };

function fakeTransport() {
  const sent: Array<{ to: string; msg: any }> = [];
  const handlers = new Map<string, (from: PeerIdentity, payload: unknown) => void>();
  let flushes = 0;
  const transport = {
    send: (to: string, _channel: string, msg: unknown) => (sent.push({ to, msg }), true),
    flush: () => void flushes++,
    onMessage: (channel: string, handler: (from: PeerIdentity, payload: unknown) => void) => void handlers.set(channel, handler),
    onEvent: () => {},
    resolve: (address: string) => address,
  } as unknown as Transport;
  const deliver = (payload: unknown) => handlers.get(SWIM_CHANNEL)!({ name: PEER.name, address: PEER.address, generation: 1 }, payload);
  return { transport, sent, deliver, flushes: () => flushes };
}

const store = { knownAddresses: () => [], saveKnownAddresses: async () => {} } as unknown as NodeStateStore;

describe('membership actor priority lane', () => {
  let system: ReturnType<typeof start> | undefined;
  let actor: MembershipActorHandle | undefined;

  afterEach(() => {
    actor?.stop();
    if (system) stopSystem(system);
  });

  function spawnWith(transport: Transport, overrides: { onSnapshot?: () => void; onRestart?: () => void } = {}) {
    system = start();
    actor = spawnMembershipActor(system, {
      swimConfig: defaultSwimConfig(500, 2000),
      seedRetryConfig: { baseDelayMs: 500, maxDelayMs: 30_000 },
      self: SELF,
      transport,
      store,
      random: new SeededRandom(7),
      log: createLogger('silent'),
      now: () => performance.now(),
      onEvent: () => {},
      onSnapshot: overrides.onSnapshot ?? (() => {}),
      supervision: { onRestart: overrides.onRestart },
    });
  }

  it('answers a ping and flushes the ack before the delivering callback returns', () => {
    const t = fakeTransport();
    spawnWith(t.transport);
    const flushesBefore = t.flushes();
    t.deliver({ type: 'ping', from: PEER, seq: 7, target: SELF.name, gossip: [] });
    const ack = t.sent.find((s) => s.msg.type === 'ack');
    assert.ok(ack, `no ack among ${JSON.stringify(t.sent.map((s) => s.msg.type))}`);
    assert.equal(ack.to, PEER.address);
    assert.equal(ack.msg.seq, 7);
    assert.equal(ack.msg.about, SELF.name);
    assert.ok(t.flushes() > flushesBefore, 'the transport was flushed');
  });

  it('hands a failing step to the supervisor, which resets the actor', async () => {
    const t = fakeTransport();
    let restarts = 0;
    let failNext = false;
    spawnWith(t.transport, {
      onSnapshot: () => {
        if (failNext) {
          failNext = false;
          throw new Error('snapshot listener failed');
        }
      },
      onRestart: () => restarts++,
    });
    failNext = true;
    t.deliver({ type: 'ping', from: PEER, seq: 1, target: SELF.name, gossip: [] });
    await waitFor(() => restarts === 1, { timeoutMs: 5000, what: 'the supervisor to reset the actor' });
    // After the reset the lane answers again.
    t.deliver({ type: 'ping', from: PEER, seq: 2, target: SELF.name, gossip: [] });
    await waitFor(() => t.sent.some((s) => s.msg.type === 'ack' && s.msg.seq === 2), { timeoutMs: 5000, what: 'an ack to the ping sent after the reset' });
  });
});
