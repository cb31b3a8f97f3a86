/**
 * Membership benchmark on the deterministic simulator: for N = 10, 100 and
 * 1000 nodes, how many protocol periods until every node knows of a join,
 * and of a failure, and how many messages each node sends per period.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/membership-sim.js [N ...]
 *
 * Timing is the simulation profile (probe period 1000 ms, suspicion timeout
 * 5000 ms, gossip every 200 ms); results are in probe periods, so they carry
 * over to any period with the same ratios. The network is healthy (1–20 ms
 * delay, no loss). SEEDS (default 3) trials per N, except 1 for N ≥ 1000.
 */

import { SimCluster } from '../test/sim/cluster.js';
import { allSee, joinWave, observersSeeing, simConfig } from '../test/sim/scenarios.js';

interface Figures {
  n: number;
  trials: number;
  drainPeriods: number;
  joinKnownPeriods: number;
  joinUpPeriods: number;
  firstSuspectPeriods: number;
  downEverywherePeriods: number;
  downSpreadPeriods: number;
  messagesPerNodePeriod: number;
  messagesPerNodePeriodJoin: number;
  gossipRecordsPerNodePeriod: number;
  stepsPerSecond: number;
}

const config = simConfig();
const PERIOD = config.probeIntervalMs;
const STEADY_PERIODS = 20;

function measure(n: number, seed: number): Omit<Figures, 'n' | 'trials'> {
  const started = performance.now();
  const cluster = new SimCluster({ seed, size: n + 1, config });
  // Nodes 0..n-1 form the cluster; node n joins later.
  const spreadMs = Math.max(1000, n * 10);
  joinWave(cluster, spreadMs, n);
  const formed = cluster.runUntil(() => allSee(cluster), spreadMs + 120 * PERIOD, 1000);
  if (formed === null) throw new Error(`N=${n} seed=${seed}: the cluster did not converge`);
  // Let the join wave's gossip drain: every change is retransmitted retransmitLimit times by every node.
  const formedAt = cluster.now;
  let drained = false;
  for (let last = sumStats(cluster, 'gossipSent'); !drained && cluster.now < formedAt + 300 * PERIOD; ) {
    cluster.run(cluster.now + PERIOD);
    const now = sumStats(cluster, 'gossipSent');
    drained = now === last;
    last = now;
  }
  const drainPeriods = (cluster.now - formedAt) / PERIOD;

  // Steady state: messages per node per period.
  const sentBefore = sumStats(cluster, 'messagesSent');
  const gossipBefore = sumStats(cluster, 'gossipSent');
  cluster.run(cluster.now + STEADY_PERIODS * PERIOD);
  const messagesPerNodePeriod = (sumStats(cluster, 'messagesSent') - sentBefore) / n / STEADY_PERIODS;
  const gossipRecordsPerNodePeriod = (sumStats(cluster, 'gossipSent') - gossipBefore) / n / STEADY_PERIODS;

  // A join: node n joins through one random member.
  const joiner = n;
  const joinAt = cluster.now;
  cluster.start(joiner, [cluster.random.int(n)]);
  const sentBeforeJoin = sumStats(cluster, 'messagesSent');
  const known = cluster.runUntil(() => observersSeeing(cluster, joiner, ['joining', 'up']) === n, joinAt + 60 * PERIOD, 10);
  const up = cluster.runUntil(() => observersSeeing(cluster, joiner, ['up']) === n, joinAt + 60 * PERIOD, 10);
  cluster.run(joinAt + 5 * PERIOD);
  const messagesPerNodePeriodJoin = (sumStats(cluster, 'messagesSent') - sentBeforeJoin) / (n + 1) / 5;
  cluster.run(cluster.now + 5 * PERIOD);

  // A failure: a random member crashes.
  const victim = cluster.random.int(n);
  cluster.crash(victim);
  const crashAt = cluster.now;
  const suspected = cluster.runUntil(() => observersSeeing(cluster, victim, ['suspect', 'down']) > 0, crashAt + 60 * PERIOD, 10);
  const firstDown = cluster.runUntil(() => observersSeeing(cluster, victim, ['down']) > 0, crashAt + 60 * PERIOD, 10);
  const everywhere = cluster.runUntil(() => observersSeeing(cluster, victim, ['down']) === n, crashAt + 60 * PERIOD, 10);
  if (known === null || up === null || suspected === null || firstDown === null || everywhere === null) {
    throw new Error(`N=${n} seed=${seed}: an event never reached every node`);
  }
  return {
    drainPeriods,
    joinKnownPeriods: (known - joinAt) / PERIOD,
    joinUpPeriods: (up - joinAt) / PERIOD,
    firstSuspectPeriods: (suspected - crashAt) / PERIOD,
    downEverywherePeriods: (everywhere - crashAt) / PERIOD,
    downSpreadPeriods: (everywhere - firstDown) / PERIOD,
    messagesPerNodePeriod,
    messagesPerNodePeriodJoin,
    gossipRecordsPerNodePeriod,
    stepsPerSecond: cluster.steps / ((performance.now() - started) / 1000),
  };
}

function sumStats(cluster: SimCluster, key: 'messagesSent' | 'gossipSent'): number {
  let total = 0;
  for (const node of cluster.running()) total += node.core!.stats()[key];
  return total;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function main(): void {
  const sizes = process.argv.slice(2).map(Number).filter((x) => Number.isInteger(x) && x > 1);
  const trialsWanted = Number(process.env['SEEDS'] ?? 3);
  const rows: Figures[] = [];
  for (const n of sizes.length > 0 ? sizes : [10, 100, 1000]) {
    const trials = n >= 1000 ? 1 : trialsWanted;
    const runs = Array.from({ length: trials }, (_, i) => measure(n, 9000 + i));
    const avg = (k: keyof (typeof runs)[number]) => mean(runs.map((r) => r[k]));
    rows.push({
      n, trials, drainPeriods: avg('drainPeriods'),
      joinKnownPeriods: avg('joinKnownPeriods'), joinUpPeriods: avg('joinUpPeriods'),
      firstSuspectPeriods: avg('firstSuspectPeriods'), downEverywherePeriods: avg('downEverywherePeriods'), downSpreadPeriods: avg('downSpreadPeriods'),
      messagesPerNodePeriod: avg('messagesPerNodePeriod'), messagesPerNodePeriodJoin: avg('messagesPerNodePeriodJoin'), gossipRecordsPerNodePeriod: avg('gossipRecordsPerNodePeriod'), stepsPerSecond: avg('stepsPerSecond'),
    });
    process.stderr.write(`N=${n} done\n`);
  }
  const f = (x: number) => x.toFixed(1);
  console.log(`membership simulation: probe period ${PERIOD} ms, suspicion ${config.suspicionTimeoutMs} ms (${config.suspicionTimeoutMs / PERIOD} periods), gossip every ${config.gossipIntervalMs} ms to ${config.gossipFanout}, healthy network`);
  console.log('| N | trials | join known by all | join up at all | failure: first suspicion | failure: down at all | down spread (first→all) | goal 3·log2(N) | msgs/node/period steady | msgs/node/period during a join | gossip records/node/period steady | join-wave drain |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.n} | ${r.trials} | ${f(r.joinKnownPeriods)} | ${f(r.joinUpPeriods)} | ${f(r.firstSuspectPeriods)} | ${f(r.downEverywherePeriods)} | ${f(r.downSpreadPeriods)} | ${f(3 * Math.log2(r.n))} | ${f(r.messagesPerNodePeriod)} | ${f(r.messagesPerNodePeriodJoin)} | ${f(r.gossipRecordsPerNodePeriod)} | ${f(r.drainPeriods)} |`);
  }
  console.log('(all times in probe periods; "down at all" includes the 5-period suspicion timeout; simulator ' + rows.map((r) => `${Math.round(r.stepsPerSecond / 1000)}k steps/s at N=${r.n}`).join(', ') + ')');
}

main();
