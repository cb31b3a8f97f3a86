/**
 * The conformance suite every discovery mode runs (static, epmd, dns): one
 * set of expectations, one harness per mode that knows how to make a node
 * discoverable in that mode (a seed, an mDNS announcement, a DNS record).
 * A mode that cannot do something (static cannot learn of a node later)
 * leaves that hook out, and the suite says so in the test output.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Candidate, Discovery } from '../../discovery/index.js';
import { waitFor } from '../harness/wait-for.js';

export interface PublishedNode {
  /** Node name part, e.g. `n1`. */
  name: string;
  /** Inter-node port. */
  port: number;
}

export interface DiscoveryHarness {
  /** A discovery (not started) that should find the nodes already published, plus `initial`. */
  create(initial: PublishedNode[]): Promise<Discovery>;
  /** The address the mode proposes for `node` (e.g. `127.0.0.1:9101`). */
  expectedAddress(node: PublishedNode): string;
  /** Makes `node` discoverable after start; absent when the mode's list is fixed. */
  publishLater?(node: PublishedNode): Promise<void>;
  /** Removes all that the harness started. */
  cleanup(): Promise<void>;
  /** How long a change may take to show (poll interval + slack), ms. */
  changeTimeoutMs: number;
}

const addresses = (candidates: Candidate[]) => candidates.map((c) => c.address).sort();

export function discoveryContract(mode: string, makeHarness: () => DiscoveryHarness): void {
  describe(`discovery contract: ${mode}`, () => {
    const harness = makeHarness();
    const started: Discovery[] = [];
    after(async () => {
      await Promise.all(started.map((d) => d.close()));
      await harness.cleanup();
    });

    it('proposes the published nodes, with its mode as the source', async () => {
      const nodes = [{ name: 'c1', port: 19101 }, { name: 'c2', port: 19102 }];
      const discovery = await harness.create(nodes);
      started.push(discovery);
      assert.equal(typeof discovery.mode, 'string');
      await discovery.start();
      await discovery.start(); // idempotent
      const expected = nodes.map((n) => harness.expectedAddress(n)).sort();
      await waitFor(() => expected.every((a) => addresses(discovery.candidates()).includes(a)), { timeoutMs: harness.changeTimeoutMs, what: `${mode} to propose ${expected.join(', ')}` });
      for (const c of discovery.candidates()) assert.ok(c.source.length > 0, 'every candidate names its source');
      const state = discovery.state();
      assert.ok(state.mode.includes(discovery.mode));
      assert.ok(state.lastPollAt === null || typeof state.lastPollAt === 'number');
      assert.ok(Array.isArray(state.records));
      assert.equal(state.unavailable, null);
      await discovery.close();
      await discovery.close(); // idempotent
    });

    it('reports a node published after start through onChange', async (t) => {
      if (!harness.publishLater) {
        t.skip(`${mode} has a fixed candidate list: nothing can appear after start`);
        return;
      }
      const discovery = await harness.create([]);
      started.push(discovery);
      const changes: Candidate[][] = [];
      discovery.onChange((c) => changes.push(c));
      await discovery.start();
      const node = { name: 'late1', port: 19201 };
      await harness.publishLater(node);
      const address = harness.expectedAddress(node);
      await waitFor(() => changes.some((c) => addresses(c).includes(address)), { timeoutMs: harness.changeTimeoutMs, what: `an onChange carrying ${address}` });
      assert.ok(addresses(discovery.candidates()).includes(address));
      await discovery.close();
    });
  });
}
