/** Builders for scripted tests: restored nodes with given logs, and raw messages. */

import { SeededRandom } from '../../../lib/protocol/random.js';
import { localTestRaftConfig, type RaftConfig } from '../../../lib/protocol/raft/config.js';
import type { RaftMessage } from '../../../lib/protocol/raft/messages.js';
import { RaftCore } from '../../../lib/protocol/raft/raft.js';
import type { Entry } from '../../../lib/protocol/raft/types.js';
import { bytes, Cluster, GROUP } from './cluster.js';

/** Entries 1..n with the given terms (data = "i@term"). */
export function entries(terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: i + 1, term, kind: 'data', data: bytes(`${i + 1}@${term}`) }));
}

/** Replaces node `id` of `c` with a core restored from the given log and term (as after a restart). */
export function restore(c: Cluster, id: string, terms: number[], term: number, options: { commit?: number; vote?: string | null; config?: Partial<RaftConfig> } = {}): RaftCore {
  const n = c.node(id);
  const es = entries(terms);
  const hardState = { term, vote: options.vote ?? null, commit: options.commit ?? 0 };
  n.storage.write({ hardState, entries: es, mustSync: true }).catch(() => {});
  n.storage.sync();
  n.core = new RaftCore({ ...c.config, ...options.config }, {
    id, group: GROUP, membership: { voters: [...c.nodes.keys()].sort(), learners: [] }, hardState, entries: es, applied: 0,
  }, new SeededRandom(id.charCodeAt(0)), c.now);
  n.machine = [];
  n.appliedIndex = 0;
  c.process(id);
  return n.core;
}

export function lone(id = 'x', config: Partial<RaftConfig> = {}): RaftCore {
  return new RaftCore({ ...localTestRaftConfig(), ...config }, { id, group: GROUP, membership: { voters: [id], learners: [] } }, new SeededRandom(1), 0);
}

/** Messages of `type` in the queue, optionally from/to given nodes. */
export function queued<T extends RaftMessage['type']>(c: Cluster, type: T, from?: string, to?: string): Extract<RaftMessage, { type: T }>[] {
  return c.queue.filter((m) => m.type === type && (from === undefined || m.from === from) && (to === undefined || m.to === to)) as Extract<RaftMessage, { type: T }>[];
}

export function logTerms(core: RaftCore): number[] {
  const out: number[] = [];
  for (let i = core.log.firstIndex(); i <= core.log.lastIndex(); i++) out.push(core.log.term(i)!);
  return out;
}
