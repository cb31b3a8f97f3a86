/**
 * The docker-compose shape of the HexHub clustering guide: three hosts named
 * hex_hub1, hex_hub2 and hex_hub3, each running one node with exactly the
 * environment the guide's compose file gives it:
 *
 *   hex_hub1: CLUSTERING_ENABLED=true NODE_NAME=hex_hub1@hex_hub1 PORT=4000 COOKIE=hex_hub_cluster
 *   hex_hub2: ... NODE_NAME=hex_hub2@hex_hub2 ... CLUSTER_NODES=hex_hub1@hex_hub1,hex_hub2@hex_hub2
 *   hex_hub3: ... NODE_NAME=hex_hub3@hex_hub3 ... CLUSTER_NODES=hex_hub1@hex_hub1,hex_hub2@hex_hub2,hex_hub3@hex_hub3
 *
 * No CLUSTER_PORT (each node takes the first free port of CLUSTER_PORT_RANGE
 * on its own host, 9100), no port in CLUSTER_NODES (found by scanning the
 * named host's range), host names as node hosts, and CLUSTER_DISCOVERY_TYPE
 * left at its default (epmd, multicast; the hosts have a multicast route).
 * Besides those, a node gets only PATH and its DATA_DIR.
 *
 * Each host is a network namespace on a bridge (test/harness/netns.ts); the
 * service names resolve inside the namespaces only, through a hosts file per
 * namespace, as compose's service names do between its containers. The nodes
 * start in compose's depends_on order (hex_hub1, then 2, then 3). Needs root
 * and network namespaces; without them the suite is skipped, saying why.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { DiscoveryReport, NodeStatus } from '../../lib/node-api.js';
import { NetnsNetwork, NetnsTroupeProcess, netnsSupport } from '../harness/netns.js';
import { waitFor } from '../harness/wait-for.js';

/** Default timers (HEARTBEAT_INTERVAL 5 s, HEARTBEAT_TIMEOUT 10 s), as the guide leaves them: generous deadlines. */
const FORM_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;
/** The first port of the default CLUSTER_PORT_RANGE (9100-9155). */
const FIRST_RANGE_PORT = 9100;

const SERVICES = ['hex_hub1', 'hex_hub2', 'hex_hub3'] as const;
type Service = (typeof SERVICES)[number];
const NODE_NAMES = SERVICES.map((s) => `${s}@${s}`);

/** The environment of each service in the guide's docker-compose.yml, nothing added. */
function composeEnvironment(service: Service): Record<string, string> {
  const common = { CLUSTERING_ENABLED: 'true', NODE_NAME: `${service}@${service}`, PORT: '4000', COOKIE: 'hex_hub_cluster' };
  switch (service) {
    case 'hex_hub1':
      return common;
    case 'hex_hub2':
      return { ...common, CLUSTER_NODES: 'hex_hub1@hex_hub1,hex_hub2@hex_hub2' };
    case 'hex_hub3':
      return { ...common, CLUSTER_NODES: 'hex_hub1@hex_hub1,hex_hub2@hex_hub2,hex_hub3@hex_hub3' };
  }
}

const upMembers = (status: NodeStatus) => status.members.filter((m) => m.state === 'up');

/** Why `status` is not yet "the three nodes up, each at `<its host>:9100`", or undefined when it is. */
function notAllUp(status: NodeStatus, extra?: (status: NodeStatus) => string | undefined): string | undefined {
  const up = upMembers(status);
  const names = up.map((m) => m.name).sort();
  if (JSON.stringify(names) !== JSON.stringify(NODE_NAMES)) return `${status.node.name} sees ${JSON.stringify(status.members.map((m) => `${m.name} ${m.state} ${m.address}`))}`;
  const misplaced = up.filter((m) => m.address !== `${m.name.split('@')[1]}:${FIRST_RANGE_PORT}`);
  if (misplaced.length > 0) return `${status.node.name} sees ${misplaced.map((m) => `${m.name} at ${m.address}`).join(', ')}`;
  return extra?.(status);
}

describe('the docker-compose shape of the HexHub guide on three hosts', () => {
  const support = netnsSupport();
  if (!support.ok) {
    it('needs network namespaces', (t) => {
      t.skip(`needs network namespaces (${support.reason}): each compose service is a host of its own, all on port 4000 and cluster port 9100`);
    });
    return;
  }

  let network: NetnsNetwork;
  const started: NetnsTroupeProcess[] = [];
  const nodes = new Map<Service, NetnsTroupeProcess>();

  const start = async (service: Service, dataDir?: string): Promise<NetnsTroupeProcess> => {
    const index = SERVICES.indexOf(service);
    const proc = new NetnsTroupeProcess(network, network.hosts[index]!, {
      name: service,
      nodeName: `${service}@${service}`,
      baseEnv: 'none',
      env: composeEnvironment(service),
      ...(dataDir === undefined ? {} : { dataDir }),
    });
    started.push(proc);
    nodes.set(service, proc);
    await proc.ready(READY_TIMEOUT_MS);
    return proc;
  };
  const running = () => SERVICES.map((s) => nodes.get(s)!);
  const status = (proc: NetnsTroupeProcess) => proc.get('/api/cluster/status') as Promise<NodeStatus>;

  /** Polls every node until `check` says nothing is missing on any of them. */
  const waitEveryNode = async (what: string, check: (status: NodeStatus) => string | undefined): Promise<NodeStatus[]> =>
    waitFor(
      async () => {
        const statuses = await Promise.all(running().map(status));
        const missing = statuses.map(check).find(Boolean);
        if (missing) throw new Error(missing);
        return statuses;
      },
      { timeoutMs: FORM_TIMEOUT_MS, what, intervalMs: 250, abortIf: () => running().map((p) => p.exitedReason()).find(Boolean) },
    );

  before(() => {
    network = new NetnsNetwork(3, { multicastRoute: true, hosts: { hex_hub1: 1, hex_hub2: 2, hex_hub3: 3 } });
  });

  after(async () => {
    network?.destroy();
    await Promise.all(started.map((p) => p.exited));
    for (const dir of new Set(started.map((p) => p.dataDir))) rmSync(dir, { recursive: true, force: true });
  });

  it('hex_hub1, then hex_hub2, then hex_hub3 form one cluster: every node sees the three up on port 9100', async (t) => {
    t.diagnostic(`hosts: ${SERVICES.map((s, i) => `${s}=${network.hosts[i]!.address}`).join(', ')}; HTTP on 4000, no CLUSTER_PORT, default discovery`);
    for (const service of SERVICES) await start(service);

    const statuses = await waitEveryNode(`every node to see ${NODE_NAMES.join(', ')} up at <host>:${FIRST_RANGE_PORT}`, (s) => notAllUp(s));
    for (const s of statuses) {
      assert.equal(s.node.clusterPort, FIRST_RANGE_PORT, `${s.node.name} took the first port of the range on its host`);
      assert.equal(s.node.address, `${s.node.name.split('@')[1]}:${FIRST_RANGE_PORT}`);
      assert.equal(s.node.httpPort, 4000);
      assert.equal(s.node.state, 'up');
      assert.ok(s.discovery.modes.includes('epmd'), `${s.node.name}: default discovery is epmd, got ${JSON.stringify(s.discovery.modes)}`);
      assert.equal(s.discovery.unavailable, null, `${s.node.name}: multicast works on these hosts`);
      t.diagnostic(`${s.node.name}: modes ${s.discovery.modes.join('+')}; candidates ${s.discovery.candidates.join(', ') || '(none)'}; members ${s.members.map((m) => `${m.name} ${m.state} at ${m.address}`).join(', ')}`);
    }

    // The seeds without a port were found by scanning each named host's range: the static part of
    // hex_hub2's and hex_hub3's discovery resolved every entry of CLUSTER_NODES (itself included) to <host>:9100.
    for (const service of ['hex_hub2', 'hex_hub3'] as const) {
      const report = (await nodes.get(service)!.get('/api/cluster/discovery')) as DiscoveryReport;
      const seeds = composeEnvironment(service).CLUSTER_NODES!.split(',');
      const staticPart = report.perMode.find((p) => p['mode'] === 'static');
      t.diagnostic(`${service} static discovery: ${JSON.stringify(staticPart)}`);
      assert.ok(staticPart, `${service} runs static discovery for its CLUSTER_NODES: ${JSON.stringify(report.perMode)}`);
      assert.equal(staticPart['lastError'], null, `${service}: every seed resolved`);
      assert.equal(staticPart['candidates'], seeds.length, `${service}: one candidate per seed`);
      for (const seed of seeds) {
        const host = seed.split('@')[1]!;
        assert.ok(report.candidates.includes(`${host}:${FIRST_RANGE_PORT}`), `${service} proposes ${host}:${FIRST_RANGE_PORT} for ${seed}: ${JSON.stringify(report.candidates)}`);
      }
    }
  });

  it('hex_hub1 stopped (SIGTERM) and started again with the same data dir is up again on every node', async () => {
    const [hub1, hub2] = running() as [NetnsTroupeProcess, NetnsTroupeProcess, NetnsTroupeProcess];
    const previous = (await status(hub2)).members.find((m) => m.name === hub1.nodeName);
    assert.equal(previous?.state, 'up', 'the cluster of the first test');

    await hub1.terminate();
    assert.equal(hub1.exitCode, 0, `a graceful stop exits 0; stderr tail:\n${hub1.stderr.slice(-3000)}`);
    // The others see it leave (its graceful leave), so what follows is a rejoin, not a node that never went away.
    await waitFor(
      async () => {
        for (const other of running().slice(1)) if ((await status(other)).members.find((m) => m.name === hub1.nodeName)?.state === 'up') return false;
        return true;
      },
      { timeoutMs: FORM_TIMEOUT_MS, what: `hex_hub2 and hex_hub3 to see ${hub1.nodeName} no longer up`, intervalMs: 250 },
    );

    const again = await start('hex_hub1', hub1.dataDir);
    const statuses = await waitEveryNode(`every node to see the restarted ${again.nodeName} up with a new generation`, (s) =>
      notAllUp(s, (st) => {
        const member = st.members.find((m) => m.name === again.nodeName)!;
        return member.generation === previous!.generation ? `${st.node.name} still sees generation ${member.generation} of ${again.nodeName}` : undefined;
      }),
    );
    const restarted = statuses[0]!;
    assert.equal(restarted.node.name, again.nodeName);
    assert.equal(restarted.node.address, `hex_hub1:${FIRST_RANGE_PORT}`, 'the restarted node takes the first port of the range again');
    assert.ok(restarted.node.generation > previous!.generation, `generation ${restarted.node.generation} after ${previous!.generation}`);
  });
});
