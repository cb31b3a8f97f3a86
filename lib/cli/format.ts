/**
 * Plain-text rendering of a node's status for `troupe status`: a header line
 * about the node, then one row per member. Pure functions, so the layout is
 * tested without a node.
 */
import type { DiscoveryReport, MemberStatus, NodeStatus } from '../node-api.js';

const HEADERS = ['NAME', 'ADDRESS', 'STATE', 'INCARNATION', 'LAST HEARTBEAT', 'LAG'] as const;

/** The whole status report, ending in a newline. */
export function formatStatus(status: NodeStatus): string {
  const { node } = status;
  const up = status.members.filter((m) => m.state === 'up').length;
  const header =
    `node ${node.name} (${node.state}, generation ${node.generation}) in cluster ${node.clusterName}: ` +
    `${status.healthy ? 'healthy' : 'NOT healthy'}, ${up} of ${status.members.length} members up`;
  const d = status.discovery;
  const discovery = d.modes.length === 0 ? 'discovery: off (clustering disabled)' :
    `discovery: ${d.modes.join(',')}, ${d.candidates.length} candidate(s), last poll ${d.lastPollAt ?? 'never'}` +
    `${d.lastError ? `, last error: ${d.lastError}` : ''}${d.unavailable ? `, UNAVAILABLE: ${d.unavailable}` : ''}`;
  return `${header}\n${formatMembers(status.members)}${discovery}\n`;
}

/** Discovery's view: a header, the candidates with what came of each, then the raw records. */
export function formatDiscovery(report: DiscoveryReport): string {
  const head = `discovery: ${report.modes.join(',') || 'off'}; ${report.queries} queries; last poll ${report.lastPollAt ?? 'never'}` +
    `${report.lastError ? `; last error: ${report.lastError}` : ''}${report.unavailable ? `; UNAVAILABLE: ${report.unavailable}` : ''}\n`;
  const failures = Object.entries(report.failures).map(([reason, n]) => `${reason}=${n}`).join(' ');
  const candidates = formatTable([['CANDIDATE', 'NAME', 'SOURCE', 'OUTCOME', 'DETAIL'], ...report.candidateReports.map((c) => [c.address, c.name ?? '-', c.source, c.outcome, c.detail ?? ''])]);
  const records = report.records.length === 0 ? 'no raw records\n' : formatTable([['SOURCE', 'TYPE', 'NAME', 'TTL', 'DATA'], ...report.records.map((r) => [r.source, r.type, r.name, r.ttl === undefined ? '-' : String(r.ttl), r.data])]);
  return `${head}${failures ? `failures: ${failures}\n` : ''}${candidates}${records}`;
}

/** Members as an aligned table, this node first, then by name. */
export function formatMembers(members: readonly MemberStatus[]): string {
  const sorted = [...members].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name));
  const rows = sorted.map((m) => [
    m.self ? `${m.name} (self)` : m.name,
    m.address,
    m.state,
    String(m.incarnation),
    m.self ? '-' : formatAge(m.lastHeartbeatAgoMs),
    formatDuration(m.lagMs),
  ]);
  return formatTable([[...HEADERS], ...rows]);
}

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export function formatTable(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** How long ago, e.g. `350ms ago`, `4.2s ago`, `3m05s ago`; `never` for null. */
export function formatAge(ms: number | null): string {
  return ms === null ? 'never' : `${formatDuration(ms)} ago`;
}

/** `350ms`, `4.2s`, `3m05s`, `2h07m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, '0')}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, '0')}m`;
}
