import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { createSocket } from 'node:dgram';
import Bonjour from 'bonjour-service';
import { guardedSocket, guardListeners, Memberships, pruneBrowserCache, sendOnEachInterface, socketOptions, waitForBind, type MembershipSocket, type MulticastDns, type SendingMdns } from '../../../discovery/multicast-socket.js';

/** An EventEmitter standing in for multicast-dns. */
function fakeSocket(): MulticastDns & EventEmitter {
  return Object.assign(new EventEmitter(), { query: () => {} }) as unknown as MulticastDns & EventEmitter;
}

const collectingGuard = (caught: unknown[]) => (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    caught.push(err);
  }
};

describe('multicast socket helpers', () => {
  it('a listener handed to the library through the view cannot throw out of emit', () => {
    const socket = fakeSocket();
    const caught: unknown[] = [];
    const view = guardedSocket(socket, collectingGuard(caught), () => {});
    const listener = () => {
      throw new Error('broken packet');
    };
    view.on('response', listener);
    assert.doesNotThrow(() => socket.emit('response', {}));
    assert.equal(caught.length, 1);
    view.removeListener('response', listener);
    assert.equal(socket.listenerCount('response'), 0, 'removal finds the wrapped listener');
  });

  it('the view sends queries through the given function', () => {
    const sent: string[] = [];
    const view = guardedSocket(fakeSocket(), (fn) => fn(), (name, type) => sent.push(`${type} ${name}`));
    view.query('_troupe._tcp.local', 'PTR', () => {});
    assert.deepEqual(sent, ['PTR _troupe._tcp.local']);
  });

  it('guards listeners that were installed before (the library responder)', () => {
    const socket = fakeSocket();
    socket.on('query', () => {
      throw new Error('responder broke');
    });
    const caught: unknown[] = [];
    guardListeners(socket, 'query', collectingGuard(caught));
    assert.doesNotThrow(() => socket.emit('query', {}));
    assert.equal(caught.length, 1);
  });

  it('waits for the bind: ready, an error, a timeout, an abort', async () => {
    const ready = fakeSocket();
    setImmediate(() => ready.emit('ready'));
    assert.deepEqual(await waitForBind(ready, 1000, undefined), { kind: 'ready' });
    assert.equal((ready as unknown as EventEmitter).listenerCount('error'), 0, 'its listeners are removed');
    const failing = fakeSocket();
    setImmediate(() => failing.emit('error', new Error('bind EADDRINUSE 0.0.0.0:5353')));
    assert.deepEqual(await waitForBind(failing, 1000, undefined), { kind: 'error', reason: 'bind EADDRINUSE 0.0.0.0:5353' });
    const slow = fakeSocket();
    const outcome = await waitForBind(slow, 10, undefined);
    assert.equal(outcome.kind, 'timeout');
    assert.match(outcome.kind === 'timeout' ? outcome.reason : '', /no answer from the socket within 10 ms/);
    assert.equal((slow as unknown as EventEmitter).listenerCount('ready'), 0, 'a later ready is for the caller to wait for');
    const controller = new AbortController();
    setImmediate(() => controller.abort());
    assert.deepEqual(await waitForBind(fakeSocket(), 1000, controller.signal), { kind: 'aborted' });
  });

  it('hands multicast-dns our socket, bound to the wildcard address, without its own membership handling', () => {
    const socket = createSocket('udp4');
    try {
      assert.deepEqual(socketOptions(socket, 5353), { port: 5353, socket, bind: '0.0.0.0', multicast: false });
    } finally {
      socket.close();
    }
  });
});

describe('Memberships', () => {
  const lo = { name: 'lo', address: '127.0.0.1', loopback: true };
  const eth0 = { name: 'eth0', address: '10.0.0.5', loopback: false };
  const eth1 = { name: 'eth1', address: '10.1.0.5', loopback: false };

  function socket(refuse: Set<string>): MembershipSocket & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      addMembership: (group, address) => {
        calls.push(`add ${group} ${address}`);
        if (refuse.has(address)) throw new Error(`addMembership EADDRNOTAVAIL`);
      },
      dropMembership: (group, address) => {
        calls.push(`drop ${group} ${address}`);
        if (address === eth1.address) throw new Error('gone');
      },
    };
  }

  it('a join on loopback only is not a join that reaches other hosts', () => {
    const m = new Memberships(socket(new Set([eth0.address])), '224.0.0.251');
    const report = m.join([lo, eth0]);
    assert.deepEqual(report.joined, [lo]);
    assert.deepEqual(report.failed.map((f) => `${f.target.name}: ${f.error}`), ['eth0: addMembership EADDRNOTAVAIL']);
    assert.equal(m.any, true);
    assert.equal(m.external, false);
  });

  it('retries only what is not joined, and knows when a LAN join held', () => {
    const refuse = new Set([eth0.address]);
    const s = socket(refuse);
    const m = new Memberships(s, '224.0.0.251');
    m.join([lo, eth0]);
    refuse.clear();
    const report = m.join([lo, eth0, eth1]);
    assert.deepEqual(report.joined, [eth0, eth1]);
    assert.equal(m.external, true);
    assert.deepEqual(s.calls, ['add 224.0.0.251 127.0.0.1', 'add 224.0.0.251 10.0.0.5', 'add 224.0.0.251 10.0.0.5', 'add 224.0.0.251 10.1.0.5']);
    assert.deepEqual(m.join([lo, eth0, eth1]), { joined: [], failed: [] }, 'nothing left to join');
    assert.doesNotThrow(() => m.dropAll(), 'a drop that fails is ignored');
    assert.equal(m.any, false);
  });
});

describe('sendOnEachInterface', () => {
  function fakeMdns(failOn: Set<string>): SendingMdns & { sent: string[]; current: string } {
    const fake = {
      sent: [] as string[],
      current: '',
      send(value: unknown, _rinfo?: unknown, cb?: (err?: Error | null) => void) {
        const on = fake.current;
        // Asynchronous like the real socket: the interface must not change before the packet is out.
        setTimeout(() => {
          fake.sent.push(`${(value as { id: string }).id}@${on}`);
          cb?.(failOn.has(on) ? new Error(`send ENETUNREACH on ${on}`) : null);
        }, 1);
      },
      respond(records: unknown, cb?: (err?: Error | null) => void) {
        fake.send(records, null, cb);
      },
    };
    return fake;
  }

  it('sends every packet on each interface in turn, one at a time', async () => {
    const mdns = fakeMdns(new Set());
    sendOnEachInterface(mdns, { setMulticastInterface: (a: string) => void (mdns.current = a) }, ['10.0.0.5', '10.1.0.5'], () => assert.fail('no failure'));
    const done = (id: string) => new Promise<Error | null | undefined>((resolve) => mdns.send({ id }, resolve));
    const results = await Promise.all([done('q1'), done('q2'), new Promise((resolve) => mdns.respond({ id: 'r1' }, resolve))]);
    assert.deepEqual(results, [null, null, null]);
    assert.deepEqual(mdns.sent, ['q1@10.0.0.5', 'q1@10.1.0.5', 'q2@10.0.0.5', 'q2@10.1.0.5', 'r1@10.0.0.5', 'r1@10.1.0.5']);
  });

  it('an interface that fails is reported apart; the packet fails only when no interface sent it', async () => {
    const mdns = fakeMdns(new Set(['10.1.0.5']));
    const partial: string[] = [];
    sendOnEachInterface(mdns, { setMulticastInterface: (a: string) => void (mdns.current = a) }, ['10.0.0.5', '10.1.0.5'], (address, err) => partial.push(`${address}: ${err.message}`));
    assert.equal(await new Promise((resolve) => mdns.send({ id: 'q' }, null, resolve)), null);
    assert.deepEqual(partial, ['10.1.0.5: send ENETUNREACH on 10.1.0.5']);
    const dead = fakeMdns(new Set(['10.0.0.5']));
    sendOnEachInterface(dead, { setMulticastInterface: (a: string) => void (dead.current = a) }, ['10.0.0.5'], () => {});
    const err = await new Promise<Error | null | undefined>((resolve) => dead.send({ id: 'q' }, null, resolve));
    assert.match(err?.message ?? '', /ENETUNREACH/);
  });
});

describe('pruneBrowserCache', () => {
  const domain = '_troupe._tcp.local';
  const announcement = (name: string, port: number) => ({
    type: 'response',
    answers: [
      { type: 'PTR', name: domain, ttl: 120, data: `${name}.${domain}` },
      { type: 'SRV', name: `${name}.${domain}`, ttl: 120, data: { port, target: 'h.local' } },
      { type: 'TXT', name: `${name}.${domain}`, ttl: 120, data: [Buffer.from(`port=${port}`)] },
    ],
    additionals: [],
  });

  it("the library's browser reports a pruned service 'up' again when it is announced again, and forgets it meanwhile", () => {
    const socket = fakeSocket();
    const browser = new Bonjour.Browser(socket as never, { type: 'troupe' });
    const up: string[] = [];
    browser.on('up', (service) => up.push(service.fqdn));
    const rinfo = { address: '10.0.0.2', family: 'IPv4', port: 5353, size: 0 };
    socket.emit('response', announcement('a', 9100), rinfo);
    socket.emit('response', announcement('b', 9101), rinfo);
    socket.emit('response', announcement('a', 9100), rinfo);
    assert.deepEqual(up, [`a.${domain}`, `b.${domain}`], "a repeat is not 'up' again");
    assert.equal(pruneBrowserCache(browser, (fqdn) => fqdn.toLowerCase() !== `a.${domain}`), 1);
    assert.deepEqual(browser.services.map((s) => s.fqdn), [`b.${domain}`]);
    socket.emit('response', announcement('a', 9100), rinfo);
    assert.deepEqual(up, [`a.${domain}`, `b.${domain}`, `a.${domain}`]);
    browser.stop();
  });

  it('does nothing to an object of another shape', () => {
    assert.equal(pruneBrowserCache({}, () => false), 0);
    assert.equal(pruneBrowserCache(null, () => false), 0);
  });
});
