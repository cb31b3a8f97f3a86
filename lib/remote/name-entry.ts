/**
 * Cluster-wide names, the pure part: what the names table holds, the name
 * rules, and the decisions about releasing entries (names.ts is the shell).
 *
 * A name is a key of the replicated table NAMES_TABLE (linearizable, a Raft
 * group per partition); its value is a NameEntry. Registration is a cas
 * from absent to the entry, so exactly one of concurrent registrations
 * wins; a release is a cas from the exact entry to absent, so it never
 * removes a later registration of the same name. The entry names the
 * actor (node and path), the node that registered it (`by`: it monitors the
 * actor and releases the name when the actor stops) and that node's process
 * (`owner`, random per start of its actor layer), which tells this life's
 * registrations from those a node made before it restarted under the same
 * name. Entries are plain msgpack maps (no actor reference extension), so
 * `troupe get troupe.names NAME` shows them.
 *
 * Entries die with their actor (the registering node's monitor), with the
 * actor's node or the registering node (a sweep by the live nodes on
 * member-down, -left or -removed: `releasedBy`), and with a former life of
 * the registering node (`formerLife`: a node restarted under its name
 * releases what its earlier process registered). Every sweeper scans; the
 * first in rendezvous order for the gone node sweeps at once and the others
 * after SWEEP_STAGGER_MS per rank (`sweepDelayMs`), so writes are not
 * repeated by every node while a sweeper that died is still covered.
 */
import { rankNodes } from '../protocol/placement.js';
import { RemoteRef } from './actor-ref.js';

/**
 * The table of names. Table names must start with a letter (the `$` of
 * system groups is refused by the catalogue), so this is a reserved name by
 * convention: do not create or drop it yourself (a drop releases every name;
 * the table is created again on next use).
 */
export const NAMES_TABLE = 'troupe.names';
/**
 * Partitions of the names table. @default 8: registrations of different
 * names spread over up to 8 Raft leaders; each node's watch of the table
 * runs one long poll per partition, and a sweep reads every partition.
 */
export const NAMES_TABLE_PARTITIONS = 8;
/**
 * Least replication factor of the names table (the cluster's REPLICATION_FACTOR
 * when higher). @default 3: names and singletons exist to survive the loss of
 * a node, and with 2 replicas the loss of either stops the partition's
 * writes, so no name on it could be released or taken over.
 */
export const NAMES_MIN_REPLICATION_FACTOR = 3;
/** Longest name, in characters. @default 200 (keys are limited to 1 KiB). */
export const MAX_NAME_LENGTH = 200;
/** Key prefix of singletons: the singleton `jobs` holds the name `$singleton/jobs`. Names starting with `$` are reserved. */
export const SINGLETON_PREFIX = '$singleton/';
/** A singleton's name: what a nact actor name allows (it names the instance's actor), at most 100 characters. */
export const SINGLETON_NAME_PATTERN = /^[A-Za-z0-9_.+!*'(),-]{1,100}$/;
/** Delay between two sweepers of a gone node's names, by rank, ms. @default 500 */
export const SWEEP_STAGGER_MS = 500;

export type NameKind = 'name' | 'singleton';

/** What the names table holds for a name. */
export interface NameEntry {
  /** The node the actor runs on. */
  node: string;
  /** The actor's path on that node. */
  path: string[];
  /** The node that registered the name: it monitors the actor and releases the name. */
  by: string;
  /** The registering process: random per start of a node's actor layer. */
  owner: string;
  kind: NameKind;
  /** Wall-clock time of the registration, ms since the epoch (for people; nothing depends on it). */
  at: number;
}

/**
 * What a sweep leaves under a singleton's key in place of the claim of a
 * node declared down or gone (a plain name is deleted): that claim was
 * taken, not given up, so the node that claims next waits out the old
 * holder's lease before it starts the instance (singleton-decision.ts).
 */
export interface SweptMark {
  /** The node whose claim was swept. */
  swept: string;
  /** Wall-clock ms since the epoch (for people). */
  at: number;
}

export function sweptMark(node: string, at: number): SweptMark {
  return { swept: node, at };
}

export function isSweptMark(value: unknown): value is SweptMark {
  const v = value as Partial<SweptMark> | null;
  return v !== null && typeof v === 'object' && typeof v.swept === 'string' && typeof v.at === 'number';
}

/** Builds an entry with its fields in one order (a cas compares encoded bytes). */
export function nameEntry(fields: NameEntry): NameEntry {
  return { node: fields.node, path: [...fields.path], by: fields.by, owner: fields.owner, kind: fields.kind, at: fields.at };
}

/** The entry a table value stands for, or null when it is not one (anything else stored under the key). */
export function parseEntry(value: unknown): NameEntry | null {
  const v = value as Partial<NameEntry> | null;
  if (v === null || typeof v !== 'object') return null;
  if (typeof v.node !== 'string' || typeof v.by !== 'string' || typeof v.owner !== 'string' || typeof v.at !== 'number') return null;
  if (v.kind !== 'name' && v.kind !== 'singleton') return null;
  if (!Array.isArray(v.path) || v.path.length === 0 || !v.path.every((p) => typeof p === 'string' && p !== '')) return null;
  return v as NameEntry;
}

/** Whether two entries are the same registration (every field equal). */
export function sameEntry(a: NameEntry, b: NameEntry): boolean {
  return a.node === b.node && a.by === b.by && a.owner === b.owner && a.kind === b.kind && a.at === b.at && a.path.length === b.path.length && a.path.every((p, i) => p === b.path[i]);
}

export function entryRef(entry: NameEntry): RemoteRef {
  return new RemoteRef(entry.node, entry.path);
}

/** Why `name` cannot be registered, or null. */
export function nameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return 'a name must be a non-empty string';
  if (name.length > MAX_NAME_LENGTH) return `a name is at most ${MAX_NAME_LENGTH} characters, this one has ${name.length}`;
  if (name.startsWith('$')) return `names starting with "$" are reserved (singletons hold ${SINGLETON_PREFIX}<name>): choose another name`;
  return null;
}

/** Why `name` cannot name a singleton, or null. */
export function singletonNameProblem(name: unknown): string | null {
  if (typeof name === 'string' && SINGLETON_NAME_PATTERN.test(name)) return null;
  return 'a singleton name is 1 to 100 letters, digits and _ . + ! * \' ( ) , - (it names the instance\'s actor)';
}

/** The names-table key of singleton `name`. */
export function singletonKey(name: string): string {
  return SINGLETON_PREFIX + name;
}

/** The actor name of singleton `name`'s instance (a top-level actor of the node that holds it). */
export function singletonActorName(name: string): string {
  return `$singleton-${name}`;
}

/** Whether the entry dies with `gone` (down, left or removed): its actor ran there, or the node that monitors it did. */
export function releasedBy(entry: NameEntry, gone: string): boolean {
  return entry.node === gone || entry.by === gone;
}

/** Whether the entry was registered by an earlier process of this node (same name, other owner): nothing monitors it any more. */
export function formerLife(entry: NameEntry, self: string, owner: string): boolean {
  return entry.by === self && entry.owner !== owner;
}

/** Whether this process registered the entry. */
export function ownEntry(entry: NameEntry, self: string, owner: string): boolean {
  return entry.by === self && entry.owner === owner;
}

/**
 * How long this node waits before sweeping the names of `gone`: its rank
 * among the live nodes in rendezvous order for `gone`, times the stagger.
 * Every node computes the same order, so one node sweeps at once and the
 * others find nothing left when their turn comes; a node not in `live`
 * ranks last.
 */
export function sweepDelayMs(self: string, live: Iterable<string>, gone: string, staggerMs = SWEEP_STAGGER_MS): number {
  const order = rankNodes(`names-sweep/${gone}`, new Set([...live].filter((n) => n !== gone)));
  const rank = order.indexOf(self);
  return (rank < 0 ? order.length : rank) * staggerMs;
}

/**
 * Whether a failed names-table call may be tried again as it is. Every write
 * here is a cas whose outcome is checked against the owner on a retry
 * (a retried registration that finds its own entry succeeded), so an
 * unknown outcome is retried too; input errors are not.
 */
export function retryableNamesError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code !== 'ERR_BAD_REQUEST' && code !== 'ERR_LIMIT_EXCEEDED' && code !== 'ERR_NAME_TAKEN' && code !== 'ERR_CONFLICT' && code !== 'ERR_NOT_RUNNING';
}
