import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemberEventMsg } from '../../../actors/member-events.js';
import { CLUSTER_TOPIC, leaderChangedMessage, publishMemberEvents } from '../../../lib/remote/cluster-topic.js';

describe('$cluster', () => {
  it('publishes each member event locally, with whose view it is', () => {
    const published: Array<[string, unknown]> = [];
    let listener: ((msg: MemberEventMsg) => void) | undefined;
    const events = { subscribe: (l: (msg: MemberEventMsg) => void) => ((listener = l), () => (listener = undefined)) };
    const unsubscribe = publishMemberEvents({ publishLocal: (topic, message) => (published.push([topic, message]), 1) }, events, 'me@h');
    const member = { name: 'b@h', address: 'h:9101', state: 'down', incarnation: 2, generation: 7, lastHeartbeatAgoMs: 10, lagMs: 0, self: false } as const;
    listener!({ type: 'member-event', event: 'member-down', member });
    const [topic, message] = published[0]!;
    assert.equal(topic, CLUSTER_TOPIC);
    assert.deepEqual({ ...(message as object), at: undefined }, { event: 'member-down', node: 'b@h', state: 'down', address: 'h:9101', generation: 7, seenBy: 'me@h', at: undefined });
    unsubscribe();
    assert.equal(listener, undefined);
  });

  it('names the table and partition of a leader change, and none for the catalogue', () => {
    const partition = leaderChangedMessage({ group: 'users/3@17', leader: 'a@h', term: 4 }, 'me@h');
    assert.deepEqual({ ...partition, at: undefined }, { event: 'leader-changed', group: 'users/3@17', table: 'users', partition: 3, leader: 'a@h', term: 4, seenBy: 'me@h', at: undefined });
    const catalogue = leaderChangedMessage({ group: '$catalogue', leader: null, term: 9 }, 'me@h');
    assert.equal('table' in catalogue, false);
    assert.equal(catalogue.leader, null);
  });
});
