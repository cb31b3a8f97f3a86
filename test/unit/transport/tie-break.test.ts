import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admitConnection, type OtherConnection } from '../../../lib/transport/tie-break.js';

const peer = (name: string, generation = 1) => ({ name, address: `${name}:9100`, generation });

interface Case {
  what: string;
  self: string;
  direction: 'in' | 'out';
  peerName: string;
  generation?: number;
  others: OtherConnection[];
  admitted: boolean;
}

const dialing: OtherConnection = { direction: 'out', phase: 'handshake', generation: null };
const dialingAdmitted: OtherConnection = { direction: 'out', phase: 'handshake', generation: 1 };
const connecting: OtherConnection = { direction: 'out', phase: 'connecting', generation: null };
const outUp: OtherConnection = { direction: 'out', phase: 'up', generation: 1 };
const inUp: OtherConnection = { direction: 'in', phase: 'up', generation: 1 };
const inAdmitted: OtherConnection = { direction: 'in', phase: 'handshake', generation: 1 };

const cases: Case[] = [
  { what: 'no other connection', self: 'a', direction: 'in', peerName: 'b', others: [], admitted: true },
  { what: 'own name', self: 'a', direction: 'in', peerName: 'a', others: [], admitted: false },
  { what: 'simultaneous dial, lower side: its own dial wins', self: 'a', direction: 'in', peerName: 'b', others: [dialing], admitted: false },
  { what: 'simultaneous dial, lower side, own dial already admitted', self: 'a', direction: 'in', peerName: 'b', others: [dialingAdmitted], admitted: false },
  { what: 'simultaneous dial, higher side admits (the lower side decides)', self: 'b', direction: 'in', peerName: 'a', others: [dialing], admitted: true },
  { what: 'own dial still connecting: the inbound one goes first', self: 'a', direction: 'in', peerName: 'b', others: [connecting], admitted: true },
  { what: 'own link up but the peer redialled: the newest wins', self: 'a', direction: 'in', peerName: 'b', others: [outUp], admitted: true },
  { what: 'another inbound: the newest wins', self: 'a', direction: 'in', peerName: 'b', others: [inUp], admitted: true },
  { what: 'outbound while an inbound is admitted: the first wins', self: 'a', direction: 'out', peerName: 'b', others: [inAdmitted], admitted: false },
  { what: 'outbound while a link is up (dialed through an alias)', self: 'a', direction: 'out', peerName: 'b', others: [inUp], admitted: false },
  { what: 'outbound beside another dial that has not heard a hello', self: 'a', direction: 'out', peerName: 'b', others: [dialing], admitted: true },
  { what: 'outbound, higher side: admits', self: 'b', direction: 'out', peerName: 'a', others: [inUp], admitted: true },
  { what: 'outbound to a restarted peer (newer generation) beside its stale link', self: 'a', direction: 'out', peerName: 'b', generation: 2, others: [inUp], admitted: true },
  { what: 'inbound from a restarted peer beside the stale own dial', self: 'a', direction: 'in', peerName: 'b', generation: 2, others: [dialingAdmitted], admitted: true },
  { what: 'inbound from an older generation than the own dial', self: 'a', direction: 'in', peerName: 'b', generation: 1, others: [{ ...dialingAdmitted, generation: 2 }], admitted: false },
];

describe('admitConnection', () => {
  for (const c of cases) {
    it(`${c.admitted ? 'admits' : 'refuses'}: ${c.what}`, () => {
      const refusal = admitConnection(c.self, { direction: c.direction, peer: peer(c.peerName, c.generation) }, c.others);
      assert.equal(refusal === null, c.admitted, JSON.stringify(refusal));
      if (refusal !== null) assert.equal(refusal.reason, 'duplicate');
    });
  }

  it('keeps exactly one of two simultaneous dials, the one the lower name dialed, whatever the order', () => {
    // a dialed b (connection 1) and b dialed a (connection 2). Each side judges the inbound one while its own
    // dial is in its handshake; only a (the lower name) decides.
    const aJudgesInbound = admitConnection('a', { direction: 'in', peer: peer('b') }, [dialing]);
    const bJudgesInbound = admitConnection('b', { direction: 'in', peer: peer('a') }, [dialing]);
    assert.notEqual(aJudgesInbound, null, 'connection 2 (dialed by b) is refused by a');
    assert.equal(bJudgesInbound, null, 'connection 1 (dialed by a) is admitted by b');
    // a has admitted b's connection first, then hears b's hello on its own dial.
    assert.notEqual(admitConnection('a', { direction: 'out', peer: peer('b') }, [inAdmitted]), null, 'the later one is refused');
  });
});
