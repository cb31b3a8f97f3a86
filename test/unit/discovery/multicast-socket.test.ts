import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { guardedSocket, guardListeners, socketOptions, waitForBind, type MulticastDns } from '../../../discovery/multicast-socket.js';

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
    assert.equal(await waitForBind(ready, 1000, undefined), 'ready');
    const failing = fakeSocket();
    setImmediate(() => failing.emit('error', new Error('bind EADDRINUSE 0.0.0.0:5353')));
    assert.equal(await waitForBind(failing, 1000, undefined), 'bind EADDRINUSE 0.0.0.0:5353');
    assert.match(await waitForBind(fakeSocket(), 10, undefined), /no answer from the socket within 10 ms/);
    const controller = new AbortController();
    setImmediate(() => controller.abort());
    assert.equal(await waitForBind(fakeSocket(), 1000, controller.signal), 'aborted');
  });

  it('binds the wildcard address when one interface is chosen', () => {
    assert.deepEqual(socketOptions({ kind: 'interface', address: '10.0.0.5', label: 'eth0 10.0.0.5', loopback: false }, 5353), { port: 5353, interface: '10.0.0.5', bind: '0.0.0.0' });
    assert.deepEqual(socketOptions({ kind: 'loopback-fallback', address: '127.0.0.1', label: 'lo', reason: '' }, 5353), { port: 5353, interface: '127.0.0.1', bind: '0.0.0.0' });
    assert.deepEqual(socketOptions({ kind: 'all', label: 'all' }, 5353), { port: 5353 });
  });
});
