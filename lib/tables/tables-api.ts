/**
 * What the facades (HTTP, CLI) need of the replicated tables of a node:
 * types only. The facade validates input before it calls any of these
 * (shapes, and the key, value and batch limits of commands.ts), so an
 * implementation may assume well-formed requests but must still enforce the
 * limits itself (through encodeCommand) for other callers.
 *
 * Errors an implementation throws, and what the HTTP facade answers:
 * - NoSuchTableError (ERR_NO_SUCH_TABLE, 404) for any call on an unknown table;
 * - TableExistsError (ERR_TABLE_EXISTS, 409) from `create`;
 * - BadRequestError (400), e.g. a batch whose keys fall in more than one
 *   partition (the message names the keys and their partitions);
 * - KeyTooLargeError, ValueTooLargeError, BatchTooLargeError (ERR_LIMIT_EXCEEDED, 413);
 * - PartitionUnavailableError (ERR_UNAVAILABLE, 503 with Retry-After) when the
 *   partition has lost its majority: writes and linearizable reads fail fast,
 *   naming the table, the partition and the replicas it cannot reach;
 * - NotLeaderError, ProposalDroppedError (503 with Retry-After) when the
 *   request could not be routed to a leader that accepts it;
 * - OutcomeUnknownError, TimeoutError (504): a write may or may not have
 *   been applied.
 * Nothing is half-applied: a put, delete, cas or batch is one Raft entry.
 */
import type { CallOptions } from '../node-api.js';
import type { BatchOp, ScanPage, Versioned, WriteOutcome } from './partition-client.js';

export type { BatchOp, Item, Mismatch, ScanPage, Versioned, WriteOutcome } from './partition-client.js';
export type { WatchEvent, WatchOptions } from './watch.js';
import type { WatchEvent, WatchOptions } from './watch.js';

// The name rule and the limits are the catalogue's (catalogue.ts), where they are enforced.
export { DEFAULT_PARTITIONS, MAX_PARTITIONS, MAX_REPLICATION_FACTOR, MAX_TABLE_NAME_LENGTH, MAX_TABLES, TABLE_NAME_PATTERN } from './catalogue.js';

/** Where a partition's replicas are, as this node knows. */
export interface PartitionReplicas {
  partition: number;
  voters: string[];
  learners: string[];
  /** The partition's leader as this node knows it (its replica's view, or the router's cache); null when unknown. */
  leader: string | null;
  /** Fewer voters than the table's replication factor. */
  underReplicated: boolean;
}

/** A table as listed. */
export interface TableInfo {
  name: string;
  /** Number of partitions (Raft groups), fixed at creation. */
  partitions: number;
  /** Replicas of each partition. */
  replicationFactor: number;
  /** 'creating' until every partition has a leader, then 'ready'. */
  state?: 'creating' | 'ready' | 'dropping';
  /** Some partition has fewer voters than the factor (more replicas than up nodes were asked for). */
  underReplicated?: boolean;
  replicas?: PartitionReplicas[];
}

export interface CreateTableOptions {
  /** @default chosen by the implementation */
  partitions?: number;
  /** @default chosen by the implementation (at most the up members) */
  replicationFactor?: number;
}

/**
 * `linearizable` (the default): the read reflects every write acknowledged
 * before it started (ReadIndex at the partition's leader). `stale`: served by
 * whichever replica answers first from its applied state, possibly behind,
 * and available without a majority.
 */
export type ReadConsistency = 'linearizable' | 'stale';

export interface ReadOptions extends CallOptions {
  /** @default 'linearizable' */
  consistency?: ReadConsistency;
}

/** A prefix, or a range [start, end) with either bound open; `cursor` continues an earlier page of the same scan. */
export interface TableScanOptions extends ReadOptions {
  prefix?: string;
  start?: string;
  end?: string;
  /** @default DEFAULT_SCAN_LIMIT (100), at most MAX_SCAN_LIMIT (1000) */
  limit?: number;
  cursor?: string;
}

/** A page of a table scan: items in key order (UTF-8 bytes) and the cursor of the next page, null at the end. */
export type TableScanPage = ScanPage<unknown>;

export interface TablesApi {
  /** Creates a table; resolves once every partition has a leader. */
  create(name: string, options: CreateTableOptions, call?: CallOptions): Promise<TableInfo>;
  /** Tables of the cluster, sorted by name; a dropped table stays listed with state `dropping` until its data is gone everywhere and its name is free again. */
  list(call?: CallOptions): Promise<TableInfo[]>;
  /** Drops a table and its data, for good. */
  drop(name: string, call?: CallOptions): Promise<void>;

  /** The key's value and version; null when absent. */
  get(table: string, key: string, options?: ReadOptions): Promise<Versioned<unknown> | null>;
  put(table: string, key: string, value: unknown, call?: CallOptions): Promise<{ version: number }>;
  /** `existed`: whether the key held a value. */
  delete(table: string, key: string, call?: CallOptions): Promise<{ version: number; existed: boolean }>;
  /** Sets `key` to `value` (null: deletes it) if it holds `expected` (null: if it is absent). */
  cas(table: string, key: string, expected: unknown, value: unknown, call?: CallOptions): Promise<WriteOutcome<unknown>>;
  /** Applies every operation or none; every key must fall in one partition. */
  batch(table: string, ops: BatchOp<unknown>[], call?: CallOptions): Promise<WriteOutcome<unknown>>;
  /** One page in key order; follow `cursor` until it is null. */
  scan(table: string, options?: TableScanOptions): Promise<TableScanPage>;
  /** Every committed change from a position on, in version order per partition, exactly once (lib/tables/watch.ts). */
  watch(table: string, options?: WatchOptions): AsyncIterable<WatchEvent>;
}
