/**
 * Mutual TLS between transports, with a CA made by the test: nodes with
 * certificates of the cluster CA link up and exchange messages; a node whose
 * certificate another CA signed is refused ('tls') in either direction, and
 * so is a node that does not speak TLS, while the good nodes keep working.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Transport, TransportEvent, TransportOptions } from '../../lib/transport/transport.js';
import { createTestPki, opensslMissing, type NodeTlsFiles, type TestPki } from '../harness/certs.js';
import { startTestTransport, type TestTransportNode } from '../harness/transport-node.js';
import { waitFor } from '../harness/wait-for.js';

const DEADLINE_MS = 10_000;

type Node = TestTransportNode;

const skip = opensslMissing();

describe('transport over mutual TLS', { skip }, () => {
  let pki: TestPki;
  const transports: Transport[] = [];

  before(() => {
    pki = createTestPki();
  });

  after(() => pki?.cleanup());

  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.stop()));
  });

  function startNode(name: string, tls: NodeTlsFiles | undefined, overrides: Partial<TransportOptions> = {}): Promise<Node> {
    const setup = { clusterName: 'tls-test', cookie: 'tls-cookie', backoff: { baseMs: 50, maxMs: 500 }, started: transports };
    return startTestTransport(name, setup, { ...(tls === undefined ? {} : { tls }), ...overrides });
  }

  async function assertExchange(a: Node, b: Node, tag: string): Promise<void> {
    a.transport.send(b.address, 'swim', `${tag}: a→b`);
    b.transport.send(a.address, 'swim', `${tag}: b→a`);
    await waitFor(() => b.received.includes(`${tag}: a→b`), { timeoutMs: DEADLINE_MS, what: `${tag}: b to receive from a` });
    await waitFor(() => a.received.includes(`${tag}: b→a`), { timeoutMs: DEADLINE_MS, what: `${tag}: a to receive from b` });
  }

  function tlsFailure(node: Node): TransportEvent | undefined {
    return node.events.find((e) => e.type === 'handshake-failed' && e.reason === 'tls');
  }

  it('links two nodes whose certificates the cluster CA signed', async () => {
    const a = await startNode('a', pki.issue('a'));
    const b = await startNode('b', pki.issue('b'));
    await assertExchange(a, b, 'tls');
    assert.equal(a.transport.links().length, 1);
    assert.equal(b.transport.links().length, 1);
    assert.equal(a.transport.stats().handshakeFailures.tls, 0);
  });

  it('refuses a node whose certificate another CA signed, and keeps serving', async () => {
    const a = await startNode('a', pki.issue('a'));
    const b = await startNode('b', pki.issue('b'));
    const rogue = await startNode('rogue', pki.rogue('rogue'));
    rogue.transport.send(a.address, 'swim', 'let me in');
    await waitFor(() => tlsFailure(a), { timeoutMs: DEADLINE_MS, what: 'a tls handshake failure at a' });
    assert.ok(a.transport.stats().handshakeFailures.tls >= 1);
    assert.deepEqual(a.received, []);
    await assertExchange(a, b, 'after the rogue');
    assert.deepEqual(a.transport.links().map((l) => l.peer.name), ['b']);
  });

  it('refuses to dial a node whose certificate another CA signed', async () => {
    const a = await startNode('a', pki.issue('a'));
    const rogue = await startNode('rogue', pki.rogue('rogue'));
    a.transport.send(rogue.address, 'swim', 'hello?');
    await waitFor(() => tlsFailure(a), { timeoutMs: DEADLINE_MS, what: 'a tls handshake failure when dialing the rogue' });
    assert.deepEqual(rogue.received, []);
    assert.equal(a.transport.links().length, 0);
  });

  it('refuses a node that does not speak TLS', async () => {
    const a = await startNode('a', pki.issue('a'));
    const plain = await startNode('plain', undefined);
    plain.transport.send(a.address, 'swim', 'plaintext');
    await waitFor(() => tlsFailure(a), { timeoutMs: DEADLINE_MS, what: 'a tls handshake failure for a plaintext peer' });
    assert.deepEqual(a.received, []);
  });
});
