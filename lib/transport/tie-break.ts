/**
 * Which connection survives when two nodes hold more than one connection to
 * each other (both dialed at once, a dialed alias of an address, a peer that
 * restarted). Pure: the shell describes the candidate and the other
 * connections to the same node, and gets a refusal or null (admit).
 *
 * Of two nodes, the one whose name sorts lower (L) decides, and decides at
 * the moment it has read the other's hello and not yet sent its proof, so no
 * connection it refuses ever comes up on either side. The other node (H)
 * admits everything (but its own name); L's refusal reaches it as a reject.
 *
 * L's rules, for a candidate connection with H:
 * - from a newer generation of H than another connection: that other one is
 *   a restarted node's leftover and never blocks the candidate;
 * - inbound, while L's own dial to H is in its handshake: refused. When both
 *   dial at once, the connection dialed by L survives on both sides;
 * - inbound otherwise (L's dial still connecting, or already up, or another
 *   inbound): admitted. H dials only when it has no link, so this is the one
 *   H uses; when it comes up it replaces the older connection on both sides;
 * - outbound, while another connection with H has been admitted: refused (the
 *   first one wins: a second dial through another address of the same node).
 */

import type { Refusal } from './connection.js';
import type { PeerIdentity } from './transport.js';

/** Another open connection with the same node, as the shell sees it. */
export interface OtherConnection {
  direction: 'in' | 'out';
  /** 'connecting': the TCP (or TLS) connect is in progress; 'handshake': hellos are being exchanged; 'up'. */
  phase: 'connecting' | 'handshake' | 'up';
  /** The peer's generation from its hello; null before the hello arrived. */
  generation: number | null;
}

export interface Candidate {
  direction: 'in' | 'out';
  /** The identity from the candidate's hello. */
  peer: PeerIdentity;
}

export function admitConnection(selfName: string, candidate: Candidate, others: readonly OtherConnection[]): Refusal | null {
  const peerName = candidate.peer.name;
  if (peerName === selfName) {
    return { reason: 'duplicate', message: `peer uses this node's own name ${JSON.stringify(peerName)}: node names must be unique` };
  }
  if (selfName > peerName) return null;
  for (const other of others) {
    if (other.generation !== null && candidate.peer.generation > other.generation) continue;
    if (candidate.direction === 'in') {
      if (other.direction === 'out' && other.phase === 'handshake') {
        return { reason: 'duplicate', message: `both nodes dialed; the connection dialed by ${JSON.stringify(selfName)} is kept` };
      }
    } else if (other.generation !== null) {
      return { reason: 'duplicate', message: `a connection with ${JSON.stringify(peerName)} already exists` };
    }
  }
  return null;
}
