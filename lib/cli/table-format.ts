/**
 * Plain-text rendering of the table commands' answers for people (`--json`
 * prints the node's answer as it came instead). Values are shown as compact
 * JSON, so a string stays distinguishable from a number (`"42"` vs `42`).
 * Pure functions, so the layout is tested without a node.
 */
import type { Item, TableInfo, Versioned } from '../tables/tables-api.js';
import { formatTable } from './format.js';

/** The tables as an aligned table; `no tables` when there are none. STATE: creating, ready, or dropping (listed until its data is gone). */
export function formatTableList(tables: readonly TableInfo[]): string {
  if (tables.length === 0) return 'no tables\n';
  const rows = tables.map((t) => [t.name, String(t.partitions), String(t.replicationFactor), t.state ?? 'ready']);
  return formatTable([['NAME', 'PARTITIONS', 'REPLICATION FACTOR', 'STATE'], ...rows]);
}

export function formatCreated(table: TableInfo): string {
  return `created table ${table.name}: ${table.partitions} partitions, replication factor ${table.replicationFactor}\n`;
}

/** Keys with their version and value, one row each; `no keys` for none, then how to ask for the next page. */
export function formatItems(items: readonly Item<unknown>[], cursor: string | null = null): string {
  const rows = items.length === 0 ? 'no keys\n' : formatTable([['KEY', 'VERSION', 'VALUE'], ...items.map((i) => [i.key, String(i.version), JSON.stringify(i.value)])]);
  return cursor === null ? rows : `${rows}more: --cursor ${cursor}\n`;
}

export function formatPut(key: string, version: number): string {
  return `stored ${key} (version ${version})\n`;
}

export function formatDeleted(key: string, answer: { version: number; existed: boolean }): string {
  return answer.existed ? `deleted ${key} (version ${answer.version})\n` : `${key} was already absent (version ${answer.version})\n`;
}

export function formatCasApplied(key: string, value: unknown, version: number): string {
  return value === null ? `cas applied: deleted ${key} (version ${version})\n` : `cas applied: stored ${key} (version ${version})\n`;
}

/** Why a cas did not apply: what the key holds instead (null: absent). */
export function formatCasMismatch(key: string, current: Versioned<unknown> | null): string {
  const holds = current === null ? 'is absent' : `holds ${JSON.stringify(current.value)} (version ${current.version})`;
  return `cas not applied: ${key} ${holds}, not the expected value; nothing was written`;
}
