import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LinkFailures, MAX_REMEMBERED } from '../../lib/link-failures.js';
import { buildNodeStatus, memberStatus } from '../../lib/node-status.js';

const view = (name: string, state: 'up' | 'suspect' | 'down') => ({ name, address: `${name}:1`, state, incarnation: 1, generation: 7, lastHeardAgoMs: 12.6, lagMs: 0 });

describe('buildNodeStatus', () => {
  const node = { name: 'a@h', address: 'h:9100', generation: 7, clusterName: 'troupe', httpPort: 4000, clusterPort: 9100, startedAt: new Date(1_000), eventLoopLagMs: 3 };
  it('is healthy only when this node is up and no member is suspect or down', () => {
    const members = [memberStatus(view('a@h', 'up'), 'a@h'), memberStatus(view('b@h', 'up'), 'a@h')];
    const status = buildNodeStatus({ node, selfState: 'up', members, discovery: undefined, nowMs: 5_000 });
    assert.equal(status.healthy, true);
    assert.equal(status.node.uptimeMs, 4_000);
    assert.equal(status.node.startedAt, new Date(1_000).toISOString());
    assert.deepEqual(status.discovery.modes, []);
    assert.equal(members[0]!.self, true);
    assert.equal(members[1]!.lastHeartbeatAgoMs, 13);
    const suspect = [memberStatus(view('b@h', 'suspect'), 'a@h')];
    assert.equal(buildNodeStatus({ node, selfState: 'up', members: suspect, discovery: undefined, nowMs: 5_000 }).healthy, false);
    assert.equal(buildNodeStatus({ node, selfState: 'joining', members: [], discovery: undefined, nowMs: 5_000 }).healthy, false);
  });
});

describe('LinkFailures', () => {
  it('keeps the last failure per address until a link to it comes up, bounded', () => {
    const failures = new LinkFailures();
    failures.observe({ type: 'dial-failed', address: 'h:1', message: 'ECONNREFUSED' });
    failures.observe({ type: 'handshake-failed', remoteAddress: 'h:2', reason: 'bad-cookie', message: 'no' });
    assert.equal(failures.dials.get('h:1'), 'ECONNREFUSED');
    assert.equal(failures.handshakes.get('h:2')?.reason, 'bad-cookie');
    failures.observe({ type: 'link-up', peer: { name: 'n', address: 'h:2', generation: 1 } });
    assert.equal(failures.handshakes.has('h:2'), false);
    for (let i = 0; i < MAX_REMEMBERED + 5; i++) failures.observe({ type: 'dial-failed', address: `x:${i}`, message: 'e' });
    assert.equal(failures.dials.size, MAX_REMEMBERED);
    assert.equal(failures.dials.has('x:0'), false, 'the oldest are forgotten first');
  });
});
