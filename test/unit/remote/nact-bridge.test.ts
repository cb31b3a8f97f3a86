import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch, query, stop, type Ref } from 'nact';
import { RemoteRef } from '../../../lib/remote/actor-ref.js';
import { markDecodedBy, registerRemoteSender, type RemoteSender } from '../../../lib/remote/nact-bridge.js';
import { decode, encode } from '../../../lib/remote/wire.js';

/** A sender that records what nact's functions handed it, as `node: ref message [sender]`. */
function recorder(node: string, seen: string[]): RemoteSender {
  return {
    dispatch: (ref, message, sender) => void seen.push(`${node}: ${ref.toString()} ${JSON.stringify(message)}${sender === undefined ? '' : ` from ${String((sender as RemoteRef).toString())}`}`),
    query: async (ref, message) => `${node} asked ${ref.toString()} ${JSON.stringify(message)}`,
  };
}

const asNact = (ref: RemoteRef): Ref<any> => ref as unknown as Ref<any>;

describe('nact\'s functions on a RemoteRef', () => {
  it('with one node in the process, send through it; only an actor reference travels as the sender', async () => {
    const seen: string[] = [];
    const undo = registerRemoteSender('a@h', recorder('a@h', seen));
    try {
      const target = new RemoteRef('b@h', ['counter']);
      dispatch(asNact(target), { n: 1 });
      (dispatch as unknown as (r: Ref<any>, m: unknown, s: unknown) => void)(asNact(target), { n: 2 }, new RemoteRef('a@h', ['me']));
      (dispatch as unknown as (r: Ref<any>, m: unknown, s: unknown) => void)(asNact(target), { n: 3 }, { type: 'temp', id: 5, system: { name: 'x' } });
      assert.deepEqual(seen, ['a@h: b@h/counter {"n":1}', 'a@h: b@h/counter {"n":2} from a@h/me', 'a@h: b@h/counter {"n":3}']);
      assert.equal(await query(asNact(target), 'hi' as never, 1_000), 'a@h asked b@h/counter "hi"');
      assert.doesNotThrow(() => stop(asNact(target)));
    } finally {
      undo();
    }
  });

  it('with several nodes, a reference goes through the node that decoded it; one built by hand is refused with what to do', async () => {
    const seen: string[] = [];
    const undo = [registerRemoteSender('a@h', recorder('a@h', seen)), registerRemoteSender('b@h', recorder('b@h', seen))];
    try {
      const received = decode(encode('c@h', { replyTo: new RemoteRef('c@h', ['x']) }), 'b@h') as { replyTo: RemoteRef };
      dispatch(asNact(received.replyTo), 'pong');
      assert.deepEqual(seen, ['b@h: c@h/x "pong"']);
      const marked = new RemoteRef('c@h', ['y']);
      markDecodedBy(marked, 'a@h');
      dispatch(asNact(marked), 'ping');
      assert.deepEqual(seen.at(-1), 'a@h: c@h/y "ping"');
      assert.throws(() => dispatch(asNact(new RemoteRef('c@h', ['z'])), 'who sends?'), /2 troupe nodes run in this process.*node\.actors\.dispatch/);
      await assert.rejects(query(asNact(new RemoteRef('c@h', ['z'])), 'who asks?' as never, 1_000), /node\.actors\.dispatch \(or query\)/);
    } finally {
      for (const u of undo) u();
    }
  });

  it('with no node running, a dispatch goes nowhere and a query fails', async () => {
    assert.doesNotThrow(() => dispatch(asNact(new RemoteRef('b@h', ['x'])), 'lost'));
    await assert.rejects(query(asNact(new RemoteRef('b@h', ['x'])), 'q' as never, 1_000), /no troupe node runs in this process/);
  });

  it('a RemoteRef serializes as before: the pseudo-system is not an own property', () => {
    assert.deepEqual(Object.keys(new RemoteRef('b@h', ['x'])).sort(), ['node', 'path', 'type']);
  });
});
