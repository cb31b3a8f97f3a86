/**
 * node:crypto behind the handshake's `HandshakeCrypto`, and the nonce source.
 * The pure handshake takes these as parameters; the shells pass these.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HandshakeCrypto } from './handshake.js';
import { NONCE_BYTES } from './handshake.js';

export const nodeHandshakeCrypto: HandshakeCrypto = {
  hmacSha256: (key, data) => createHmac('sha256', key).update(data).digest(),
  timingSafeEqual: (a, b) => a.length === b.length && timingSafeEqual(a, b),
};

/** A fresh handshake nonce from the operating system's CSPRNG. */
export function newNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}
