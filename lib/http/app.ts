/**
 * The HTTP facade of a node: hono wiring only. Routes live in `routes/`,
 * the mapping of failures to statuses in `error-handler.ts`, the rule for
 * who may mutate in `auth.ts`.
 *
 * Order of the middleware, outermost first:
 * 1. request metrics (sees the final status of everything below, 405s and
 *    errors included);
 * 2. 405 for a known path asked with another method, with `Allow`;
 * 3. a body limit on every request with a body (413 before the body is read
 *    past the limit);
 * 4. per route: the operator guard on mutations, then validation, then the node.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ClusterNodeApi } from '../node-api.js';
import { requireOperator } from './auth.js';
import { createErrorHandler, errorResponse, methodNotAllowedResponse, notFoundHandler } from './error-handler.js';
import { requestMetrics } from './request-metrics.js';
import { clusterRoutes } from './routes/cluster.js';
import { debugRoutes, type DebugHooks } from './routes/debug.js';
import { healthRoutes } from './routes/health.js';
import type { HttpEnv } from './types.js';

/** Largest request body accepted, bytes. The API takes small JSON documents only. @default 64 KiB */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface HttpAppOptions {
  /** Bearer token for mutating calls (CLUSTER_API_TOKEN); unset: loopback callers only. */
  apiToken?: string | undefined;
  metrics: Metrics;
  /** The facade's logger; the caller gives it its bindings (`{ component: 'http' }`). */
  log: Logger;
  /** @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number;
  /** Fault hooks for integration tests; `/debug/*` exists only when set. */
  debug?: DebugHooks | undefined;
}

export function createHttpApp(node: ClusterNodeApi, opts: HttpAppOptions): Hono<HttpEnv> {
  const { log } = opts;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = createErrorHandler(log);
  const app = new Hono<HttpEnv>();

  app.onError(onError);
  app.notFound(notFoundHandler);
  app.use(requestMetrics(opts.metrics, log, onError));
  app.use(methodNotAllowed<HttpEnv>({ app, onMethodNotAllowed: methodNotAllowedResponse }));
  app.use(
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => errorResponse(c, 413, 'ERR_PAYLOAD_TOO_LARGE', `request body exceeds ${maxBodyBytes} bytes`),
    }),
  );

  app.route('/health', healthRoutes(node));
  const guard = requireOperator({ apiToken: opts.apiToken });
  app.route('/api/cluster', clusterRoutes(node, guard));
  if (opts.debug) app.route('/debug', debugRoutes(opts.debug, guard));
  app.get('/metrics', async (c) => c.body(await opts.metrics.render(), 200, { 'Content-Type': opts.metrics.contentType }));

  return app;
}
