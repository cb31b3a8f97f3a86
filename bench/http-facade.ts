/**
 * The HTTP facade under load, and what that load does to the node's SWIM
 * acks.
 *
 * Three `troupe start` processes on 127.0.0.1 (HEARTBEAT_INTERVAL=500,
 * HEARTBEAT_TIMEOUT=2000). A SWIM prober in this process — a TCP transport
 * with the cluster's cookie that speaks the `swim` channel as a member would
 * (it answers pings, so it is a fourth member, and leaves at the end) — pings
 * node 1 every PROBE_EVERY_MS and times each ack from the ping leaving to the
 * ack arriving. Phases, one after the other:
 *
 *   idle       no HTTP load
 *   status     64 keep-alive clients GET /api/cluster/status back to back
 *   metrics    64 keep-alive clients GET /metrics back to back
 *   mixed-200  200 clients alternating the two (the scenario of issue 6 §3)
 *
 * The HTTP load comes from a child process (test/harness/http-load.ts), so it
 * shares the machine's cores with the nodes but not their event loops. Per
 * phase: requests/s answered 200 and 503, latency p50/p99 of all answers,
 * ack p50/p99/max (acks lost: none within ACK_GIVE_UP_MS), and the
 * member-suspect / member-down transitions of node 1 the other nodes logged.
 *
 *   node dist/bench/http-facade.js [phaseSeconds=15]
 */
import { cpus } from 'node:os';
import pino from 'pino';
import { SeededRandom } from '../lib/protocol/random.js';
import { createTcpTransport } from '../lib/transport/tcp-transport.js';
import type { Transport } from '../lib/transport/transport.js';
import { percentile, runHttpLoad, type HttpLoadSummary } from '../test/harness/http-load.js';
import { freePort, ProcessGroup, type TroupeProcess, waitAllUp } from '../test/harness/troupe-process.js';
import { waitFor } from '../test/harness/wait-for.js';

const INTERVAL = 500;
const TIMEOUT = 2000;
/** The prober's ping period, ms: 50 acks a second, enough for a p99 per phase. */
const PROBE_EVERY_MS = 20;
/** An ack later than this counts as lost, ms. */
const ACK_GIVE_UP_MS = 5000;
const COOKIE = 'integration-cookie'; // the harness's test cookie
const phaseMs = Number(process.argv[2] ?? 15) * 1000;

interface Record {
  name: string;
  address: string;
  generation: number;
  incarnation: number;
  state: 'up' | 'left';
}

/** Pings one node over the real transport and times its acks; answers the pings it gets, as a member must. */
class SwimProber {
  private seq = 0;
  private readonly sentAt = new Map<number, number>();
  private samples: number[] = [];
  private lost = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly me: Record,
    private readonly target: { name: string; address: string },
  ) {
    transport.onMessage('swim', (from, payload) => {
      const msg = payload as { type?: string; seq?: number; target?: string };
      if (msg.type === 'ack' && typeof msg.seq === 'number' && this.sentAt.has(msg.seq)) {
        this.samples.push(performance.now() - this.sentAt.get(msg.seq)!);
        this.sentAt.delete(msg.seq);
      } else if (msg.type === 'ping' && msg.target === me.name) {
        transport.send(from.address, 'swim', { type: 'ack', from: me, seq: msg.seq, about: me.name, lagMs: 0, gossip: [] });
      }
    });
  }

  start(): void {
    this.timer = setInterval(() => this.ping(), PROBE_EVERY_MS);
  }

  private ping(): void {
    const now = performance.now();
    for (const [seq, at] of this.sentAt) {
      if (now - at < ACK_GIVE_UP_MS) break; // insertion order: the rest are younger
      this.sentAt.delete(seq);
      this.lost++;
    }
    const seq = ++this.seq;
    this.sentAt.set(seq, now);
    this.transport.send(this.target.address, 'swim', { type: 'ping', from: this.me, seq, target: this.target.name, gossip: [] });
  }

  /** The samples since the last call (after letting the acks in flight arrive). */
  async take(): Promise<{ samples: number[]; lost: number }> {
    const last = this.seq;
    await waitFor(() => ![...this.sentAt.keys()].some((seq) => seq <= last), { timeoutMs: ACK_GIVE_UP_MS + 1000, what: 'acks in flight' }).catch(() => {});
    const out = { samples: this.samples, lost: this.lost + [...this.sentAt.keys()].filter((seq) => seq <= last).length };
    for (const seq of [...this.sentAt.keys()]) if (seq <= last) this.sentAt.delete(seq);
    this.samples = [];
    this.lost = 0;
    return out;
  }

  /** Tells every node that the prober left, so nobody declares it down. */
  leave(addresses: string[]): void {
    if (this.timer) clearInterval(this.timer);
    const left = { ...this.me, state: 'left', incarnation: this.me.incarnation + 1 };
    for (const address of addresses) this.transport.send(address, 'swim', { type: 'gossip', from: left, gossip: [] });
  }
}

/** Counts the member-suspect and member-down lines other nodes log about `member`, from now on. */
function transitionCounter(observers: TroupeProcess[], member: string): () => { suspect: number; down: number } {
  const counts = { suspect: 0, down: 0 };
  for (const observer of observers) {
    observer.child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.includes(`"member":"${member}"`)) continue;
        if (line.includes('"msg":"member-suspect"')) counts.suspect++;
        if (line.includes('"msg":"member-down"')) counts.down++;
      }
    });
  }
  return () => {
    const out = { ...counts };
    counts.suspect = 0;
    counts.down = 0;
    return out;
  };
}

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

function httpLine(load: HttpLoadSummary): string {
  const seconds = load.durationMs / 1000;
  const ok = load.byStatus['200'] ?? 0;
  const shed = load.byStatus['503'] ?? 0;
  const other = load.requests - ok - shed;
  return `HTTP ${Math.round(ok / seconds)} req/s 200 + ${Math.round(shed / seconds)} req/s 503${other ? ` + ${other} other` : ''}${load.errors ? ` (${load.errors} errors: ${load.firstError})` : ''}; latency p50 ${ms(load.latency.p50)} ms, p99 ${ms(load.latency.p99)} ms, max ${ms(load.latency.max)} ms`;
}

function ackLine(acks: { samples: number[]; lost: number }): string {
  const sorted = Float64Array.from(acks.samples).sort();
  return `SWIM ack p50 ${ms(percentile(sorted, 50))} ms, p99 ${ms(percentile(sorted, 99))} ms, max ${ms(sorted.length ? sorted[sorted.length - 1]! : 0)} ms over ${sorted.length} pings, ${acks.lost} lost`;
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const env = { HEARTBEAT_INTERVAL: String(INTERVAL), HEARTBEAT_TIMEOUT: String(TIMEOUT), LOG_LEVEL: 'info' };
  let prober: SwimProber | undefined;
  let transport: Transport | undefined;
  const nodes: TroupeProcess[] = [];
  try {
    const ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((port, i) => `h${i + 1}@127.0.0.1:${port}`);
    nodes.push(...ports.map((port, i) => group.start({ name: `h${i + 1}`, clusterPort: port, seeds, env })));
    await Promise.all(nodes.map((n) => n.ready()));
    await waitAllUp(nodes, 30_000);
    const loaded = nodes[0]!;
    const transitions = transitionCounter(nodes.slice(1), loaded.nodeName);

    transport = createTcpTransport({
      self: { name: 'prober@127.0.0.1', generation: Date.now() },
      advertisedAddress: '127.0.0.1:0',
      bindHost: '127.0.0.1',
      port: 0,
      clusterName: 'troupe',
      cookie: COOKIE,
      random: new SeededRandom(1),
      log: pino({ level: 'warn' }),
    });
    const { address } = await transport.start();
    const me: Record = { name: 'prober@127.0.0.1', address, generation: Date.now(), incarnation: 0, state: 'up' };
    prober = new SwimProber(transport, me, { name: loaded.nodeName, address: `127.0.0.1:${loaded.options.clusterPort}` });
    prober.start();

    console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}; HEARTBEAT_INTERVAL=${INTERVAL} HEARTBEAT_TIMEOUT=${TIMEOUT}; ${phaseMs / 1000} s per phase; load on ${loaded.nodeName}`);
    const phases: Array<{ name: string; clients: number; paths: string[] }> = [
      { name: 'idle', clients: 0, paths: [] },
      { name: 'status', clients: 64, paths: ['/api/cluster/status'] },
      { name: 'metrics', clients: 64, paths: ['/metrics'] },
      { name: 'mixed-200', clients: 200, paths: ['/api/cluster/status', '/metrics'] },
    ];
    for (const phase of phases) {
      await prober.take(); // what came before this phase does not count
      transitions();
      let load: HttpLoadSummary | undefined;
      if (phase.clients === 0) await new Promise((resolve) => setTimeout(resolve, phaseMs));
      else load = await runHttpLoad({ url: loaded.url, paths: phase.paths, clients: phase.clients, durationMs: phaseMs, warmupMs: 1000 });
      const acks = await prober.take();
      const seen = transitions();
      console.log(`${phase.name.padEnd(9)} ${phase.clients ? `${phase.clients} clients ${phase.paths.join(' + ')}` : 'no HTTP load'}`);
      if (load) console.log(`          ${httpLine(load)}`);
      console.log(`          ${ackLine(acks)}; ${loaded.nodeName} suspect ${seen.suspect}, down ${seen.down} (as logged by the other nodes)`);
    }
  } finally {
    prober?.leave(nodes.map((n) => `127.0.0.1:${n.options.clusterPort}`));
    await transport?.stop();
    await group.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
