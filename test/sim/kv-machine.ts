/**
 * The key-value state machine the simulated Raft groups replicate: registers
 * with get, put and compare-and-set, plus the applied index stored with the
 * data (one atomic unit, as the shell would commit both in one LMDB
 * transaction; thesis errata: lastApplied is exactly as durable as the
 * state machine). It survives a crash as it stands; a snapshot is its
 * serialized form at the applied index.
 *
 * Commands are JSON so the entry data is readable in traces; keys are
 * serialized in sorted order, so equal states give equal snapshots.
 */

import type { KvInput, KvOutput } from './linearizability.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A replicated write: a put or a compare-and-set (reads go through ReadIndex, not the log). */
export type KvCommand = Extract<KvInput, { op: 'put' | 'cas' }> & { id: string };

export function encodeCommand(command: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(data)) as KvCommand;
}

export class KvMachine {
  private data = new Map<string, unknown>();
  /** Index of the last entry (or snapshot) applied. */
  applied = 0;

  get(key: string): unknown {
    return this.data.has(key) ? this.data.get(key) : null;
  }

  /** Applies the command of entry `index` (which must be the next one) and returns its output. */
  apply(index: number, command: KvCommand | null): KvOutput | null {
    if (index !== this.applied + 1) throw new Error(`kv applied ${index} after ${this.applied}`);
    this.applied = index;
    if (command === null) return null;
    if (command.op === 'put') {
      this.data.set(command.key, command.value);
      return { ok: true };
    }
    const current = this.get(command.key);
    const matches = JSON.stringify(current) === JSON.stringify(command.expected ?? null);
    if (matches) this.data.set(command.key, command.value);
    return { ok: matches };
  }

  serialize(): Uint8Array {
    return enc.encode(JSON.stringify([...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }

  /** Replaces the whole state with a snapshot taken at `index`. */
  restore(index: number, data: Uint8Array): void {
    this.data = new Map(JSON.parse(dec.decode(data)) as [string, unknown][]);
    this.applied = index;
  }
}
