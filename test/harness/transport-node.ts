/**
 * A TCP transport on 127.0.0.1 for tests, with what it saw recorded: its
 * events and the payloads of its `swim` channel. The caller lists it in
 * `started` and stops it in its own cleanup.
 */
import pino, { type Logger } from 'pino';
import { SeededRandom } from '../../lib/protocol/random.js';
import { createTcpTransport } from '../../lib/transport/tcp-transport.js';
import type { Transport, TransportEvent, TransportOptions } from '../../lib/transport/transport.js';

export interface TestTransportNode {
  transport: Transport;
  address: string;
  port: number;
  events: TransportEvent[];
  received: unknown[];
}

export interface TestTransportSetup {
  clusterName: string;
  cookie: string;
  backoff: { baseMs: number; maxMs: number };
  log?: Logger;
  started: Transport[];
}

export async function startTestTransport(name: string, setup: TestTransportSetup, overrides: Partial<TransportOptions> = {}): Promise<TestTransportNode> {
  const transport = createTcpTransport({
    self: { name, generation: 1 },
    advertisedAddress: '127.0.0.1:0',
    bindHost: '127.0.0.1',
    port: 0,
    clusterName: setup.clusterName,
    cookie: setup.cookie,
    backoff: setup.backoff,
    random: new SeededRandom(name.length),
    log: setup.log ?? pino({ level: 'silent' }),
    ...overrides,
  });
  setup.started.push(transport);
  const events: TransportEvent[] = [];
  const received: unknown[] = [];
  transport.onEvent((event) => events.push(event));
  transport.onMessage('swim', (_from, payload) => received.push(payload));
  const { address, port } = await transport.start();
  return { transport, address, port, events, received };
}
