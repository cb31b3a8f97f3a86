/**
 * A TCP transport on 127.0.0.1 (any free port) for the transport benchmarks,
 * with the settings they share: one cluster name and cookie, warnings only.
 */
import pino from 'pino';
import { SeededRandom } from '../lib/protocol/random.js';
import { createTcpTransport } from '../lib/transport/tcp-transport.js';
import type { Transport } from '../lib/transport/transport.js';

export const BENCH_COOKIE = 'bench-cookie';

export function loopbackTransport(name: string): Transport {
  return createTcpTransport({
    self: { name, generation: 1 },
    advertisedAddress: '127.0.0.1:0',
    bindHost: '127.0.0.1',
    port: 0,
    clusterName: 'bench',
    cookie: BENCH_COOKIE,
    random: new SeededRandom(name.length),
    log: pino({ level: 'warn' }),
  });
}
