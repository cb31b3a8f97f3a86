import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtherHostsWatch } from '../../../discovery/multicast-health.js';

const local = new Set(['10.0.0.5', '127.0.0.1']);

describe('OtherHostsWatch', () => {
  it('silent after silentAfterMs with nothing from another host; said once; ended by the first foreign packet', () => {
    const w = new OtherHostsWatch(30_000, 0, local);
    assert.equal(w.check(30_000), false, 'exactly at the limit: not yet');
    assert.equal(w.packet('10.0.0.5', 20_000), false, "this host's own packets do not count");
    assert.equal(w.check(30_001), true, 'silent: report it');
    assert.equal(w.silent, true);
    assert.match(w.reason() ?? '', /no mDNS traffic from any other host in 30 s: multicast may be filtered.*CLUSTER_DISCOVERY_TYPE=dns or static/);
    assert.equal(w.check(40_000), false, 'still silent: not reported again');
    assert.equal(w.packet('10.0.0.7', 41_000), true, 'a packet from another host ends it');
    assert.equal(w.reason(), null);
    assert.equal(w.packet('10.0.0.7', 42_000), false, 'not silent any more: nothing to end');
    assert.equal(w.check(72_000), false, 'heard at 42 s: fine until 72 s');
    assert.equal(w.check(72_001), true, 'a new silence is a new report');
  });

  it('takes new local addresses (an interface that came up)', () => {
    const w = new OtherHostsWatch(1000, 0, local);
    w.setLocalAddresses(new Set([...local, '10.1.0.5']));
    w.packet('10.1.0.5', 500);
    assert.equal(w.check(1001), true);
  });

  it('says fractional periods plainly', () => {
    const w = new OtherHostsWatch(900, 0, local);
    w.check(901);
    assert.match(w.reason() ?? '', /in 0\.9 s/);
  });
});
