/**
 * How long finding `name@host` takes: a scan of a 56-port range on loopback
 * (the size of the default CLUSTER_PORT_RANGE) with 3 troupe nodes listening
 * in it, against the floor for the same work — 56 parallel raw TCP connects
 * (refused or accepted) with no troupe protocol at all — measured in the same
 * run. Goal: the whole range on loopback well under a second. Trials are
 * spaced by 220 ms: each scan opens a connection to every node, and a node
 * accepts at most 5 a second per source address after a burst of 20 (the
 * accept rate limit), so back-to-back scans would measure refusals.
 *
 *   node dist/bench/port-scan.js [trials]
 */
import { connect } from 'node:net';
import pino from 'pino';
import { portsOf, type PortRange } from '../lib/node-address.js';
import { SeededRandom } from '../lib/protocol/random.js';
import { scanHost } from '../lib/transport/port-scan.js';
import { createTcpTransport } from '../lib/transport/tcp-transport.js';
import type { Transport } from '../lib/transport/transport.js';
import { freePort } from '../test/harness/troupe-process.js';

const trials = Number(process.argv[2] ?? 100);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The floor: connect to every port of the range at once and close, reading nothing. */
function rawConnects(range: PortRange): Promise<void> {
  return Promise.all(portsOf(range).map((port) => new Promise<void>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.once('connect', done);
    socket.once('error', done);
  }))).then(() => undefined);
}

async function time(run: () => Promise<unknown>, gapMs = 0): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < trials; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return samples;
}

async function main(): Promise<void> {
  const first = await freePort();
  const range: PortRange = { first, last: first + 55 };
  const nodes: Transport[] = [];
  for (const name of ['s1', 's2', 's3']) {
    const transport = createTcpTransport({
      self: { name: `${name}@127.0.0.1`, generation: 1 },
      advertisedAddress: '127.0.0.1:0',
      bindHost: '127.0.0.1',
      port: range,
      clusterName: 'bench',
      cookie: 'bench-cookie-0123456789',
      random: new SeededRandom(name.length),
      log: pino({ level: 'silent' }),
    });
    await transport.start();
    nodes.push(transport);
  }
  try {
    const check = await scanHost('127.0.0.1', { range });
    if (check.nodes.length !== 3) throw new Error(`expected 3 nodes in the range, found ${check.nodes.length}`);
    // Scans first: the raw connects drain every node's accept budget for this source.
    let incomplete = 0;
    const scan = await time(async () => {
      if ((await scanHost('127.0.0.1', { range })).nodes.length !== 3) incomplete++;
    }, 220);
    await time(() => rawConnects(range)); // warm-up, discarded
    const raw = await time(() => rawConnects(range));
    const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
    console.log(`port scan of ${range.last - range.first + 1} ports on loopback, 3 nodes listening, ${trials} trials`);
    console.log(`  raw parallel connects: p50 ${fmt(percentile(raw, 50))}, p99 ${fmt(percentile(raw, 99))}`);
    console.log(`  scan (read each hello): p50 ${fmt(percentile(scan, 50))}, p99 ${fmt(percentile(scan, 99))}, max ${fmt(Math.max(...scan))}`);
    console.log(`  scans that missed a node: ${incomplete} of ${trials}`);
    console.log(`  ratio scan/raw at p50: ${(percentile(scan, 50) / percentile(raw, 50)).toFixed(2)}× (goal: the whole range well under 1000 ms)`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

await main();
