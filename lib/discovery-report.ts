/**
 * The discovery report (`GET /api/cluster/discovery`): for every candidate a
 * mode proposed, what came of it. Pure: it combines discovery's state, the
 * members, and what the transport learnt (aliases of addresses, handshake
 * refusals, dial failures), all passed in.
 *
 * A candidate is matched to a member through `resolve`, because discovery may
 * spell an address differently from the member's advertised one (an IP from
 * DNS for a node named by host name); the transport ties the two together
 * at the first handshake.
 */
import type { DiscoveryState } from '../discovery/index.js';
import type { CandidateOutcome, CandidateReport, DiscoveryReport, DiscoveryStatus, MemberStatus } from './node-api.js';
import type { HandshakeFailureReason } from './transport/transport.js';

export interface DiscoveryReportInput {
  state: DiscoveryState | undefined;
  status: DiscoveryStatus;
  members: MemberStatus[];
  selfAddress: string;
  /** The address a dialed address is known as (transport aliases). */
  resolve: (address: string) => string;
  handshakeFailures: ReadonlyMap<string, { reason: HandshakeFailureReason; message: string }>;
  dialFailures: ReadonlyMap<string, string>;
}

export function buildDiscoveryReport(input: DiscoveryReportInput): DiscoveryReport {
  const { state, members } = input;
  const candidateReports: CandidateReport[] = (state?.candidates ?? []).map((c) => {
    const known = input.resolve(c.address);
    const member = members.find((m) => m.address === known);
    const refused = input.handshakeFailures.get(c.address);
    let outcome: CandidateOutcome;
    if (known === input.selfAddress || member?.self) outcome = 'self';
    else if (member && member.state !== 'down' && member.state !== 'left') outcome = 'joined';
    else if (refused) outcome = refusalOutcome(refused.reason);
    else if (member) outcome = 'down';
    else outcome = input.dialFailures.has(c.address) ? 'unreachable' : 'pending';
    const detail = refused?.message ?? input.dialFailures.get(c.address) ?? null;
    return { address: c.address, name: member?.name ?? c.name ?? null, source: c.source, outcome, detail: outcome === 'joined' || outcome === 'self' ? null : detail };
  });
  // Nodes a mode heard of but did not propose (another cluster's announcement, itself).
  for (const r of state?.rejected ?? []) {
    if (candidateReports.some((c) => c.address === r.address)) continue;
    candidateReports.push({ address: r.address, name: r.name ?? null, source: r.source, outcome: r.reason === 'self' ? 'self' : r.reason, detail: r.detail });
  }
  const perMode = (state?.parts ?? []).map(({ candidates, records, parts, ...own }) => ({ ...own, candidates: candidates.length }));
  return { ...input.status, queries: state?.queries ?? 0, failures: state?.failures ?? {}, records: state?.records ?? [], candidateReports, perMode };
}

function refusalOutcome(reason: HandshakeFailureReason): CandidateOutcome {
  if (reason === 'bad-cookie') return 'wrong-cookie';
  if (reason === 'cluster-name') return 'wrong-cluster-name';
  if (reason === 'protocol-version') return 'wrong-protocol-version';
  return 'unreachable';
}
