/**
 * Static discovery and readmission with real processes:
 * - a node whose only seed is not running yet runs as a one-node cluster
 *   (ready), and merges once the seed appears;
 * - a node that stops answering (SIGSTOP, as a frozen VM or a cut network
 *   would) is declared down, and is readmitted when it comes back (SIGCONT)
 *   with the same generation and a higher incarnation.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort, ProcessGroup, stateOf, waitSeesUp } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';


describe('seeds and healing', () => {
  const group = new ProcessGroup();
  after(() => group.cleanup());

  it('runs alone while its seed is unreachable, then merges when the seed appears', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const a = group.start({ name: 'sa', clusterPort: portA, seeds: [`sb@127.0.0.1:${portB}`] });
    await a.ready();
    await waitFor(async () => (await a.request('GET', '/health/ready')).status === 200, { timeoutMs: 15_000, what: 'sa to be ready alone', abortIf: a.exitedReason });
    const alone = await a.status();
    assert.deepEqual(alone.members.map((m) => m.name), [a.nodeName]);

    const b = group.start({ name: 'sb', clusterPort: portB, seeds: [] });
    await b.ready();
    await waitSeesUp(a, 2);
    await waitSeesUp(b, 2);
  });

  it('ties candidates spelled otherwise than the members\' addresses to them (DNS gives IPs, nodes are named by host)', async () => {
    // Nodes are named n@127.0.0.1 but seeded as 127.0.0.2:port, another address of the same listener.
    const [portA, portB] = [await freePort(), await freePort()];
    const seeds = [`127.0.0.2:${portA}`, `127.0.0.2:${portB}`];
    const env = { CLUSTER_BIND: '0.0.0.0' };
    const a = group.start({ name: 'ta', clusterPort: portA, seeds, env });
    const b = group.start({ name: 'tb', clusterPort: portB, seeds, env });
    await Promise.all([a.ready(), b.ready()]);
    await waitSeesUp(a, 2);
    await waitSeesUp(b, 2);
    await waitFor(async () => {
      const report = (await a.request('GET', '/api/cluster/discovery')).json;
      const outcomes = Object.fromEntries(report.candidateReports.map((c: { address: string; outcome: string }) => [c.address, c.outcome]));
      return outcomes[seeds[0]!] === 'self' && outcomes[seeds[1]!] === 'joined';
    }, { timeoutMs: 15_000, what: 'ta to report its own alias as self and tb\'s as joined' });
  });

  it('declares a frozen node down and readmits it when it comes back', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((port, i) => `h${i + 1}@127.0.0.1:${port}`);
    const nodes = ports.map((port, i) => group.start({ name: `h${i + 1}`, clusterPort: port, seeds }));
    await Promise.all(nodes.map((n) => n.ready()));
    for (const node of nodes) await waitSeesUp(node, 3);
    const frozen = nodes[2]!;
    const before = (await nodes[0]!.status()).members.find((m) => m.name === frozen.nodeName)!;

    process.kill(frozen.pid, 'SIGSTOP');
    try {
      for (const observer of nodes.slice(0, 2)) {
        await waitFor(async () => (await stateOf(observer, frozen.nodeName)) === 'down', { timeoutMs: 15_000, what: `${observer.nodeName} to see ${frozen.nodeName} down` });
      }
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
    }
    for (const node of nodes) await waitSeesUp(node, 3);
    const after = (await nodes[0]!.status()).members.find((m) => m.name === frozen.nodeName)!;
    assert.equal(after.generation, before.generation, 'same process, same generation');
    assert.ok(after.incarnation > before.incarnation, `incarnation ${after.incarnation} > ${before.incarnation}`);
  });
});
