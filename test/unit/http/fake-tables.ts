/**
 * An in-memory `TablesApi` for facade tests: records every call with its
 * options, and lets a test make the next call fail with a given error.
 * Partitions are by the key's first character, enough to test the refusal
 * of a batch across partitions.
 */
import { BadRequestError, NoSuchTableError, TableExistsError } from '../../../lib/errors.js';
import type { CallOptions } from '../../../lib/node-api.js';
import type { BatchOp, CreateTableOptions, ReadOptions, TableInfo, TableScanOptions, TableScanPage, TablesApi, Versioned, WatchEvent, WatchOptions, WriteOutcome } from '../../../lib/tables/tables-api.js';
import { FakeNode } from './fake-node.js';

interface Table {
  info: TableInfo;
  data: Map<string, Versioned<unknown>>;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class FakeTables implements TablesApi {
  readonly tables = new Map<string, Table>();
  calls: Array<{ method: string; args: unknown[] }> = [];
  /** Thrown by the next call, then cleared. */
  failNext: Error | undefined;
  /** What `watch` yields, then (if set) the error it ends with; without one it waits for its signal. */
  watchScript: { events: WatchEvent[]; end?: Error } = { events: [] };
  private version = 0;

  private enter(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const err = this.failNext;
    this.failNext = undefined;
    if (err) throw err;
  }

  private table(name: string): Table {
    const t = this.tables.get(name);
    if (!t) throw new NoSuchTableError(name);
    return t;
  }

  partitionOf(table: string, key: string): number {
    return key.codePointAt(0)! % this.table(table).info.partitions;
  }

  async create(name: string, options: CreateTableOptions, call?: CallOptions): Promise<TableInfo> {
    this.enter('create', name, options, call);
    if (this.tables.has(name)) throw new TableExistsError(name);
    const info = { name, partitions: options.partitions ?? 8, replicationFactor: options.replicationFactor ?? 3 };
    this.tables.set(name, { info, data: new Map() });
    return info;
  }
  async *watch(table: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    this.enter('watch', table, options);
    this.table(table);
    for (const event of this.watchScript.events) yield event;
    if (this.watchScript.end) throw this.watchScript.end;
    const signal = options.signal;
    if (signal && !signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }
  async list(call?: CallOptions): Promise<TableInfo[]> {
    this.enter('list', call);
    return [...this.tables.values()].map((t) => t.info).sort((a, b) => a.name.localeCompare(b.name));
  }
  async drop(name: string, call?: CallOptions): Promise<void> {
    this.enter('drop', name, call);
    this.table(name);
    this.tables.delete(name);
  }
  async get(table: string, key: string, options?: ReadOptions): Promise<Versioned<unknown> | null> {
    this.enter('get', table, key, options);
    return this.table(table).data.get(key) ?? null;
  }
  async put(table: string, key: string, value: unknown, call?: CallOptions): Promise<{ version: number }> {
    this.enter('put', table, key, value, call);
    const version = ++this.version;
    this.table(table).data.set(key, { value, version });
    return { version };
  }
  async delete(table: string, key: string, call?: CallOptions): Promise<{ version: number; existed: boolean }> {
    this.enter('delete', table, key, call);
    const existed = this.table(table).data.delete(key);
    return { version: ++this.version, existed };
  }
  async cas(table: string, key: string, expected: unknown, value: unknown, call?: CallOptions): Promise<WriteOutcome<unknown>> {
    this.enter('cas', table, key, expected, value, call);
    return this.apply(table, [{ op: 'cas', key, expected, value }]);
  }
  async batch(table: string, ops: BatchOp<unknown>[], call?: CallOptions): Promise<WriteOutcome<unknown>> {
    this.enter('batch', table, ops, call);
    const partitions = new Set(ops.map((op) => this.partitionOf(table, op.key)));
    if (partitions.size > 1) throw new BadRequestError(`a batch must stay within one partition; its keys fall in partitions ${[...partitions].join(', ')}`);
    return this.apply(table, ops);
  }
  async scan(table: string, options: TableScanOptions = {}): Promise<TableScanPage> {
    this.enter('scan', table, options);
    const keys = [...this.table(table).data.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const after = options.cursor === undefined ? undefined : Buffer.from(options.cursor.replace(/^c1\./, ''), 'base64url').toString();
    const matching = keys.filter(
      (k) =>
        (options.prefix === undefined || k.startsWith(options.prefix)) &&
        (options.start === undefined || k >= options.start) &&
        (options.end === undefined || k < options.end) &&
        (after === undefined || k > after),
    );
    const limit = options.limit ?? 100;
    const page = matching.slice(0, limit);
    const data = this.table(table).data;
    return {
      items: page.map((key) => ({ key, ...data.get(key)! })),
      cursor: matching.length > limit ? 'c1.' + Buffer.from(page.at(-1)!).toString('base64url') : null,
    };
  }

  private apply(table: string, ops: BatchOp<unknown>[]): WriteOutcome<unknown> {
    const data = this.table(table).data;
    for (const [i, op] of ops.entries()) {
      if (op.op !== 'cas' && op.op !== 'check') continue;
      const current = data.get(op.key) ?? null;
      const ok = op.expected === null || op.expected === undefined ? current === null : current !== null && same(current.value, op.expected);
      if (!ok) return { ok: false, failed: i, key: op.key, current };
    }
    const version = ++this.version;
    for (const op of ops) {
      if (op.op === 'put' || (op.op === 'cas' && op.value !== null)) data.set(op.key, { value: op.value, version });
      else if (op.op === 'delete' || (op.op === 'cas' && op.value === null)) data.delete(op.key);
    }
    return { ok: true, version };
  }
}

/** A FakeNode that offers tables. */
export class FakeTablesNode extends FakeNode {
  readonly tables = new FakeTables();
}
