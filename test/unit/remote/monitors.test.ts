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
    assert.deepEqual(sent.slice(2), [`${A} ["u",1]`], 'not watched anew at the same path in the new process (its queued watch cancelled)');
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
    assert.equal(sent.at(-1), `${A} ["u",1]`);
    monitors.close();
  });
});

describe('Monitors: late frames and links of a former process', () => {
  it('a late link-up of the former process neither lowers the watched generation nor fires anything', () => {
    const { monitors, sent } = monitorsOnB([]);
    const reasons: string[] = [];
    monitors.linkUp(aProcess(2));
    monitors.monitor(new RemoteRef(A, ['y']), (reason) => reasons.push(reason));
    monitors.linkUp(aProcess(1)); // the former process's link, admitted late
    monitors.linkUp(aProcess(2)); // the current process's link flaps
    assert.deepEqual(reasons, [], 'the actor of process 2 is alive');
    assert.deepEqual(sent, [`${A} ["w",1,["y"]]`, `${A} ["w",1,["y"]]`]);
    monitors.close();
  });

  it('after the down verdict a new monitor watches whichever process links up next; the one that fired on a restart cancels its queued watch', () => {
    const { monitors, sent } = monitorsOnB([]);
    const reasons: string[] = [];
    monitors.linkUp(aProcess(1));
    monitors.monitor(new RemoteRef(A, ['old']), (reason) => reasons.push(`old ${reason}`));
    monitors.nodeGone(A, 'node-down');
    monitors.monitor(new RemoteRef(A, ['new']), (reason) => reasons.push(`new ${reason}`)); // a restarted a, found again before its link is up
    monitors.linkUp(aProcess(2));
    assert.deepEqual(reasons, ['old node-down'], 'the monitor of the new process\'s actor does not fire');
    assert.equal(sent.at(-1), `${A} ["w",2,["new"]]`);

    const { monitors: m2, sent: sent2 } = monitorsOnB([]);
    m2.linkUp(aProcess(1));
    m2.monitor(new RemoteRef(A, ['y']), () => undefined);
    m2.linkUp(aProcess(2));
    assert.deepEqual(sent2, [`${A} ["w",1,["y"]]`, `${A} ["u",1]`], 'the watch queued for the former process is cancelled');
    monitors.close();
    m2.close();
  });

  it('a late unwatch of a watcher node\'s former process does not remove the new process\'s watch of the same id', () => {
    const { monitors, sent } = monitorsOnB(['y']);
    monitors.watchRequested(aProcess(1), 1, ['y']);
    monitors.watchRequested(aProcess(2), 1, ['y']); // a restarted: its own monitor 1
    monitors.unwatchRequested(aProcess(1), 1); // the former process's unwatch, delivered late
    monitors.localStopped(['y'], 'stopped');
    assert.deepEqual(sent, [`${A} ["t",1,"stopped"]`]);
    monitors.close();
  });
});
