/**
 * The connection handshake, as a pure state machine: messages in, messages
 * out, and finally an outcome. The shell (tcp-transport.ts, memory-transport.ts)
 * carries the messages as frames on the reserved channel '$handshake'.
 *
 *   initiator (dialer)                         acceptor
 *        hello{v, cluster, name, address, generation, nonce} ─►
 *        ◄─ hello{v, cluster, name, address, generation, nonce}
 *   (each side checks the version and the cluster name, then asks its shell
 *    whether to admit this peer: the simultaneous-dial tie-break)
 *        proof{mac_I} ─►
 *                                  (the acceptor verifies mac_I)
 *        ◄─ proof{mac_A}
 *   (the initiator verifies mac_A)
 *
 * Both hellos are sent at once, so the handshake takes two round trips. The
 * acceptor proves itself only after the dialer has proved it knows the
 * cookie (Erlang's distribution handshake orders it the same way): anybody
 * can open a TCP connection, and a proof is material for an offline
 * dictionary attack on the cookie, so a dialer without the cookie gets a
 * hello and a reject, never a mac. What remains: a node that dials an
 * impostor (announced by a spoofed mDNS or DNS answer, say) reveals mac_I to
 * it. The answer is a long random cookie, and mutual TLS on networks that are
 * not trusted (the impostor then fails the TLS handshake first).
 * The acceptor's link is up when mac_I verifies; the initiator's when mac_A
 * does.
 *
 *   mac_R = HMAC-SHA256(cookie, LABEL ‖ R ‖ T(hello_I) ‖ T(hello_A))
 *
 * where R is the role byte of the sender ('I' or 'A') and T is an
 * unambiguous (length-prefixed) encoding of a hello: version, cluster name,
 * node name, advertised address, generation and the 32-byte random nonce.
 * Invariants:
 * - The cookie never crosses the wire; a proof is only useful for the
 *   connection whose two fresh nonces it covers (no replay).
 * - The role byte makes the two proofs of one connection differ, so a peer
 *   cannot answer with our own proof (reflection).
 * - Everything a peer declares about itself (name, address, generation) is
 *   covered by both proofs, so nobody without the cookie can alter it.
 * - Macs are compared in constant time.
 *
 * A failure on this side sends a `reject` carrying the reason, so the other
 * side can report the same reason rather than a bare close. A reject
 * received is only ever a failure; it cannot make a handshake succeed.
 *
 * Versioning: the hello's `v` is checked before any other field, so a later
 * protocol may change everything after it and still be told apart.
 */

import type { HandshakeFailureReason, PeerIdentity } from './transport.js';
import { HANDSHAKE_FAILURE_REASONS } from './transport.js';

/** 2: frames on the reserved '$credit' channel flow-control bulk classes (flow-control.ts); a version 1 peer would never send them. */
export const PROTOCOL_VERSION = 2;
/** The reserved frame channel of handshake messages. */
export const HANDSHAKE_CHANNEL = '$handshake';
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;
/** Domain separation: these macs are never valid for another use of the cookie. */
export const PROOF_LABEL = 'troupe/handshake/v1';
/** Names, addresses and cluster names longer than this are refused as malformed. */
export const MAX_HELLO_FIELD_LENGTH = 1024;
/**
 * Frame limit while a connection is unauthenticated, in bytes: a hello is a few hundred bytes, so nobody
 * without the cookie can make a node buffer more than this per connection.
 */
export const HANDSHAKE_MAX_FRAME_BYTES = 16 * 1024;

export type HandshakeRole = 'initiator' | 'acceptor';

export interface HelloMessage {
  t: 'hello';
  v: number;
  cluster: string;
  name: string;
  address: string;
  generation: number;
  nonce: Uint8Array;
}

export interface ProofMessage {
  t: 'proof';
  mac: Uint8Array;
}

export interface RejectMessage {
  t: 'reject';
  reason: HandshakeFailureReason;
  message: string;
}

export type HandshakeMessage = HelloMessage | ProofMessage | RejectMessage;

/** The two primitives the proofs need; the shells pass node:crypto's. */
export interface HandshakeCrypto {
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Constant-time equality of two byte strings of the same length. */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

export interface HandshakeInit {
  role: HandshakeRole;
  clusterName: string;
  cookie: string;
  self: PeerIdentity;
  /** NONCE_BYTES fresh random bytes from a cryptographic source. */
  nonce: Uint8Array;
  crypto: HandshakeCrypto;
  /** The version this side announces; only tests set it, to play a node of another release. */
  version?: number;
}

export type HandshakeInput =
  | { type: 'start' }
  | { type: 'message'; msg: unknown }
  /** The shell's answer to `admission`: go on with this peer. */
  | { type: 'admit' }
  /** The shell's answer to `admission`: refuse this peer (the tie-break found a link to keep). */
  | { type: 'refuse'; reason: HandshakeFailureReason; message: string }
  | { type: 'timeout' }
  /**
   * The shell ends the handshake: the connection closed or failed (notify false), or the peer sent bytes that
   * are not a frame (notify true: the peer may be a node of another release and deserves a reason).
   */
  | { type: 'abort'; reason: HandshakeFailureReason; message: string; notify: boolean };

export type HandshakeOutcome =
  | { ok: true; peer: PeerIdentity }
  /** `fromPeer`: the reason is the one the peer sent in its reject. */
  | { ok: false; reason: HandshakeFailureReason; message: string; fromPeer: boolean };

export interface HandshakeOutput {
  /** Messages to send, in order. */
  send: HandshakeMessage[];
  /** Set once, when the peer's hello is valid: the shell must step 'admit' or 'refuse' next. */
  admission?: PeerIdentity;
  /** Set once, when the handshake ended. */
  outcome?: HandshakeOutcome;
}

type State = 'new' | 'awaiting-hello' | 'awaiting-admission' | 'awaiting-proof' | 'done';

const textEncoder = new TextEncoder();
const ROLE_BYTE: Record<HandshakeRole, number> = { initiator: 0x49, acceptor: 0x41 };

export class Handshake {
  private state: State = 'new';
  private readonly hello: HelloMessage;
  private peerHello: HelloMessage | null = null;
  /** Acceptor only: the initiator's proof arrived before the shell answered the admission; verified once admitted. */
  private earlyProof: Record<string, unknown> | null = null;

  constructor(private readonly init: HandshakeInit) {
    if (init.nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`);
    this.hello = {
      t: 'hello',
      v: init.version ?? PROTOCOL_VERSION,
      cluster: init.clusterName,
      name: init.self.name,
      address: init.self.address,
      generation: init.self.generation,
      nonce: init.nonce,
    };
  }

  get role(): HandshakeRole {
    return this.init.role;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The peer's validated hello, once received. */
  get peer(): PeerIdentity | null {
    const h = this.peerHello;
    return h === null ? null : { name: h.name, address: h.address, generation: h.generation };
  }

  step(input: HandshakeInput): HandshakeOutput {
    if (this.state === 'done') return { send: [] };
    switch (input.type) {
      case 'start':
        if (this.state !== 'new') return { send: [] };
        this.state = 'awaiting-hello';
        return { send: [this.hello] };
      case 'message':
        return this.receive(input.msg);
      case 'admit':
        return this.admit();
      case 'refuse':
        if (this.state !== 'awaiting-admission') return { send: [] };
        return this.fail(input.reason, input.message);
      case 'timeout':
        return this.fail('timeout', 'handshake did not complete in time');
      case 'abort':
        return this.fail(input.reason, input.message, { notify: input.notify && this.state !== 'new' });
    }
  }

  private receive(msg: unknown): HandshakeOutput {
    if (this.state === 'new') return this.fail('bad-frame', 'message before the handshake started');
    if (!isRecord(msg)) return this.fail('bad-frame', 'handshake message is not a map');
    if (msg['t'] === 'reject') return this.rejected(msg);
    switch (this.state) {
      case 'awaiting-hello':
        if (msg['t'] !== 'hello') return this.fail('bad-frame', `expected hello, got ${describe(msg['t'])}`);
        return this.receiveHello(msg);
      case 'awaiting-admission':
        // Only the initiator's proof can come early: the acceptor's answers the initiator's, sent after admission.
        if (msg['t'] !== 'proof' || this.earlyProof !== null || this.init.role === 'initiator') {
          return this.fail('bad-frame', `unexpected ${describe(msg['t'])} before admission`);
        }
        this.earlyProof = msg;
        return { send: [] };
      case 'awaiting-proof':
        if (msg['t'] !== 'proof') return this.fail('bad-frame', `expected proof, got ${describe(msg['t'])}`);
        return this.verifyProof(msg);
      default:
        return { send: [] };
    }
  }

  private receiveHello(msg: Record<string, unknown>): HandshakeOutput {
    // The version first: every other field may mean something else in another version.
    if (msg['v'] !== this.hello.v) {
      return this.fail('protocol-version', `peer speaks protocol version ${describe(msg['v'])}, this node speaks ${this.hello.v}: run the same troupe release on every node`);
    }
    const { cluster, name, address, generation, nonce } = msg;
    if (!isBoundedString(cluster)) return this.fail('bad-frame', 'hello has no valid cluster name');
    if (cluster !== this.hello.cluster) {
      return this.fail('cluster-name', `peer belongs to cluster ${JSON.stringify(cluster)}, this node to ${JSON.stringify(this.hello.cluster)}: set the same cluster name on nodes of one cluster`);
    }
    if (!isBoundedString(name) || name.length === 0) return this.fail('bad-frame', 'hello has no valid node name');
    if (!isBoundedString(address) || address.length === 0) return this.fail('bad-frame', 'hello has no valid address');
    if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
      return this.fail('bad-frame', 'hello has no valid generation');
    }
    if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) return this.fail('bad-frame', 'hello has no valid nonce');
    if (bytesEqual(nonce, this.hello.nonce)) return this.fail('bad-frame', 'peer echoed this side\'s nonce');
    this.peerHello = { t: 'hello', v: this.hello.v, cluster, name, address, generation, nonce };
    this.state = 'awaiting-admission';
    return { send: [], admission: { name, address, generation } };
  }

  /** The initiator proves itself now; the acceptor waits for (or verifies the early) initiator's proof. */
  private admit(): HandshakeOutput {
    if (this.state !== 'awaiting-admission') return { send: [] };
    this.state = 'awaiting-proof';
    if (this.init.role === 'initiator') return { send: [this.ownProof()] };
    const early = this.earlyProof;
    this.earlyProof = null;
    return early === null ? { send: [] } : this.verifyProof(early);
  }

  /** Verifies the peer's proof; the acceptor answers a valid one with its own. */
  private verifyProof(msg: Record<string, unknown>): HandshakeOutput {
    const mac = msg['mac'];
    const expected = this.mac(this.init.role === 'initiator' ? 'acceptor' : 'initiator');
    const valid = mac instanceof Uint8Array && mac.length === MAC_BYTES && this.init.crypto.timingSafeEqual(mac, expected);
    if (!valid) return this.fail('bad-cookie', 'peer\'s cookie proof does not verify: set the same COOKIE on every node of the cluster');
    this.state = 'done';
    const peer = this.peer!;
    const send = this.init.role === 'acceptor' ? [this.ownProof()] : [];
    return { send, outcome: { ok: true, peer } };
  }

  private ownProof(): ProofMessage {
    return { t: 'proof', mac: this.mac(this.init.role) };
  }

  private rejected(msg: Record<string, unknown>): HandshakeOutput {
    const reason = HANDSHAKE_FAILURE_REASONS.find((r) => r === msg['reason']) ?? 'closed';
    const text = typeof msg['message'] === 'string' ? msg['message'].slice(0, MAX_HELLO_FIELD_LENGTH) : 'no message';
    return this.fail(reason, `peer refused the connection: ${text}`, { notify: false, fromPeer: true });
  }

  private fail(reason: HandshakeFailureReason, message: string, opts: { notify?: boolean; fromPeer?: boolean } = {}): HandshakeOutput {
    const notify = opts.notify ?? true;
    this.state = 'done';
    const send: HandshakeMessage[] = notify ? [{ t: 'reject', reason, message }] : [];
    return { send, outcome: { ok: false, reason, message, fromPeer: opts.fromPeer ?? false } };
  }

  /** The mac a sender in `role` produces for this connection. */
  private mac(role: HandshakeRole): Uint8Array {
    const peerHello = this.peerHello!;
    const [initiator, acceptor] = this.init.role === 'initiator' ? [this.hello, peerHello] : [peerHello, this.hello];
    const transcript = concatBytes([
      textEncoder.encode(PROOF_LABEL),
      Uint8Array.of(ROLE_BYTE[role]),
      encodeHello(initiator),
      encodeHello(acceptor),
    ]);
    return this.init.crypto.hmacSha256(textEncoder.encode(this.init.cookie), transcript);
  }
}

/** The unambiguous encoding of a hello that proofs cover: each field length-prefixed. */
export function encodeHello(hello: HelloMessage): Uint8Array {
  return concatBytes([
    lengthPrefixed(textEncoder.encode(String(hello.v))),
    lengthPrefixed(textEncoder.encode(hello.cluster)),
    lengthPrefixed(textEncoder.encode(hello.name)),
    lengthPrefixed(textEncoder.encode(hello.address)),
    lengthPrefixed(textEncoder.encode(String(hello.generation))),
    lengthPrefixed(hello.nonce),
  ]);
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isBoundedString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_HELLO_FIELD_LENGTH;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 64));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === undefined ? 'nothing' : typeof value;
}
