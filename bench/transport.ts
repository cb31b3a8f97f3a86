/**
 * Inter-node transport throughput and latency between two processes on
 * loopback, beside the limits measured in the same run:
 *
 *   1. pipelined 100-byte messages through the transport (msgs/s, MB/s),
 *      against raw length-prefixed msgpack frames written in 64 KiB batches
 *      on a bare socket and decoded on the other side;
 *   2. request/reply round trips through the transport (p50/p99), against a
 *      raw TCP ping-pong of a length-prefixed frame of the same size.
 *
 * The parent forks this file in the 'server' role; each side is one process
 * (one core each on a 2-core machine). Goals: transport throughput >= 50% of
 * raw, transport p50 <= 2x raw p50.
 *
 *   node dist/bench/transport.js [messages=200000] [roundTrips=20000] [runs=5]
 */

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pack, unpack } from 'msgpackr';
import { loopbackTransport } from './loopback-transport.js';
import type { PeerIdentity, Transport } from '../lib/transport/transport.js';

const PAYLOAD_BYTES = 100;
const CHANNEL = 'bench';
/** The sender keeps at most this many frames queued in the transport, below the default bound of 10000. */
const PIPELINE_WINDOW = 8_000;
const SEND_CHUNK = 2_000;
const RAW_BATCH_BYTES = 64 * 1024;

interface Ready {
  type: 'ready';
  transportAddress: string;
  echoPort: number;
  sinkPort: number;
}

type Control = { type: 'expect'; count: number } | { type: 'exit' };

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** Reads 4-byte-length-prefixed frames from a socket; calls `onFrame` with each body. */
function readFrames(socket: Socket, onFrame: (body: Buffer) => void): void {
  let pending: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset);
      if (buf.length - offset - 4 < length) break;
      onFrame(buf.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    pending = offset === buf.length ? null : buf.subarray(offset);
  });
}

// ---------------------------------------------------------------- server role

async function serve(): Promise<void> {
  const transport = loopbackTransport('bench-server');
  let expected = 0;
  let count = 0;
  transport.onMessage(CHANNEL, (from: PeerIdentity) => {
    if (++count === expected) transport.send(from.address, 'done', count);
  });
  transport.onMessage('req', (from: PeerIdentity, payload: unknown) => {
    transport.send(from.address, 'rep', payload);
  });
  transport.onMessage('ctl', (from: PeerIdentity, payload: unknown) => {
    const msg = payload as { count: number };
    expected = msg.count;
    count = 0;
    transport.send(from.address, 'ctl-ack', msg.count);
  });
  const { address } = await transport.start();

  // Raw ping-pong: echo each length-prefixed frame back as it is.
  const echo = createServer((socket) => {
    socket.setNoDelay(true);
    readFrames(socket, (body) => {
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(body.length);
      socket.write(Buffer.concat([header, body]));
    });
  });
  // Raw sink: decode every msgpack frame; answer one byte when the expected count arrived.
  let sinkExpected = 0;
  let sinkCount = 0;
  const sink = createServer((socket) => {
    socket.setNoDelay(true);
    readFrames(socket, (body) => {
      const [channel] = unpack(body) as [string, unknown];
      if (channel === 'expect') {
        sinkExpected = (unpack(body) as [string, number])[1];
        sinkCount = 0;
        socket.write(Buffer.of(1));
      } else if (++sinkCount === sinkExpected) {
        socket.write(Buffer.of(2));
      }
    });
  });
  const [echoPort, sinkPort] = await Promise.all([listen(echo), listen(sink)]);
  const ready: Ready = { type: 'ready', transportAddress: address, echoPort, sinkPort };
  process.send!(ready);
  process.on('message', (msg: Control) => {
    if (msg.type !== 'exit') return;
    echo.close();
    sink.close();
    void transport.stop().then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- driver role

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Resolves the next message on `channel`. */
function nextMessage(waiters: Map<string, (payload: unknown) => void>, channel: string): Promise<unknown> {
  return new Promise((resolve) => waiters.set(channel, resolve));
}

async function transportThroughput(client: Transport, server: string, waiters: Map<string, (payload: unknown) => void>, count: number): Promise<number> {
  const ack = nextMessage(waiters, 'ctl-ack');
  client.send(server, 'ctl', { count });
  await ack;
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
  const done = nextMessage(waiters, 'done');
  const start = performance.now();
  let sent = 0;
  while (sent < count) {
    const queued = client.links()[0]?.queuedFrames ?? 0;
    const room = Math.min(PIPELINE_WINDOW - queued, SEND_CHUNK, count - sent);
    for (let i = 0; i < room; i++) {
      if (!client.send(server, CHANNEL, payload)) throw new Error('a frame was dropped: the pipeline window exceeds the queue bound');
      sent++;
    }
    await turn();
  }
  await done;
  return performance.now() - start;
}

async function rawThroughput(port: number, count: number): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const replies: number[] = [];
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    replies.push(...chunk);
    wake?.();
  });
  const reply = (code: number): Promise<void> => new Promise((resolve) => {
    const check = (): void => {
      const at = replies.indexOf(code);
      if (at >= 0) {
        replies.splice(at, 1);
        resolve();
      } else {
        wake = check;
      }
    };
    check();
  });
  const frame = (value: unknown): Buffer => {
    const body = pack(value);
    const out = Buffer.allocUnsafe(4 + body.length);
    out.writeUInt32BE(body.length);
    body.copy(out, 4);
    return out;
  };
  socket.write(frame(['expect', count]));
  await reply(1);
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
  const start = performance.now();
  let sent = 0;
  while (sent < count) {
    const batch = Buffer.allocUnsafe(RAW_BATCH_BYTES);
    let offset = 0;
    while (sent < count) {
      const body = pack([CHANNEL, payload]);
      if (offset + 4 + body.length > RAW_BATCH_BYTES) break;
      batch.writeUInt32BE(body.length, offset);
      body.copy(batch, offset + 4);
      offset += 4 + body.length;
      sent++;
    }
    if (!socket.write(batch.subarray(0, offset))) await once(socket, 'drain');
  }
  await reply(2);
  const elapsed = performance.now() - start;
  socket.destroy();
  return elapsed;
}

async function transportLatency(client: Transport, server: string, waiters: Map<string, (payload: unknown) => void>, roundTrips: number): Promise<number[]> {
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(3);
  const samples: number[] = [];
  for (let i = 0; i < roundTrips; i++) {
    const start = performance.now();
    const reply = nextMessage(waiters, 'rep');
    client.send(server, 'req', payload);
    await reply;
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b);
}

async function rawLatency(port: number, roundTrips: number): Promise<number[]> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let onReply: (() => void) | null = null;
  readFrames(socket, () => onReply?.());
  const frame = Buffer.alloc(4 + PAYLOAD_BYTES, 3);
  frame.writeUInt32BE(PAYLOAD_BYTES);
  const samples: number[] = [];
  for (let i = 0; i < roundTrips; i++) {
    const start = performance.now();
    await new Promise<void>((resolve) => {
      onReply = resolve;
      socket.write(frame);
    });
    samples.push(performance.now() - start);
  }
  socket.destroy();
  return samples.sort((a, b) => a - b);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function drive(): Promise<void> {
  const messages = Number(process.argv[2] ?? 200_000);
  const roundTrips = Number(process.argv[3] ?? 20_000);
  const runs = Number(process.argv[4] ?? 5);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['server'], { stdio: 'inherit' });
  try {
    const [ready] = (await once(child, 'message')) as [Ready];
    const client = loopbackTransport('bench-client');
    const waiters = new Map<string, (payload: unknown) => void>();
    for (const channel of ['done', 'rep', 'ctl-ack']) {
      client.onMessage(channel, (_from, payload) => {
        const waiter = waiters.get(channel);
        waiters.delete(channel);
        waiter?.(payload);
      });
    }
    await client.start();
    const server = ready.transportAddress;

    // Warm-up: JIT both paths and establish the link.
    await transportThroughput(client, server, waiters, 20_000);
    await rawThroughput(ready.sinkPort, 20_000);
    await transportLatency(client, server, waiters, 2_000);
    await rawLatency(ready.echoPort, 2_000);

    const tputTransport: number[] = [];
    const tputRaw: number[] = [];
    for (let run = 0; run < runs; run++) {
      tputTransport.push(messages / ((await transportThroughput(client, server, waiters, messages)) / 1000));
      tputRaw.push(messages / ((await rawThroughput(ready.sinkPort, messages)) / 1000));
    }
    const latTransport = await transportLatency(client, server, waiters, roundTrips);
    const latRaw = await rawLatency(ready.echoPort, roundTrips);
    const stats = client.stats();
    await client.stop();

    const tMsgs = median(tputTransport);
    const rMsgs = median(tputRaw);
    const mb = (msgsPerS: number): number => (msgsPerS * PAYLOAD_BYTES) / 1e6;
    const us = (ms: number): number => ms * 1000;
    const lines = [
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`,
      `throughput, ${fmt(messages)} pipelined ${PAYLOAD_BYTES}-byte messages, median of ${runs} runs:`,
      `  transport   ${fmt(tMsgs)} msgs/s   ${fmt(mb(tMsgs), 1)} MB/s payload   (runs: ${tputTransport.map((x) => fmt(x)).join(', ')})`,
      `  raw frames  ${fmt(rMsgs)} msgs/s   ${fmt(mb(rMsgs), 1)} MB/s payload   (runs: ${tputRaw.map((x) => fmt(x)).join(', ')})`,
      `  ratio       ${fmt((100 * tMsgs) / rMsgs)}% of raw (goal >= 50%)`,
      `request/reply, ${fmt(roundTrips)} round trips of ${PAYLOAD_BYTES}-byte payloads:`,
      `  transport   p50 ${fmt(us(percentile(latTransport, 50)), 1)} us   p99 ${fmt(us(percentile(latTransport, 99)), 1)} us`,
      `  raw TCP     p50 ${fmt(us(percentile(latRaw, 50)), 1)} us   p99 ${fmt(us(percentile(latRaw, 99)), 1)} us`,
      `  ratio       p50 ${fmt(percentile(latTransport, 50) / percentile(latRaw, 50), 2)}x raw (goal <= 2x), p99 ${fmt(percentile(latTransport, 99) / percentile(latRaw, 99), 2)}x`,
      `client transport counters: framesSent ${fmt(stats.framesSent)}, bytesSent ${fmt(stats.bytesSent)}, framesDropped ${stats.framesDropped}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    child.send({ type: 'exit' } satisfies Control);
    await once(child, 'exit');
  }
}

if (process.argv[2] === 'server') await serve();
else await drive();
