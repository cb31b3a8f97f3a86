import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, deltaTracker } from '../../../lib/metrics.js';
import { zeroStats } from './fake-node.js';

function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('copies the snapshot in at scrape time; counters follow cumulative counts', async () => {
    const stats = zeroStats();
    const metrics = createMetrics(() => stats);
    let text = await metrics.render();
    assert.equal(valueOf(text, 'troupe_swim_probes_sent_total'), 10);
    assert.equal(valueOf(text, 'troupe_discovery_failures_total{reason="timeout"}'), 2);
    assert.equal(valueOf(text, 'troupe_actor_dead_letters_total{reason="no-such-actor"}'), 1);
    assert.equal(valueOf(text, 'troupe_actor_remote_queries_served_total'), 1);
    assert.equal(valueOf(text, 'troupe_event_loop_lag_seconds'), 0.004);
    assert.equal(valueOf(text, 'troupe_members{state="down"}'), 1);

    stats.probesSent = 25;
    stats.handshakeFailures = { cookie: 1, cluster_name: 4 };
    stats.links = 5;
    text = await metrics.render();
    assert.equal(valueOf(text, 'troupe_swim_probes_sent_total'), 25);
    assert.equal(valueOf(text, 'troupe_link_handshake_failures_total{reason="cluster_name"}'), 4);
    assert.equal(valueOf(text, 'troupe_links'), 5);

    // The source restarted from zero: the counter keeps rising.
    stats.probesSent = 3;
    text = await metrics.render();
    assert.equal(valueOf(text, 'troupe_swim_probes_sent_total'), 28);
  });

  it('exposes pub/sub counts: counters, drops by reason, and the local gauges', async () => {
    const text = await createMetrics(zeroStats).render();
    assert.equal(valueOf(text, 'troupe_pubsub_published_total'), 7);
    assert.equal(valueOf(text, 'troupe_pubsub_frames_sent_total'), 6);
    assert.equal(valueOf(text, 'troupe_pubsub_delivered_total'), 4);
    assert.equal(valueOf(text, 'troupe_pubsub_dropped_total{reason="link-full"}'), 1);
    assert.equal(valueOf(text, 'troupe_pubsub_sync_requests_total'), 2);
    assert.equal(valueOf(text, 'troupe_pubsub_subscriptions'), 8);
    assert.equal(valueOf(text, 'troupe_pubsub_streams'), 1);
  });

  it('reads the source once per scrape and survives a throwing source', async () => {
    let reads = 0;
    let fail = false;
    const metrics = createMetrics(() => {
      reads += 1;
      if (fail) throw new Error('not started');
      return zeroStats();
    });
    await metrics.render();
    assert.equal(reads, 1);
    fail = true;
    const text = await metrics.render();
    assert.equal(valueOf(text, 'troupe_swim_probes_sent_total'), 10);
  });

  it('two instances do not share series', async () => {
    const a = createMetrics(zeroStats);
    const b = createMetrics(zeroStats);
    a.observeHttpRequest({ route: '/health', method: 'GET', status: 200 }, 0.001);
    assert.match(await a.render(), /troupe_http_requests_total\{route="\/health",method="GET",status="200"\} 1/);
    assert.doesNotMatch(await b.render(), /troupe_http_requests_total\{/);
  });
});

describe('deltaTracker', () => {
  it('turns cumulative readings into increments', () => {
    const delta = deltaTracker();
    const rows: Array<[string, number, number]> = [
      ['a', 5, 5],
      ['a', 5, 0],
      ['a', 9, 4],
      ['b', 2, 2],
      ['a', 1, 1], // reset
      ['a', -1, 0],
      ['a', Number.NaN, 0],
    ];
    for (const [label, value, expected] of rows) assert.equal(delta(label, value), expected, `${label}=${value}`);
  });
});
