/**
 * A cluster of real `troupe start` processes serving replicated tables, as
 * the Jepsen-style tests and their nemesis drive it: nodes addressed by
 * index, each killed (SIGKILL) and started again with the same name, data
 * dir, cluster port and HTTP port, paused (SIGSTOP) and resumed (SIGCONT),
 * and, on namespace hosts, isolated from the other nodes and reconnected.
 *
 * Two shapes:
 * - `LocalTablesCluster`: nodes on 127.0.0.1 (test/harness/troupe-process.ts),
 *   requests sent straight from the test process.
 * - `NetnsTablesCluster`: one node per namespace host
 *   (test/harness/netns.ts), plus one more host for the clients, whose
 *   requests go through an HTTP relay running there (http-relay.ts). A
 *   node can be isolated from the other nodes while the clients still reach
 *   it, and every node: the partition Jepsen makes, where a deposed leader
 *   on the minority side still gets requests.
 *
 * Fixed ports matter: a node restarted after a kill answers at the URL the
 * clients already use. Local ports are taken below the kernel's ephemeral
 * range, so a client socket (thousands of them in a run) cannot be handed a
 * dead node's port and make its restart fail with EADDRINUSE.
 *
 * Every process is killed by its PID on `cleanup()`.
 */
import type { ChildProcess } from 'node:child_process';
import { NetnsNetwork, NetnsTroupeProcess, type NetnsHost } from './netns.js';
import { relaySend, RELAY_SCRIPT } from './http-relay.js';
import { sendHttp, type HttpSend, type TableNode } from './tables-client.js';
import { reservePorts } from './ports.js';
import { ProcessGroup, type TroupeProcess } from './troupe-process.js';
import { waitFor } from './wait-for.js';

export interface ClusterNode extends TableNode {
  readonly pid: number;
  /** Undefined while the process runs. */
  readonly exitCode: number | null | undefined;
  exitedReason(): string | undefined;
  readonly stderr: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  json: any;
  text: string;
}

export interface TableReplicas {
  partition: number;
  voters: string[];
  learners: string[];
  leader: string | null;
}

export abstract class TablesCluster {
  /** Nodes killed and not started again, paused, isolated from the other nodes. */
  protected readonly down = new Set<number>();
  protected readonly paused = new Set<number>();
  protected readonly cut = new Set<number>();

  constructor(
    readonly size: number,
    /** Sent as the bearer token on mutating calls, when the nodes have one. */
    readonly token: string | undefined,
    /** How requests reach the nodes. */
    readonly send: HttpSend,
  ) {}

  abstract node(index: number): ClusterNode;
  /** Starts node `index` (again: same name, data dir and ports) and waits for its ports file. */
  protected abstract launch(index: number): Promise<void>;
  protected abstract sigkill(index: number): Promise<void>;
  /** Kills every process by PID, removes the data dirs. */
  abstract cleanup(): Promise<void>;

  /** Launches every node and waits until each sees all up; on failure cleans up what it started. */
  protected async launchAll(): Promise<this> {
    try {
      for (let i = 0; i < this.size; i++) await this.launch(i);
      await this.waitAllUp();
    } catch (err) {
      await this.cleanup();
      throw err;
    }
    return this;
  }
  /** Whether a node can be isolated from the others. */
  abstract readonly canPartition: boolean;
  /** Drops every packet between node `index` and the other nodes (clients still reach all), or undoes it. */
  protected abstract setIsolated(index: number, isolated: boolean): void;

  get nodes(): ClusterNode[] {
    return Array.from({ length: this.size }, (_, i) => this.node(i));
  }

  /** The indexes of nodes running, not paused and not isolated. */
  healthy(): number[] {
    return Array.from({ length: this.size }, (_, i) => i).filter((i) => !this.down.has(i) && !this.paused.has(i) && !this.cut.has(i));
  }

  async start(index: number): Promise<void> {
    await this.launch(index);
    this.down.delete(index);
  }

  /** SIGKILL: no goodbye, nothing flushed beyond what the node already made durable. */
  async kill(index: number): Promise<void> {
    this.down.add(index);
    this.paused.delete(index);
    await this.sigkill(index);
  }

  pause(index: number): void {
    process.kill(this.node(index).pid, 'SIGSTOP');
    this.paused.add(index);
  }

  resume(index: number): void {
    process.kill(this.node(index).pid, 'SIGCONT');
    this.paused.delete(index);
  }

  isolate(index: number): void {
    this.setIsolated(index, true);
    this.cut.add(index);
  }

  /** Undoes `isolate` (the nemesis isolates one node at a time). */
  reconnect(index: number): void {
    this.setIsolated(index, false);
    this.cut.delete(index);
  }

  /** Undoes every fault: resumes paused nodes, reconnects isolated ones, starts killed ones. */
  async healAll(): Promise<void> {
    for (const i of [...this.paused]) this.resume(i);
    for (const i of [...this.cut]) this.reconnect(i);
    for (const i of [...this.down]) await this.start(i);
  }

  /** A request to node `index`; rejects when no answer came. Mutating calls carry the token. */
  async request(index: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 5_000): Promise<Answer> {
    const mutating = method !== 'GET' && method !== 'HEAD';
    const outcome = await this.send({
      method,
      url: `${this.node(index).url}${path}`,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(mutating && this.token ? { authorization: `Bearer ${this.token}` } : {}), ...headers },
      timeoutMs,
    });
    if (outcome.kind !== 'answer') throw new Error(`${method} ${path} on ${this.node(index).nodeName}: ${outcome.kind}: ${outcome.error}`);
    let json: unknown;
    try {
      json = JSON.parse(outcome.text);
    } catch {
      json = undefined;
    }
    return { status: outcome.status, headers: outcome.headers, json, text: outcome.text };
  }

  /** Waits until every node in `indexes` (default: all) sees exactly those nodes up. */
  async waitAllUp(timeoutMs = 30_000, indexes: readonly number[] = Array.from({ length: this.size }, (_, i) => i)): Promise<void> {
    const names = indexes.map((i) => this.node(i).nodeName).sort();
    for (const i of indexes) {
      await waitFor(
        async () => {
          const status = (await this.request(i, 'GET', '/api/cluster/status')).json as { members: Array<{ name: string; state: string }> };
          const up = status.members.filter((m) => m.state === 'up').map((m) => m.name).sort();
          return names.every((n) => up.includes(n)) || undefined;
        },
        { timeoutMs, what: `${this.node(i).nodeName} to see ${names.join(', ')} up`, abortIf: () => this.node(i).exitedReason() },
      );
    }
  }

  async createTable(name: string, partitions: number, replicationFactor: number, timeoutMs = 30_000): Promise<void> {
    // A create may answer 503 while the cluster settles (no catalogue leader yet): retry until 201.
    await waitFor(
      async () => {
        const res = await this.request(0, 'POST', '/api/tables', { name, partitions, replicationFactor }, {}, 20_000);
        if (res.status === 201) return true;
        if (res.status === 409 && res.json?.error?.code === 'ERR_TABLE_EXISTS') return true; // an earlier attempt applied
        if (res.status < 500) throw new Error(`create table ${name}: ${res.status} ${res.text}`);
        return undefined;
      },
      { timeoutMs, what: `table ${name} to be created` },
    );
  }

  /** The partitions of `table` as node `index` describes them. */
  async replicas(index: number, table: string): Promise<TableReplicas[]> {
    const res = await this.request(index, 'GET', `/api/tables/${encodeURIComponent(table)}`);
    if (res.status !== 200) throw new Error(`GET /api/tables/${table} on ${this.node(index).nodeName}: ${res.status} ${res.text.slice(0, 200)}`);
    return res.json.replicas as TableReplicas[];
  }

  /** The index of a healthy node that reports itself the leader of `partition`, or undefined if none does now. */
  async selfReportedLeader(table: string, partition: number): Promise<number | undefined> {
    for (const i of this.healthy()) {
      const replicas = await this.replicas(i, table).catch(() => undefined);
      if (replicas?.find((r) => r.partition === partition)?.leader === this.node(i).nodeName) return i;
    }
    return undefined;
  }
}

/** Nodes on 127.0.0.1 with fixed ports below the ephemeral range. */
export class LocalTablesCluster extends TablesCluster {
  readonly canPartition = false;
  private readonly group = new ProcessGroup();
  private readonly procs: TroupeProcess[] = [];

  private constructor(
    size: number,
    private readonly names: string[],
    private readonly clusterPorts: number[],
    private readonly httpPorts: number[],
    private readonly env: Record<string, string>,
  ) {
    super(size, undefined, sendHttp);
  }

  /** Starts `size` nodes seeded with each other and waits until each sees all up. */
  static async start(size: number, options: { prefix?: string; env?: Record<string, string> } = {}): Promise<LocalTablesCluster> {
    const names = Array.from({ length: size }, (_, i) => `${options.prefix ?? 'j'}${i + 1}`);
    const ports = await reservePorts(2 * size);
    return new LocalTablesCluster(size, names, ports.slice(0, size), ports.slice(size), options.env ?? {}).launchAll();
  }

  node(index: number): ClusterNode {
    return this.procs[index]!;
  }

  protected async launch(index: number): Promise<void> {
    const seeds = this.names.map((n, i) => `${n}@127.0.0.1:${this.clusterPorts[i]}`);
    const previous = this.procs[index];
    const proc = this.group.start({
      name: this.names[index]!,
      clusterPort: this.clusterPorts[index]!,
      seeds,
      env: { PORT: String(this.httpPorts[index]), ...this.env },
      ...(previous ? { dataDir: previous.dataDir } : {}),
    });
    this.procs[index] = proc;
    await proc.ready();
  }

  protected async sigkill(index: number): Promise<void> {
    await this.procs[index]!.kill();
  }

  protected setIsolated(): void {
    throw new Error('local nodes share the loopback interface: no partitions without network namespaces');
  }

  async cleanup(): Promise<void> {
    await this.group.cleanup();
  }
}

/** One node per namespace host, clients on one more host through a relay. */
export class NetnsTablesCluster extends TablesCluster {
  readonly canPartition = true;
  private readonly procs: NetnsTroupeProcess[] = [];
  private static readonly CLUSTER_PORT = 9100;
  private static readonly HTTP_PORT = 4000;

  private constructor(
    size: number,
    token: string,
    send: HttpSend,
    private readonly network: NetnsNetwork,
    private readonly hosts: NetnsHost[],
    private readonly env: Record<string, string>,
  ) {
    super(size, token, send);
  }

  static async start(size: number, options: { env?: Record<string, string> } = {}): Promise<NetnsTablesCluster> {
    const network = new NetnsNetwork(size + 1, { multicastRoute: false });
    let relay: ChildProcess;
    try {
      relay = network.spawn(network.hosts[size]!, process.execPath, [RELAY_SCRIPT], { stdin: 'pipe' });
    } catch (err) {
      network.destroy();
      throw err;
    }
    // Callers on other hosts are not loopback: mutations need the token.
    const token = 'jepsen-token';
    return new NetnsTablesCluster(size, token, relaySend(relay), network, network.hosts.slice(0, size), { CLUSTER_API_TOKEN: token, ...options.env }).launchAll();
  }

  node(index: number): ClusterNode {
    const proc = this.procs[index]!;
    return {
      nodeName: proc.nodeName,
      url: proc.url,
      pid: proc.child.pid!,
      exitCode: proc.exitCode,
      exitedReason: proc.exitedReason,
      stderr: proc.stderr,
    };
  }

  protected async launch(index: number): Promise<void> {
    const host = this.hosts[index]!;
    const seeds = this.hosts.map((h, i) => `t${i + 1}@${h.address}:${NetnsTablesCluster.CLUSTER_PORT}`);
    const previous = this.procs[index];
    const proc = new NetnsTroupeProcess(this.network, host, {
      name: `t${index + 1}`,
      clusterPort: NetnsTablesCluster.CLUSTER_PORT,
      env: { PORT: String(NetnsTablesCluster.HTTP_PORT), CLUSTER_DISCOVERY_TYPE: 'static', CLUSTER_NODES: seeds.join(','), ...this.env },
      ...(previous ? { dataDir: previous.dataDir } : {}),
    });
    this.procs[index] = proc;
    await proc.ready();
  }

  protected async sigkill(index: number): Promise<void> {
    await this.procs[index]!.kill();
  }

  protected setIsolated(index: number, isolated: boolean): void {
    if (isolated) this.network.partition([this.hosts[index]!], this.hosts.filter((_, i) => i !== index));
    else this.network.healPartitions();
  }

  async cleanup(): Promise<void> {
    const dirs = new Set(this.procs.map((p) => p.dataDir));
    this.network.destroy(); // kills every process it started, by PID
    await Promise.all(this.procs.map((p) => p.exited));
    for (const proc of this.procs) if (dirs.delete(proc.dataDir)) proc.removeDataDir();
  }
}
