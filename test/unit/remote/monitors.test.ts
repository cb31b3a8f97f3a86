import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Monitors, type MonitorHost } from '../../../lib/remote/monitors.js';
import type { PeerIdentity } from '../../../lib/transport/transport.js';
import { RemoteRef } from '../../../lib/remote/actor-ref.js';

const SELF = 'b@127.0.0.1';
const A = 'a@127.0.0.1';
const aProcess = (generation: number): PeerIdentity => ({ name: A, address: '127.0.0.1:9101', generation });

/** Monitors on node b, whose actors are `alive`; the frames it sends, as `node frame`. */
function monitorsOnB(alive: string[]): { monitors: Monitors; sent: string[] } {
  const sent: string[] = [];
  const host: MonitorHost = {
    self: SELF,
    exists: (path) => alive.includes(path.join('/')),
    send: (node, frame) => (sent.push(`${node} ${JSON.stringify(frame)}`), true),
    stateOf: () => 'up',
  };
  return { monitors: new Monitors(host), sent };
}

describe('Monitors: the watches other nodes ask of actors here', () => {
  it('tells each watcher once when the actor stops, and no one after an unwatch', () => {
    const { monitors, sent } = monitorsOnB(['y', 'z']);
    monitors.watchRequested(aProcess(1), 1, ['y']);
    monitors.watchRequested(aProcess(1), 1, ['y']); // sent again after a link came up: one watch
    monitors.watchRequested(aProcess(1), 2, ['z']);
    monitors.unwatchRequested(aProcess(1), 2);
    monitors.localStopped(['y'], 'crashed');
    monitors.localStopped(['z'], 'stopped');
    monitors.localStopped(['y'], 'stopped');
    assert.deepEqual(sent, [`${A} ["t",1,"crashed"]`]);
    monitors.close();
  });

  it('answers not-found at once for an actor that is not there', () => {
    const { monitors, sent } = monitorsOnB([]);
    monitors.watchRequested(aProcess(1), 7, ['gone']);
    assert.deepEqual(sent, [`${A} ["t",7,"not-found"]`]);
    monitors.close();
  });

  it('drops the watches of a watcher node\'s former process when a newer one links up: its monitor ids start again at 1', () => {
    const { monitors, sent } = monitorsOnB(['y', 'z']);
    monitors.linkUp(aProcess(1));
    monitors.watchRequested(aProcess(1), 1, ['y']);
    monitors.linkUp(aProcess(2)); // a restarted faster than membership's down verdict
    monitors.watchRequested(aProcess(2), 1, ['z']);
    monitors.localStopped(['y'], 'stopped');
    assert.deepEqual(sent, [], 'no notice for the former process\'s watch: it would fire the new process\'s monitor 1, of z');
    monitors.localStopped(['z'], 'stopped');
    assert.deepEqual(sent, [`${A} ["t",1,"stopped"]`]);
    monitors.close();
  });

  it('drops them too when the newer process\'s first watch comes before its link event, and ignores a former process\'s late watch', () => {
    const { monitors, sent } = monitorsOnB(['y', 'z']);
    monitors.watchRequested(aProcess(1), 1, ['y']);
    monitors.watchRequested(aProcess(2), 1, ['z']);
    monitors.watchRequested(aProcess(1), 2, ['y']);
    monitors.localStopped(['y'], 'stopped');
    monitors.localStopped(['z'], 'stopped');
    assert.deepEqual(sent, [`${A} ["t",1,"stopped"]`]);
    monitors.close();
  });

  it('drops a watcher node\'s watches when it goes down, and keeps them over a reconnect of the same process', () => {
    const { monitors, sent } = monitorsOnB(['y', 'z']);
    monitors.watchRequested(aProcess(1), 1, ['y']);
    monitors.linkUp(aProcess(1));
    monitors.localStopped(['y'], 'stopped');
    monitors.watchRequested(aProcess(1), 2, ['z']);
    monitors.nodeGone(A, 'node-down');
    monitors.localStopped(['z'], 'stopped');
    assert.deepEqual(sent, [`${A} ["t",1,"stopped"]`]);
    monitors.close();
  });
});

describe('Monitors: this node\'s monitors of actors on another node', () => {
  it('watches one process of the target node: a link from a newer process fires node-down, a reconnect of the same one sends the watch again', () => {
    const { monitors, sent } = monitorsOnB([]);
    const reasons: string[] = [];
    monitors.linkUp(aProcess(1));
    monitors.monitor(new RemoteRef(A, ['y']), (reason) => reasons.push(`y ${reason}`));
    assert.deepEqual(sent, [`${A} ["w",1,["y"]]`]);
    monitors.linkUp(aProcess(1)); // the same process, after a broken link
    assert.deepEqual(sent, [`${A} ["w",1,["y"]]`, `${A} ["w",1,["y"]]`]);
    assert.deepEqual(reasons, []);
    monitors.linkUp(aProcess(2)); // a restarted faster than the failure detector's verdict
    assert.deepEqual(reasons, ['y node-down'], 'its actor died with the former process');
    assert.equal(sent.length, 2, 'not watched anew at the same path in the new process');
    monitors.close();
  });

  it('a monitor made before any link adopts the process of the first link that comes up', () => {
    const { monitors, sent } = monitorsOnB([]);
    const reasons: string[] = [];
    monitors.monitor(new RemoteRef(A, ['y']), (reason) => reasons.push(reason));
    monitors.linkUp(aProcess(5));
    monitors.linkUp(aProcess(5));
    assert.deepEqual(reasons, []);
    assert.equal(sent.length, 3);
    monitors.linkUp(aProcess(6));
    assert.deepEqual(reasons, ['node-down']);
    monitors.close();
  });
});
