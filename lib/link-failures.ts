/**
 * The last failure the transport reported per address — a refused handshake
 * (why the peer refused us, or we it) or a dial that never reached one — kept
 * until a link to that address comes up. The discovery report reads it to say
 * per candidate why it is not a member. Bounded: past MAX_REMEMBERED
 * addresses the oldest are forgotten.
 */
import type { HandshakeFailureReason, TransportEvent } from './transport/transport.js';

/** Addresses remembered per kind of failure. @default 1000: far more candidates than a cluster has. */
export const MAX_REMEMBERED = 1000;

export class LinkFailures {
  readonly handshakes = new Map<string, { reason: HandshakeFailureReason; message: string }>();
  readonly dials = new Map<string, string>();

  /** Feed every transport event. */
  observe(event: TransportEvent): void {
    if (event.type === 'link-up') {
      this.dials.delete(event.peer.address);
      this.handshakes.delete(event.peer.address);
    } else if (event.type === 'dial-failed') {
      remember(this.dials, event.address, event.message);
    } else if (event.type === 'handshake-failed') {
      remember(this.handshakes, event.remoteAddress, { reason: event.reason, message: event.message });
    }
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value!);
}
