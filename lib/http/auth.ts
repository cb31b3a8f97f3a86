/**
 * Who may change the cluster over HTTP.
 *
 * Reads (status, health, metrics) are open. Mutations (POST, DELETE) change
 * membership, so:
 * - with an API token configured (CLUSTER_API_TOKEN), the caller must send
 *   `Authorization: Bearer <token>`; the comparison is over SHA-256 digests
 *   with `timingSafeEqual`, so neither the content nor the length of the token
 *   leaks through response time;
 * - without one, only callers on this host (loopback: 127.0.0.0/8, ::1,
 *   ::ffff:127.x) are accepted. The address is the TCP peer's, never a
 *   forwarded header, which any client can forge. Behind a reverse proxy on
 *   the same host every caller looks local: set a token there.
 * An unknown peer address (no socket) counts as remote.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { TroupeError } from '../errors.js';
import { HttpError } from './error-handler.js';
import type { HttpEnv } from './types.js';

export interface MutationAuthOptions {
  /** Bearer token mutating calls must present; unset: loopback callers only. */
  apiToken?: string | undefined;
}

/** Middleware guarding a mutating route. */
export function requireOperator(options: MutationAuthOptions): MiddlewareHandler<HttpEnv> {
  const expected = options.apiToken === undefined || options.apiToken === '' ? undefined : digest(options.apiToken);
  return async (c, next) => {
    if (expected) {
      const presented = bearerToken(c.req.header('authorization'));
      if (presented === undefined) {
        throw unauthorized('this call needs Authorization: Bearer <token>, the value of the node\'s CLUSTER_API_TOKEN');
      }
      if (!timingSafeEqual(digest(presented), expected)) throw unauthorized('the bearer token does not match the node\'s CLUSTER_API_TOKEN');
    } else {
      const address = c.env?.incoming?.socket?.remoteAddress;
      if (!isLoopback(address)) {
        throw new TroupeError(
          'ERR_FORBIDDEN',
          `mutating calls are accepted only from this host while no API token is set (caller ${address ?? 'unknown'}): set CLUSTER_API_TOKEN on the node and send it as Authorization: Bearer <token>`,
        );
      }
    }
    await next();
  };
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'ERR_UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer realm="troupe"' });
}

/** The token of an `Authorization: Bearer <token>` header, else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? match[1] : undefined;
}

/** True for a loopback peer address, IPv4, IPv6 or IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const text = address.toLowerCase();
  if (text === '::1' || text === '0:0:0:0:0:0:0:1') return true;
  const v4 = text.startsWith('::ffff:') ? text.slice(7) : text;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
