/**
 * Replicated tables under faults, on real `troupe start` processes, checked
 * the way Jepsen checks a database: concurrent clients record every get, put
 * and cas they issue (when it was invoked, when it returned, what it
 * returned, or that its outcome is unknown) while a nemesis kills, restarts,
 * pauses and isolates nodes; once everything is healed, a final read of
 * every key from every node joins the history, and the history must be
 * linearizable per key (test/sim/linearizability.ts): zero anomalies is the
 * only pass. Then durability (acknowledged writes survive kill -9 of every
 * node, and of a minority during writes), and a partition that has lost its
 * majority: 503s at once, naming the table, the partition and the replicas
 * it cannot reach, on its surviving replica and on a node holding none of
 * it; stale reads still answered; writes back by themselves once the nodes
 * return.
 *
 * Knobs: JEPSEN_SECONDS (how long the nemesis runs in each Jepsen run,
 * default 20), JEPSEN_SEED (the nemesis's and clients' choices; printed with
 * every failure, and in the diagnostics), JEPSEN_FIVE_NODES=1 (also a
 * five-node run with replicationFactor 5, heavier). The namespace run (a
 * network partition isolating one node) needs root and network namespaces;
 * without them it is skipped, saying why. Nothing here asserts a duration:
 * waits poll with deadlines, and the "fails fast" of a lost majority is an
 * answer that comes within a client deadline shorter than the node's own
 * request deadline (a wait for the deadline could not answer in time).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { SeededRandom, type Random } from '../../lib/protocol/random.js';
import { partitionOfKey } from '../../lib/tables/key-partition.js';
import { checkKvHistory } from '../sim/linearizability.js';
import { netnsSupport } from '../harness/netns.js';
import { Nemesis, type FaultKind } from '../harness/nemesis.js';
import { History, TablesClient, unexplainedFinalValue } from '../harness/tables-client.js';
import { LocalTablesCluster, NetnsTablesCluster, type TablesCluster } from '../harness/tables-cluster.js';
import { waitFor } from '../harness/wait-for.js';

const SECONDS = positiveNumber('JEPSEN_SECONDS', 20);
const SEED = process.env.JEPSEN_SEED !== undefined && process.env.JEPSEN_SEED !== '' ? Math.trunc(Number(process.env.JEPSEN_SEED)) : Math.floor(Math.random() * 2 ** 31);
const FIVE_NODES = process.env.JEPSEN_FIVE_NODES === '1';

/** Concurrent clients of a Jepsen run. */
const CLIENTS = 6;
/** Keys the clients share at any time (the first ones spread over every partition). */
const KEYS = 5;
/**
 * Operations on a key before it is retired for a fresh one (Jepsen's
 * independent keys): the check searches one key's history at a time, and its
 * cost grows steeply with the unknown outcomes in one key's history, so a
 * key's history is kept short and the run spreads over more keys.
 */
const OPERATIONS_PER_KEY = 150;
const PARTITIONS = 3;
/** The clients' deadline per request, ms: shorter than the node's own (5 s), longer than an election. */
const CLIENT_TIMEOUT_MS = 3_000;
/** The node's default request deadline (lib/raft/requests.ts), ms: an answer well before it cannot be a deadline expiring. */
const NODE_REQUEST_TIMEOUT_MS = 5_000;
/** Generous deadlines for the cluster to settle: CI machines are shared. */
const RECOVERY_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 300_000;

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

/** `count` key names (at least `partitions`) that together fall in every one of `partitions` partitions. */
function keysCovering(partitions: number, count: number): string[] {
  const first = new Map<number, string>();
  const rest: string[] = [];
  for (let i = 0; first.size < partitions || first.size + rest.length < count; i++) {
    const key = `key-${i}`;
    const p = partitionOfKey(key, partitions);
    if (first.has(p)) rest.push(key);
    else first.set(p, key);
  }
  return [...first.values(), ...rest].slice(0, count).sort();
}

/** The keys in use: `KEYS` at a time, each replaced by a fresh one after `OPERATIONS_PER_KEY` operations. */
class KeyPool {
  readonly all: string[];
  private readonly active: string[];
  private readonly uses = new Map<string, number>();
  private next: number;

  constructor(first: string[]) {
    this.all = [...first];
    this.active = [...first];
    this.next = Math.max(...first.map((k) => Number(k.slice('key-'.length)))) + 1;
  }

  pick(random: Random): string {
    const slot = random.int(this.active.length);
    const key = this.active[slot]!;
    const uses = (this.uses.get(key) ?? 0) + 1;
    this.uses.set(key, uses);
    if (uses >= OPERATIONS_PER_KEY) {
      const fresh = `key-${this.next++}`;
      this.active[slot] = fresh;
      this.all.push(fresh);
    }
    return key;
  }
}

/** A pause between a client's failed request and its next, so that a dead node's refusals do not spin. */
function backOff(random: Random): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20 + random.int(50)));
}

/** Checks every key's history, printing the offending key's operations on failure. */
function assertLinearizable(t: TestContext, history: History, context = ''): void {
  const { operations, leftOut } = history.checkable();
  const started = performance.now();
  const result = checkKvHistory(operations);
  t.diagnostic(`linearizability check of ${operations.length} operations (left out: ${leftOut.length} writes of unknown outcome whose value nobody observed): ${(performance.now() - started).toFixed(0)} ms`);
  if (result.ok) return;
  const omitted = leftOut.filter((o) => o.input.key === result.key);
  assert.fail(
    `the history of key ${result.key} is not linearizable ${context}(${result.operations!.length} operations; times in ms from the start; "…" = unknown outcome):\n${history.format(result.operations!)}` +
      (omitted.length > 0 ? `\nleft out of the check (unknown outcome, value never observed):\n${history.format(omitted)}` : ''),
  );
}

interface JepsenRun {
  size: number;
  replicationFactor: number;
  kinds: FaultKind[];
  seed: number;
}

/**
 * Clients and nemesis on `cluster`, then the final reads and the checks. Any
 * failure is reported with the seed, the nemesis's timeline, what the
 * clients saw and, for an anomaly, the offending key's operations.
 */
async function jepsen(t: TestContext, cluster: TablesCluster, run: JepsenRun): Promise<void> {
  const table = 'jepsen';
  const first = keysCovering(PARTITIONS, KEYS);
  const pool = new KeyPool(first);
  t.diagnostic(`seed ${run.seed} (JEPSEN_SEED), ${SECONDS} s of faults (JEPSEN_SECONDS), faults ${run.kinds.join(', ')}; first keys ${first.join(', ')} in partitions ${first.map((k) => partitionOfKey(k, PARTITIONS)).join(', ')}`);
  await cluster.createTable(table, PARTITIONS, run.replicationFactor);

  const history = new History();
  const nemesis = new Nemesis({ cluster, table, partitions: PARTITIONS, seed: run.seed, kinds: run.kinds, durationMs: SECONDS * 1000, origin: history.origin, recoveryTimeoutMs: RECOVERY_TIMEOUT_MS });
  const context = (): string =>
    `seed ${run.seed} (rerun with JEPSEN_SEED=${run.seed})\nnemesis:\n${nemesis.timeline.join('\n')}\nclients: ${history.summary()}`;

  try {
    const random = new SeededRandom(run.seed ^ 0x2545f491);
    let stopping = false;
    const worker = async (id: number, rng: Random): Promise<void> => {
      const client = new TablesClient(id, { table, history, timeoutMs: CLIENT_TIMEOUT_MS, send: cluster.send, ...(cluster.token ? { token: cluster.token } : {}) });
      const known = new Map<string, unknown>();
      let written = 0;
      while (!stopping) {
        const key = pool.pick(rng);
        const node = cluster.node(rng.int(cluster.size));
        const dice = rng.next();
        let ok: boolean;
        if (dice < 0.4) {
          const r = await client.get(node, key);
          if (r.ok) known.set(key, r.value);
          ok = r.ok;
        } else {
          // Every written value is unique, so a read names the write it saw.
          const value = id * 1_000_000 + ++written;
          if (dice < 0.7) {
            const r = await client.put(node, key, value);
            if (r.ok) known.set(key, value);
            ok = r.ok;
          } else {
            const r = await client.cas(node, key, known.get(key) ?? null, value);
            if (r.ok) known.set(key, r.applied ? value : r.current);
            ok = r.ok;
          }
        }
        if (!ok) await backOff(rng);
      }
    };
    const workers = Array.from({ length: CLIENTS }, (_, i) => worker(i + 1, random.fork()));
    try {
      await nemesis.run();
    } finally {
      stopping = true;
      await Promise.all(workers);
    }
    for (const line of nemesis.timeline) t.diagnostic(`nemesis ${line}`);
    t.diagnostic(`clients: ${history.summary()}`);

    // Recovery: every node up and seeing the others, then a linearizable read of every key on every node.
    await cluster.waitAllUp(RECOVERY_TIMEOUT_MS);
    const reader = new TablesClient(0, { table, history, timeoutMs: CLIENT_TIMEOUT_MS, send: cluster.send });
    const keys = pool.all;
    const finals = new Map<string, unknown[]>();
    for (const key of keys) {
      for (let i = 0; i < cluster.size; i++) {
        const node = cluster.node(i);
        const read = await waitFor(async () => { const r = await reader.get(node, key); return r.ok ? r : undefined; }, { timeoutMs: RECOVERY_TIMEOUT_MS, what: `a linearizable read of ${key} on ${node.nodeName} after the faults` });
        finals.set(key, [...(finals.get(key) ?? []), read.value]);
      }
    }
    t.diagnostic(`final values of ${keys.length} keys: ${keys.map((k) => `${k}=${JSON.stringify(finals.get(k)![0])}`).join(', ')}`);

    assert.deepEqual(history.unexpected, [], 'answers the contract does not allow');
    const definite = history.operations.filter((o) => o.type === 'ok' && o.client !== 0);
    assert.ok(definite.length >= 100, `the clients got only ${definite.length} definite answers: too few for the check to mean anything`);
    assert.ok(definite.some((o) => o.input.op === 'cas' && o.output !== undefined && 'ok' in o.output && o.output.ok), 'no cas was applied: the history never exercised one');
    for (const kind of run.kinds) assert.ok(nemesis.counts[kind] > 0, `the nemesis never ran ${kind}`);

    assertLinearizable(t, history);
    for (const key of keys) {
      for (const value of finals.get(key)!) {
        const why = unexplainedFinalValue(history.operations, key, value);
        if (why !== undefined) assert.fail(`${why}\n${history.format(history.operations.filter((o) => o.input.key === key))}`);
      }
    }
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const file = join(tmpdir(), `troupe-jepsen-${run.seed}-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ seed: run.seed, nemesis: nemesis.timeline, operations: history.relative() }, null, 1));
    error.message = `${error.message}\n---\n${context()}\nthe whole history: ${file}`;
    throw error;
  }
}

describe('replicated tables under a nemesis (Jepsen-style)', () => {
  it('3 nodes, factor 3, kill -9 and restart of one node and of a majority, SIGSTOP of a partition leader: every key linearizable, nothing acknowledged lost', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const cluster = await LocalTablesCluster.start(3);
    try {
      await jepsen(t, cluster, { size: 3, replicationFactor: 3, kinds: ['kill', 'kill-majority', 'pause-leader'], seed: SEED });
    } finally {
      await cluster.cleanup();
    }
  });

  it('5 nodes, factor 5, the same faults', { timeout: TEST_TIMEOUT_MS, skip: FIVE_NODES ? false : 'heavy on a shared machine: set JEPSEN_FIVE_NODES=1' }, async (t) => {
    const cluster = await LocalTablesCluster.start(5);
    try {
      await jepsen(t, cluster, { size: 5, replicationFactor: 5, kinds: ['kill', 'kill-majority', 'pause-leader'], seed: SEED + 5 });
    } finally {
      await cluster.cleanup();
    }
  });

  const support = netnsSupport();
  it('3 namespace hosts, factor 3, a network partition isolating one node (clients still reach it) besides kills and pauses', { timeout: TEST_TIMEOUT_MS, skip: support.ok ? false : `needs network namespaces (${support.reason}): a partition loses the packets between one host and the others` }, async (t) => {
    const cluster = await NetnsTablesCluster.start(3);
    try {
      await jepsen(t, cluster, { size: 3, replicationFactor: 3, kinds: ['partition', 'kill', 'pause-leader'], seed: SEED + 3 });
    } finally {
      await cluster.cleanup();
    }
  });
});

/** Puts `value` at `key` through node `index`, retrying unknown outcomes (a put is idempotent) until one is acknowledged. */
async function putAcknowledged(cluster: TablesCluster, table: string, key: string, value: unknown, pick: () => number): Promise<void> {
  await waitFor(
    async () => {
      const res = await cluster.request(pick(), 'PUT', `/api/tables/${table}/keys/${encodeURIComponent(key)}`, value, {}, CLIENT_TIMEOUT_MS);
      if (res.status === 200) return true;
      if (res.status < 500) throw new Error(`put ${key}: ${res.status} ${res.text}`);
      return undefined;
    },
    { timeoutMs: RECOVERY_TIMEOUT_MS, what: `an acknowledged put of ${key}` },
  );
}

/** A linearizable (or stale) read of `key` on node `index` that got an answer: the value, or null when absent. */
async function readKey(cluster: TablesCluster, index: number, table: string, key: string, stale = false): Promise<unknown> {
  return waitFor(
    async () => {
      const res = await cluster.request(index, 'GET', `/api/tables/${table}/keys/${encodeURIComponent(key)}`, undefined, stale ? { 'x-consistency': 'stale' } : {}, CLIENT_TIMEOUT_MS);
      if (res.status === 200) return { value: res.json.value as unknown };
      if (res.status === 404 && res.json?.error?.code === 'ERR_NOT_FOUND') return { value: null };
      if (res.status < 500) throw new Error(`get ${key} on ${cluster.node(index).nodeName}: ${res.status} ${res.text}`);
      return undefined;
    },
    { timeoutMs: RECOVERY_TIMEOUT_MS, what: `a ${stale ? 'stale' : 'linearizable'} read of ${key} on ${cluster.node(index).nodeName}` },
  ).then((r) => r.value);
}

describe('durability of acknowledged writes', () => {
  it('every acknowledged put survives kill -9 of every node and a restart on the same data dirs', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const cluster = await LocalTablesCluster.start(3, { prefix: 'd' });
    try {
      const table = 'durable';
      await cluster.createTable(table, PARTITIONS, 3);
      const random = new SeededRandom(SEED);
      const acknowledged = new Map<string, unknown>();
      // 60 keys written by 4 writers through random nodes, each key twice: the second value is the one acknowledged last.
      const keys = Array.from({ length: 60 }, (_, i) => `durable-${i}`);
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; i < keys.length; i += 4) {
          const key = keys[i]!;
          for (const round of [1, 2]) {
            const value = { key, round };
            await putAcknowledged(cluster, table, key, value, () => random.int(cluster.size));
            acknowledged.set(key, value);
          }
        }
      });
      await Promise.all(writers);
      t.diagnostic(`${acknowledged.size} keys acknowledged; kill -9 of every node`);

      await Promise.all(cluster.nodes.map((_, i) => cluster.kill(i)));
      for (let i = 0; i < cluster.size; i++) await cluster.start(i);
      await cluster.waitAllUp(RECOVERY_TIMEOUT_MS);

      const lost: string[] = [];
      for (const [i, key] of keys.entries()) {
        const value = await readKey(cluster, i % cluster.size, table, key);
        if (JSON.stringify(value) !== JSON.stringify(acknowledged.get(key))) lost.push(`${key}: read ${JSON.stringify(value)}, acknowledged ${JSON.stringify(acknowledged.get(key))}`);
      }
      assert.deepEqual(lost, [], 'acknowledged writes lost across a restart of every node');
    } finally {
      await cluster.cleanup();
    }
  });

  it('kill -9 of one node (a minority) during writes loses nothing acknowledged, and the node catches up after its restart', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const cluster = await LocalTablesCluster.start(3, { prefix: 'm' });
    try {
      const table = 'minority';
      await cluster.createTable(table, PARTITIONS, 3);
      const history = new History();
      const random = new SeededRandom(SEED ^ 0x9e3779b9);
      const victim = random.int(cluster.size);
      let stopping = false;
      // Each writer puts fresh keys, one after another, through random nodes (the victim included: refused while it is down).
      const writers = Array.from({ length: 4 }, async (_, w) => {
        const rng = random.fork();
        const client = new TablesClient(w + 1, { table, history, timeoutMs: CLIENT_TIMEOUT_MS });
        for (let i = 0; !stopping; i++) {
          const r = await client.put(cluster.node(rng.int(cluster.size)), `w${w + 1}-${i}`, { writer: w + 1, i });
          if (!r.ok) await backOff(rng);
        }
      });
      const acknowledgedPuts = () => history.operations.filter((o) => o.input.op === 'put' && o.type === 'ok').length;
      try {
        await waitFor(() => acknowledgedPuts() >= 40, { timeoutMs: RECOVERY_TIMEOUT_MS, what: '40 acknowledged puts before the kill' });
        const before = acknowledgedPuts();
        await cluster.kill(victim);
        t.diagnostic(`kill -9 ${cluster.node(victim).nodeName} after ${before} acknowledged puts`);
        await waitFor(() => acknowledgedPuts() >= before + 40, { timeoutMs: RECOVERY_TIMEOUT_MS, what: '40 more acknowledged puts with one node down' });
      } finally {
        stopping = true;
        await Promise.all(writers);
      }
      t.diagnostic(`writers: ${history.summary()}`);
      assert.deepEqual(history.unexpected, [], 'answers the contract does not allow');

      // Every key any put touched, read linearizably through the survivors: acknowledged ones must hold their value.
      const survivors = cluster.healthy();
      const reader = new TablesClient(0, { table, history, timeoutMs: CLIENT_TIMEOUT_MS });
      const keys = [...new Set(history.operations.map((o) => o.input.key))].sort();
      for (const [i, key] of keys.entries()) {
        const node = cluster.node(survivors[i % survivors.length]!);
        await waitFor(async () => (await reader.get(node, key)).ok || undefined, { timeoutMs: RECOVERY_TIMEOUT_MS, what: `a read of ${key} on ${node.nodeName}` });
      }
      assertLinearizable(t, history, `seed ${SEED}`);
      const acknowledged = history.operations.filter((o) => o.input.op === 'put' && o.type === 'ok');
      for (const put of acknowledged) {
        const final = history.operations.find((o) => o.client === 0 && o.input.key === put.input.key)!;
        assert.deepEqual(final.output, { value: (put.input as { value: unknown }).value }, `acknowledged put of ${put.input.key} lost`);
      }

      // The killed replica comes back and catches up: its own (stale) reads show every acknowledged write.
      await cluster.start(victim);
      await cluster.waitAllUp(RECOVERY_TIMEOUT_MS);
      for (const put of acknowledged) {
        const expected = (put.input as { value: unknown }).value;
        await waitFor(async () => JSON.stringify(await readKey(cluster, victim, table, put.input.key, true)) === JSON.stringify(expected) || undefined, {
          timeoutMs: RECOVERY_TIMEOUT_MS,
          what: `the restarted ${cluster.node(victim).nodeName} to hold ${put.input.key} = ${JSON.stringify(expected)} (a stale read of its own replica)`,
        });
      }
      t.diagnostic(`${acknowledged.length} acknowledged puts present on the survivors and on the restarted node`);
    } finally {
      await cluster.cleanup();
    }
  });
});

/** A key of `table` that falls in `partition` of `partitions`. */
function keyIn(prefix: string, partition: number, partitions: number): string {
  for (let i = 0; ; i++) if (partitionOfKey(`${prefix}-${i}`, partitions) === partition) return `${prefix}-${i}`;
}

/** Waits until each of `observers` sees each of `names` down. */
async function waitSeenDown(cluster: TablesCluster, observers: readonly number[], names: readonly string[]): Promise<void> {
  for (const i of observers) {
    await waitFor(
      async () => {
        const status = (await cluster.request(i, 'GET', '/api/cluster/status')).json as { members: Array<{ name: string; state: string }> };
        return names.every((n) => status.members.find((m) => m.name === n)?.state === 'down') || undefined;
      },
      { timeoutMs: RECOVERY_TIMEOUT_MS, what: `${cluster.node(i).nodeName} to see ${names.join(' and ')} down` },
    );
  }
}

/**
 * A put, a linearizable get and a cas of `key` on node `index` each answer
 * 503 ERR_UNAVAILABLE with Retry-After, naming the table, the partition and
 * exactly the `unreachable` replicas, within a client deadline shorter than
 * the node's own request deadline: a refusal, not a wait that expired.
 */
async function assertUnavailable(cluster: TablesCluster, index: number, table: string, key: string, partition: number, unreachable: readonly string[]): Promise<void> {
  const clientDeadline = NODE_REQUEST_TIMEOUT_MS / 2;
  const path = `/api/tables/${table}/keys/${key}`;
  const attempts: Array<[string, string, string, unknown]> = [
    ['put', 'PUT', path, 'after'],
    ['linearizable get', 'GET', path, undefined],
    ['cas', 'POST', `${path}/cas`, { expected: 'before', value: 'after' }],
  ];
  for (const [what, method, url, body] of attempts) {
    const on = `${what} on ${cluster.node(index).nodeName}`;
    const res = await cluster.request(index, method, url, body, {}, clientDeadline).catch((err: Error) => assert.fail(`${on}: no answer within ${clientDeadline} ms (${err.message}): the node waited instead of failing fast`));
    assert.equal(res.status, 503, `${on}: ${res.text}`);
    assert.equal(res.json.error.code, 'ERR_UNAVAILABLE', `${on}: ${res.text}`);
    assert.ok(Number(res.headers['retry-after']) > 0, `${on}: Retry-After ${res.headers['retry-after']}`);
    const details = res.json.error.details;
    assert.deepEqual({ table: details.table, partition: details.partition, unreachable: [...details.unreachable].sort() }, { table, partition, unreachable: [...unreachable].sort() }, `${on}: ${res.text}`);
    for (const name of [table, ...unreachable]) assert.ok(res.json.error.message.includes(name), `${on}: the message names ${name}: ${res.json.error.message}`);
  }
}

describe('a partition that has lost its majority', () => {
  it('answers 503 at once naming the table, the partition and the unreachable replicas; stale reads still answer; writes come back by themselves', { timeout: TEST_TIMEOUT_MS }, async () => {
    const cluster = await LocalTablesCluster.start(3, { prefix: 'q' });
    try {
      const table = 'majority';
      const partitions = 2;
      const key = keyIn('the-key', 1, partitions);
      await cluster.createTable(table, partitions, 3);
      await putAcknowledged(cluster, table, key, 'before', () => 0);

      // The survivor is the node the catalogue was created on (the lowest name), so it holds the catalogue and knows the table alone.
      const survivor = 0;
      // A majority acknowledged the put, maybe without the survivor: let its replica apply it first, so that it is the last value it can serve.
      await waitFor(async () => (await readKey(cluster, survivor, table, key, true)) === 'before' || undefined, { timeoutMs: RECOVERY_TIMEOUT_MS, what: `${cluster.node(survivor).nodeName}'s replica to apply the put` });
      const lost = [1, 2];
      for (const i of lost) await cluster.kill(i);
      const lostNames = lost.map((i) => cluster.node(i).nodeName);
      await waitSeenDown(cluster, [survivor], lostNames);

      await assertUnavailable(cluster, survivor, table, key, 1, lostNames);
      const stale = await cluster.request(survivor, 'GET', `/api/tables/${table}/keys/${key}`, undefined, { 'x-consistency': 'stale' }, NODE_REQUEST_TIMEOUT_MS / 2);
      assert.equal(stale.status, 200, stale.text);
      assert.equal(stale.json.value, 'before');
      assert.equal(stale.headers['x-consistency'], 'stale');

      for (const i of lost) await cluster.start(i);
      // No operator action: the partition regains its majority and the same write goes through.
      await putAcknowledged(cluster, table, key, 'after', () => survivor);
      for (let i = 0; i < cluster.size; i++) assert.equal(await readKey(cluster, i, table, key), 'after');
    } finally {
      await cluster.cleanup();
    }
  });

  it('factor 2 on 3 nodes: a node holding no replica of the partition answers 503 too, and stale reads from the surviving replica', { timeout: TEST_TIMEOUT_MS }, async () => {
    const cluster = await LocalTablesCluster.start(3, { prefix: 'r' });
    try {
      const table = 'pairs';
      await cluster.createTable(table, PARTITIONS, 2);
      const names = cluster.nodes.map((n) => n.nodeName);
      // A partition whose two replicas leave out one node (the outsider); its replica other than node 0 (which holds the catalogue) is the victim.
      const replicas = await cluster.replicas(0, table);
      const chosen = replicas.find((r) => r.voters.length === 2 && r.voters.includes(names[0]!));
      assert.ok(chosen, `no partition with node 0 among two voters: ${JSON.stringify(replicas)}`);
      const outsider = names.findIndex((n) => !chosen.voters.includes(n) && !chosen.learners.includes(n));
      const victim = names.findIndex((n, i) => i !== 0 && chosen.voters.includes(n));
      assert.ok(outsider > 0 && victim > 0, JSON.stringify(chosen));
      const key = keyIn('pair', chosen.partition, PARTITIONS);
      await putAcknowledged(cluster, table, key, 'before', () => outsider);
      await waitFor(async () => (await readKey(cluster, 0, table, key, true)) === 'before' || undefined, { timeoutMs: RECOVERY_TIMEOUT_MS, what: `${names[0]}'s replica to apply the put` });

      await cluster.kill(victim);
      await waitSeenDown(cluster, [0, outsider], [names[victim]!]);

      await assertUnavailable(cluster, outsider, table, key, chosen.partition, [names[victim]!]);
      for (const reader of [outsider, 0]) {
        const stale = await cluster.request(reader, 'GET', `/api/tables/${table}/keys/${key}`, undefined, { 'x-consistency': 'stale' }, NODE_REQUEST_TIMEOUT_MS / 2);
        assert.deepEqual([stale.status, stale.json?.value], [200, 'before'], `a stale read on ${names[reader]}: ${stale.text}`);
      }

      await cluster.start(victim);
      await putAcknowledged(cluster, table, key, 'after', () => outsider);
      for (let i = 0; i < cluster.size; i++) assert.equal(await readKey(cluster, i, table, key), 'after');
    } finally {
      await cluster.cleanup();
    }
  });
});
