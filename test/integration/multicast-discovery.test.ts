/**
 * Multicast discovery (CLUSTER_DISCOVERY_TYPE=epmd) with real `troupe start`
 * processes and no seed list.
 *
 * Where the machine allows it (root, iproute2, namespaces can be made), each
 * node runs on a host of its own: a network namespace on a bridge
 * (test/harness/netns.ts), all on the same cluster port, with the interface
 * chosen automatically as an operator would leave it. Otherwise every node
 * runs on this host's loopback (CLUSTER_MULTICAST_INTERFACE=127.0.0.1) on
 * ports of its own. TROUPE_MULTICAST_VARIANT=loopback|netns forces one. The
 * output says which ran. Two cases need namespaces and are skipped without
 * them: a network without a multicast route, and nodes named after host
 * names that do not resolve (found at the address their announcement came
 * from), one of them on a list of interfaces.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { DiscoveryReport, NodeStatus } from '../../lib/node-api.js';
import { NetnsNetwork, NetnsTroupeProcess, netnsSupport, type NetnsHost } from '../harness/netns.js';
import { freePort, ProcessGroup, type TroupeProcess } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const CLUSTER = `mc-${randomBytes(3).toString('hex')}`;
const OTHER_CLUSTER = `${CLUSTER}-other`;
const FORM_TIMEOUT_MS = 40_000;

/** One running node, whichever variant runs it. */
interface Node {
  name: string;
  address: string;
  status(): Promise<NodeStatus>;
  discovery(): Promise<DiscoveryReport>;
  kill(): Promise<void>;
  terminate(): Promise<void>;
  exitedReason(): string | undefined;
}

interface Network {
  description: string;
  /** Starts node `name` of `cluster` on host `host` (1-based); `restart` reuses that node's host, port and data. */
  start(host: number, name: string, cluster: string, restart?: Node): Promise<Node>;
  cleanup(): Promise<void>;
}

function loopbackNetwork(reason: string): Network {
  const group = new ProcessGroup();
  const processes = new Map<Node, TroupeProcess>();
  return {
    description: `loopback: every node on 127.0.0.1, CLUSTER_MULTICAST_INTERFACE=127.0.0.1 (namespaces not used: ${reason})`,
    async start(_host, name, cluster, restart) {
      const previous = restart && processes.get(restart);
      const proc = group.start({
        name,
        clusterPort: previous?.options.clusterPort ?? (await freePort()),
        ...(previous ? { dataDir: previous.dataDir } : {}),
        env: { CLUSTER_DISCOVERY_TYPE: 'epmd', CLUSTER_MULTICAST_INTERFACE: '127.0.0.1', CLUSTER_NAME: cluster },
      });
      await proc.ready();
      const node: Node = {
        name: proc.nodeName,
        address: `127.0.0.1:${proc.options.clusterPort}`,
        status: () => proc.status() as unknown as Promise<NodeStatus>,
        discovery: async () => (await proc.request('GET', '/api/cluster/discovery')).json as DiscoveryReport,
        kill: () => proc.kill(),
        terminate: () => proc.terminate(),
        exitedReason: () => proc.exitedReason(),
      };
      processes.set(node, proc);
      return node;
    },
    cleanup: () => group.cleanup(),
  };
}

function netnsNetwork(hostCount: number): Network {
  const network = new NetnsNetwork(hostCount);
  const processes = new Map<Node, NetnsTroupeProcess>();
  const all: NetnsTroupeProcess[] = [];
  return {
    description: `network namespaces: ${hostCount} hosts ${network.hosts.map((h) => h.address).join(', ')} on one bridge, automatic interface choice`,
    async start(host, name, cluster, restart) {
      const previous = restart && processes.get(restart);
      const proc = new NetnsTroupeProcess(network, network.hosts[host - 1]!, {
        name,
        clusterPort: 9100,
        ...(previous ? { dataDir: previous.dataDir } : {}),
        env: { CLUSTER_DISCOVERY_TYPE: 'epmd', CLUSTER_NAME: cluster },
      });
      all.push(proc);
      await proc.ready();
      const node: Node = {
        name: proc.nodeName,
        address: `${proc.host.address}:9100`,
        status: () => proc.get('/api/cluster/status') as Promise<NodeStatus>,
        discovery: () => proc.get('/api/cluster/discovery') as Promise<DiscoveryReport>,
        kill: () => proc.kill(),
        terminate: () => proc.terminate(),
        exitedReason: () => proc.exitedReason(),
      };
      processes.set(node, proc);
      return node;
    },
    async cleanup() {
      network.destroy();
      await Promise.all(all.map((p) => p.exited));
      for (const dir of new Set(all.map((p) => p.dataDir))) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const upNames = (status: NodeStatus) => status.members.filter((m) => m.state === 'up').map((m) => m.name).sort();

async function waitAllSee(observers: Node[], expected: (status: NodeStatus) => boolean, what: string): Promise<void> {
  await waitFor(
    async () => {
      for (const node of observers) if (!expected(await node.status())) return false;
      return true;
    },
    { timeoutMs: FORM_TIMEOUT_MS, what, intervalMs: 250, abortIf: () => observers.map((n) => n.exitedReason()).find(Boolean) },
  );
}

describe('multicast discovery across hosts', () => {
  const forced = process.env.TROUPE_MULTICAST_VARIANT;
  const support = netnsSupport();
  let network: Network;
  let useNetns = false;
  let nodes: Node[] = [];
  let stranger: Node;

  before(() => {
    if (forced === 'netns' && !support.ok) throw new Error(`TROUPE_MULTICAST_VARIANT=netns, but ${support.reason}`);
    useNetns = forced === 'netns' || (forced !== 'loopback' && support.ok);
    network = useNetns ? netnsNetwork(4) : loopbackNetwork(forced === 'loopback' ? 'TROUPE_MULTICAST_VARIANT=loopback' : support.ok ? '' : support.reason);
  });

  after(async () => {
    await network?.cleanup();
  });

  it('three nodes with no seed list find each other and form a cluster; a node of another cluster is ignored', async (t) => {
    t.diagnostic(`variant: ${network.description}`);
    [nodes, stranger] = await Promise.all([
      Promise.all([network.start(1, 'n1', CLUSTER), network.start(2, 'n2', CLUSTER), network.start(3, 'n3', CLUSTER)]),
      network.start(4, 'x1', OTHER_CLUSTER),
    ]);
    const names = nodes.map((n) => n.name).sort();
    await waitAllSee(nodes, (s) => JSON.stringify(upNames(s)) === JSON.stringify(names), `every node to see ${names.join(', ')} up`);

    // The stranger was heard (so its absence means something) and refused for its cluster name,
    // which the discovery report shows among the candidates, with its address.
    await waitFor(
      async () => {
        for (const node of nodes) {
          const report = await node.discovery();
          if (!report.records.some((r) => r.data.includes(`node=${stranger.name}`) && r.data.includes('ignored (other-cluster)'))) return false;
          if (!report.candidateReports.some((c) => c.address === stranger.address && c.name === stranger.name && c.outcome === 'wrong-cluster-name')) return false;
        }
        return true;
      },
      { timeoutMs: FORM_TIMEOUT_MS, what: `every node to record ${stranger.name} as another cluster`, intervalMs: 250 },
    );
    for (const node of nodes) {
      const status = await node.status();
      assert.ok(!status.members.some((m) => m.name === stranger.name), `${node.name} lists ${stranger.name}: ${JSON.stringify(status.members)}`);
      assert.ok(!status.discovery.candidates.includes(stranger.address), `${node.name} proposes ${stranger.address}`);
      assert.deepEqual([...status.discovery.candidates].sort(), nodes.filter((n) => n !== node).map((n) => n.address).sort());
      assert.equal(status.discovery.unavailable, null);
    }
    const alone = await stranger.status();
    assert.deepEqual(alone.members.map((m) => m.name), [stranger.name], 'the stranger stays alone');
    assert.deepEqual(alone.discovery.candidates, []);
  });

  it('a node killed and restarted is rediscovered; a graceful stop says goodbye', async () => {
    assert.equal(nodes.length, 3, 'the cluster of the first test');
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const before = (await n1.status()).members.find((m) => m.name === n3.name)!.generation;
    await n3.kill();
    const restarted = await network.start(3, 'n3', CLUSTER, n3);
    nodes = [n1, n2, restarted];
    const names = nodes.map((n) => n.name).sort();
    await waitAllSee(
      nodes,
      (s) => JSON.stringify(upNames(s)) === JSON.stringify(names) && s.members.some((m) => m.name === restarted.name && m.state === 'up' && m.generation !== before),
      `every node to see the restarted ${restarted.name} up with a new generation`,
    );

    // SIGTERM: the node leaves, and its goodbye removes it from discovery well before it could go stale (30 s).
    await restarted.terminate();
    await waitFor(async () => !(await n1.status()).discovery.candidates.includes(restarted.address), { timeoutMs: 10_000, what: `${n1.name} to drop ${restarted.address} at its goodbye`, intervalMs: 250 });
    const records = (await n1.discovery()).records;
    assert.ok(records.some((r) => r.type === 'goodbye'), JSON.stringify(records));
  });
});

describe('multicast discovery on a network without a multicast route', () => {
  it('says so in status, and works once the interface is named', async (t) => {
    const support = netnsSupport();
    if (!support.ok || process.env.TROUPE_MULTICAST_VARIANT === 'loopback') {
      t.skip(`needs network namespaces (${support.ok ? 'TROUPE_MULTICAST_VARIANT=loopback' : support.reason}): loopback always has a route`);
      return;
    }
    // Like many container networks: an interface, no default route, so 224.0.0.251 is unreachable.
    const network = new NetnsNetwork(2, { multicastRoute: false });
    const started: NetnsTroupeProcess[] = [];
    try {
      const auto = new NetnsTroupeProcess(network, network.hosts[0]!, { name: 'auto', clusterPort: 9100, env: { CLUSTER_DISCOVERY_TYPE: 'epmd', CLUSTER_NAME: CLUSTER } });
      const named = new NetnsTroupeProcess(network, network.hosts[1]!, { name: 'named', clusterPort: 9100, env: { CLUSTER_DISCOVERY_TYPE: 'epmd', CLUSTER_NAME: CLUSTER, CLUSTER_MULTICAST_INTERFACE: 'eth0' } });
      started.push(auto, named);
      await Promise.all([auto.ready(), named.ready()]);
      t.diagnostic('variant: network namespaces without a route for 224.0.0.0/4');
      const autoStatus = (await auto.get('/api/cluster/status')) as NodeStatus;
      assert.match(autoStatus.discovery.unavailable ?? '', /no route for multicast/);
      const lines = () => auto.stderr.split('\n').filter((l) => l.includes('multicast discovery (CLUSTER_DISCOVERY_TYPE=epmd) cannot find other nodes'));
      await waitFor(() => lines().length > 0, { timeoutMs: 10_000, what: 'the log line that says multicast cannot work' });
      const namedStatus = (await named.get('/api/cluster/status')) as NodeStatus;
      assert.equal(namedStatus.discovery.unavailable, null);
      assert.equal(lines().length, 1, `one clear log line, got:\n${lines().join('\n')}`);
    } finally {
      network.destroy();
      await Promise.all(started.map((p) => p.exited));
      for (const p of started) p.removeDataDir();
    }
  });
});

describe('multicast discovery with host names that do not resolve', () => {
  it('nodes named troupe@<hostname> find and join each other at the addresses their announcements came from', async (t) => {
    const support = netnsSupport();
    if (!support.ok || process.env.TROUPE_MULTICAST_VARIANT === 'loopback') {
      t.skip(`needs network namespaces (${support.ok ? 'TROUPE_MULTICAST_VARIANT=loopback' : support.reason}): on loopback every node has the same sender address`);
      return;
    }
    // As with the default NODE_NAME on a LAN without local DNS: the host part of each name resolves nowhere.
    const network = new NetnsNetwork(2);
    const started: NetnsTroupeProcess[] = [];
    try {
      const [h1, h2] = network.hosts as [NetnsHost, NetnsHost];
      const env = { CLUSTER_DISCOVERY_TYPE: 'epmd', CLUSTER_NAME: CLUSTER };
      const a = new NetnsTroupeProcess(network, h1, { name: 'a', nodeName: 'troupe@host-a.invalid', clusterPort: 9100, env });
      // b joins the group on a list of interfaces, and sends every packet on each.
      const b = new NetnsTroupeProcess(network, h2, { name: 'b', nodeName: 'troupe-b@host-b.invalid', clusterPort: 9100, env: { ...env, CLUSTER_MULTICAST_INTERFACE: 'lo,eth0' } });
      started.push(a, b);
      await Promise.all([a.ready(), b.ready()]);
      t.diagnostic('variant: network namespaces, node names with host names that do not resolve');
      const names = [a.nodeName, b.nodeName].sort();
      await waitFor(
        async () => {
          for (const node of [a, b]) if (JSON.stringify(upNames((await node.get('/api/cluster/status')) as NodeStatus)) !== JSON.stringify(names)) return false;
          return true;
        },
        { timeoutMs: FORM_TIMEOUT_MS, what: `both nodes to see ${names.join(', ')} up`, intervalMs: 250, abortIf: () => a.exitedReason() ?? b.exitedReason() },
      );
      const report = (await a.get('/api/cluster/discovery')) as DiscoveryReport;
      assert.deepEqual(report.candidates.sort(), ['host-b.invalid:9100', `${h2.address}:9100`].sort(), 'the advertised address and the sender address');
      assert.ok(report.candidateReports.some((c) => c.address === `${h2.address}:9100` && c.outcome === 'joined'), JSON.stringify(report.candidateReports));
      const bStatus = (await b.get('/api/cluster/status')) as NodeStatus;
      assert.equal(bStatus.discovery.unavailable, null);
    } finally {
      network.destroy();
      await Promise.all(started.map((p) => p.exited));
      for (const p of started) p.removeDataDir();
    }
  });
});
