/**
 * Telling TLS failures (certificate not signed by our CA, no client
 * certificate, protocol alerts) from plain network errors, so that a refused
 * peer is reported as a 'tls' handshake failure rather than a closed socket.
 */

import type { HandshakeFailureReason } from './transport.js';

/** Certificate verification results that node reports as error codes (OpenSSL X509_V_ERR names). */
const CERTIFICATE_ERROR_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
]);

export function isTlsError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERTIFICATE_ERROR_CODES.has(code))) return true;
  return (err as { library?: unknown }).library === 'SSL routines';
}

/** The handshake failure reason of an error raised by a TLS server for a client that did not complete TLS. */
export function tlsFailureReason(err: Error): HandshakeFailureReason {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (isTlsError(err)) return 'tls';
  return 'closed';
}
