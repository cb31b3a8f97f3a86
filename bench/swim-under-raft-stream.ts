/**
 * SWIM ack latency with and without a bulk Raft stream on the same link.
 *
 * Two TCP transports in two processes on loopback (one core each on a
 * 2-core machine). The driver sends a ping on 'swim'; the peer's handler
 * answers at once with an ack on 'swim'; the driver records the round trip.
 * Pings go one after the other, `pings` of them, in two phases:
 *
 *   1. idle: nothing else on the link;
 *   2. loaded: the driver also streams 64 KiB frames on 'raft' to the same
 *      peer, as fast as the transport's queue accepts them: every event-loop
 *      turn it sends until `send` refuses one or `windowFrames` frames are
 *      queued on the link, so the link stays saturated. The window (1000
 *      frames, 64 MB) keeps a FIFO queue of 10,000 frames from filling up:
 *      a full one would refuse every ping (the bulk stream takes each slot
 *      first), so there would be no round trip to measure.
 *
 * It prints p50/p99/max of both phases, the p99 ratio, and the bulk
 * throughput the peer received during phase 2. A ping refused by `send`
 * (queue full) is retried next turn and its wait counts in its round trip;
 * a phase stops early after `maxPhaseMs` and says how many pings it did.
 *
 *   node dist/bench/swim-under-raft-stream.js [pings=3000] [bulkFrameBytes=65536] [maxPhaseMs=30000] [windowFrames=1000]
 */

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loopbackTransport } from './loopback-transport.js';
import type { PeerIdentity, Transport } from '../lib/transport/transport.js';

const WARMUP_PINGS = 500;

interface Ready {
  type: 'ready';
  transportAddress: string;
}

type Control = { type: 'exit' };

interface Ping {
  t: 'ping' | 'ack';
  seq: number;
}

// ---------------------------------------------------------------- peer role

async function serve(): Promise<void> {
  const transport = loopbackTransport('bench-peer');
  let bulkBytes = 0;
  let bulkFrames = 0;
  transport.onMessage('swim', (from: PeerIdentity, payload: unknown) => {
    const ping = payload as Ping;
    transport.send(from.address, 'swim', { t: 'ack', seq: ping.seq } satisfies Ping);
  });
  transport.onMessage('raft', (_from: PeerIdentity, payload: unknown) => {
    bulkFrames++;
    bulkBytes += (payload as Uint8Array).byteLength;
  });
  // The driver asks for the bulk counters at the start and end of a phase.
  transport.onMessage('bench-ctl', (from: PeerIdentity, payload: unknown) => {
    transport.send(from.address, 'bench-ctl', { id: payload, bulkBytes, bulkFrames });
  });
  const { address } = await transport.start();
  process.send!({ type: 'ready', transportAddress: address } satisfies Ready);
  process.on('message', (msg: Control) => {
    if (msg.type === 'exit') void transport.stop().then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- driver role

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

interface Phase {
  samples: number[];
  /** Pings refused by send (queue full) and retried. */
  pingsRefused: number;
  elapsedMs: number;
}

class Driver {
  private ackWaiter: ((seq: number) => void) | null = null;
  private ctlWaiter: ((reply: { bulkBytes: number; bulkFrames: number }) => void) | null = null;
  private seq = 0;

  constructor(readonly transport: Transport, readonly peer: string) {
    transport.onMessage('swim', (_from, payload) => this.ackWaiter?.((payload as Ping).seq));
    transport.onMessage('bench-ctl', (_from, payload) => this.ctlWaiter?.(payload as { bulkBytes: number; bulkFrames: number }));
  }

  async peerBulkCounters(): Promise<{ bulkBytes: number; bulkFrames: number }> {
    const reply = new Promise<{ bulkBytes: number; bulkFrames: number }>((resolve) => (this.ctlWaiter = resolve));
    while (!this.transport.send(this.peer, 'bench-ctl', this.seq)) await turn();
    return reply;
  }

  async pings(count: number, maxPhaseMs: number): Promise<Phase> {
    const samples: number[] = [];
    let pingsRefused = 0;
    const began = performance.now();
    while (samples.length < count && performance.now() - began < maxPhaseMs) {
      const seq = ++this.seq;
      const acked = new Promise<void>((resolve) => {
        this.ackWaiter = (ackSeq) => {
          if (ackSeq === seq) resolve();
        };
      });
      const start = performance.now();
      while (!this.transport.send(this.peer, 'swim', { t: 'ping', seq } satisfies Ping)) {
        pingsRefused++;
        await turn();
      }
      await acked;
      samples.push(performance.now() - start);
    }
    return { samples: samples.sort((a, b) => a - b), pingsRefused, elapsedMs: performance.now() - began };
  }
}

/** Keeps the link saturated with `frameBytes` frames on 'raft' until stopped; counts what send accepted. */
function startBulkStream(transport: Transport, peer: string, frameBytes: number, windowFrames: number): { stop: () => Promise<{ accepted: number; refused: number }> } {
  const payload = new Uint8Array(frameBytes).fill(9);
  let running = true;
  let accepted = 0;
  let refused = 0;
  const done = (async () => {
    while (running) {
      while (running && (transport.links()[0]?.queuedFrames ?? 0) < windowFrames) {
        if (!transport.send(peer, 'raft', payload)) {
          refused++;
          break;
        }
        accepted++;
      }
      await turn();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { accepted, refused };
    },
  };
}

function describePhase(name: string, phase: Phase, count: number): string {
  const s = phase.samples;
  const done = s.length < count ? ` (stopped after ${fmt(phase.elapsedMs)} ms: ${s.length} of ${count} pings)` : '';
  return `  ${name.padEnd(8)} p50 ${fmt(percentile(s, 50), 3)} ms   p99 ${fmt(percentile(s, 99), 3)} ms   max ${fmt(s[s.length - 1]!, 3)} ms   pings refused ${phase.pingsRefused}${done}`;
}

async function drive(): Promise<void> {
  const count = Number(process.argv[2] ?? 3_000);
  const frameBytes = Number(process.argv[3] ?? 64 * 1024);
  const maxPhaseMs = Number(process.argv[4] ?? 30_000);
  const windowFrames = Number(process.argv[5] ?? 1_000);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['peer'], { stdio: 'inherit' });
  try {
    const [ready] = (await once(child, 'message')) as [Ready];
    const transport = loopbackTransport('bench-driver');
    const driver = new Driver(transport, ready.transportAddress);
    await transport.start();

    await driver.pings(WARMUP_PINGS, maxPhaseMs);
    const idle = await driver.pings(count, maxPhaseMs);

    const before = await driver.peerBulkCounters();
    const bulk = startBulkStream(transport, ready.transportAddress, frameBytes, windowFrames);
    // Let the stream fill the queue and the socket buffers before measuring.
    for (let i = 0; i < 50; i++) await turn();
    const began = performance.now();
    const loaded = await driver.pings(count, maxPhaseMs);
    const after = await driver.peerBulkCounters();
    const seconds = (performance.now() - began) / 1000;
    const sent = await bulk.stop();
    const stats = transport.stats();
    await transport.stop();

    const mb = (after.bulkBytes - before.bulkBytes) / 1e6;
    const lines = [
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`,
      `SWIM ping → ack round trips on one TCP link, ${fmt(count)} per phase; bulk stream of ${fmt(frameBytes)}-byte frames on 'raft', at most ${fmt(windowFrames)} queued:`,
      describePhase('idle', idle, count),
      describePhase('loaded', loaded, count),
      `  ratio    p50 ${fmt(percentile(loaded.samples, 50) / percentile(idle.samples, 50), 2)}x   p99 ${fmt(percentile(loaded.samples, 99) / percentile(idle.samples, 99), 2)}x   (loaded / idle)`,
      `  bulk     ${fmt(mb / seconds, 1)} MB/s received by the peer during the loaded phase (${fmt(after.bulkFrames - before.bulkFrames)} frames); send accepted ${fmt(sent.accepted)}, refused ${fmt(sent.refused)}`,
      `driver transport counters: framesSent ${fmt(stats.framesSent)}, bytesSent ${fmt(stats.bytesSent)}, framesDropped ${fmt(stats.framesDropped)}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    child.send({ type: 'exit' } satisfies Control);
    await once(child, 'exit');
  }
}

if (process.argv[2] === 'peer') await serve();
else await drive();
