/**
 * `npm run bench`: every benchmark of docs/BENCHMARKS.md, one after the
 * other, each in its own process with the arguments the figures were taken
 * with (dnsmasq and multicast need what their own headers say). Prints each
 * one's output as it comes; exits non-zero if any failed.
 *
 *   node dist/bench/run-all.js [name-filter]
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BENCHMARKS: Array<[string, string[]]> = [
  ['failure-detection', ['10']],
  ['transport', []],
  ['swim-under-raft-stream', []],
  ['membership-sim', []],
  ['http-facade', ['15']],
  ['port-scan', ['100']],
  ['raft-sim-throughput', []],
  ['multi-raft-idle', ['1000', '5000']],
  ['dns-discovery', ['10']],
  ['multicast-discovery', ['10']],
  ['tables', []], // knobs from the environment (BENCH_SECONDS, …); about 3 minutes
  ['actors', []], // knobs from the environment (BENCH_SECONDS, …); about 45 s
  ['pubsub', []], // knobs from the environment (BENCH_SUBSCRIBERS, …); about 15 s
];

const filter = process.argv[2];
let failed = 0;
for (const [name, args] of BENCHMARKS) {
  if (filter !== undefined && !name.includes(filter)) continue;
  console.log(`\n=== ${name} ${args.join(' ')}`);
  const run = spawnSync(process.execPath, [join(here, `${name}.js`), ...args], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    console.log(`=== ${name} failed (exit ${run.status ?? run.signal})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
