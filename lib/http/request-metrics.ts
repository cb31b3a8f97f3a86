/**
 * Outermost middleware: times every request, counts it in the metrics by
 * route pattern (bounded label values: unknown paths are `unmatched`, unusual
 * methods `OTHER`), logs it at debug level, and turns anything that escaped
 * hono's own error handling (a thrown non-Error value) into the JSON 500 of
 * the error handler. A request whose client disconnected before the answer
 * is counted with status 499, whatever the handler made of it: no client saw
 * that status, and a fuzzer hanging up must not look like server errors.
 */
import type { ErrorHandler, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { clientAborted } from './error-handler.js';
import type { HttpEnv } from './types.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The status label of a request the client abandoned (nginx's "client closed request"); never sent. */
export const CLIENT_CLOSED_REQUEST_STATUS = 499;

export function requestMetrics(metrics: Metrics, log: Logger, onError: ErrorHandler<HttpEnv>): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } catch (thrown) {
      const err = thrown instanceof Error ? thrown : new Error(`non-Error value thrown: ${String(thrown)}`);
      c.res = await onError(err, c);
    }
    const seconds = (performance.now() - started) / 1000;
    const route = routePattern(c);
    const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : 'OTHER';
    const status = clientAborted(c) ? CLIENT_CLOSED_REQUEST_STATUS : c.res.status;
    metrics.observeHttpRequest({ route, method, status }, seconds);
    log.debug({ method: c.req.method, path: c.req.path, route, status, ms: Math.round(seconds * 1000) }, 'HTTP request');
  };
}

/** The pattern of the endpoint that handled the request; middleware (method ALL) does not count. */
function routePattern(c: Parameters<MiddlewareHandler<HttpEnv>>[0]): string {
  const endpoint = matchedRoutes(c).filter((route) => route.method !== 'ALL').at(-1);
  return endpoint?.path ?? 'unmatched';
}
