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
 *    past the limit): `maxBodyBytes`, or `maxTableBodyBytes` under
 *    `/api/tables`, whose values may be up to a MiB;
 * 4. per route: the operator guard on mutations, then validation, then the node.
 *
 * Reads that polling clients repeat are served from short caches
 * (response-cache.ts), so their cost does not grow with the request rate:
 * `/metrics` is rendered at most once per `metricsMaxAgeMs` and the status
 * document built and serialized at most once per `statusMaxAgeMs`; a
 * mutation clears the status cache, so a caller sees its own change at once.
 * Shedding beyond the concurrency limit happens before this app (server.ts,
 * admission.ts).
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
import { cacheFor } from './response-cache.js';
import { clusterRoutes } from './routes/cluster.js';
import { debugRoutes, type DebugHooks } from './routes/debug.js';
import { healthRoutes } from './routes/health.js';
import { tableRoutes } from './routes/tables.js';
import { topicRoutes } from './routes/topics.js';
import type { HttpEnv } from './types.js';

/** Largest request body accepted, bytes. The API takes small JSON documents only. @default 64 KiB */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/**
 * Largest request body under `/api/tables`, bytes. A value may be up to
 * MAX_VALUE_BYTES (1 MiB) encoded and a batch up to MAX_COMMAND_BYTES (3 MiB);
 * their JSON is somewhat larger than their msgpack. @default 4 MiB
 */
export const DEFAULT_MAX_TABLE_BODY_BYTES = 4 * 1024 * 1024;
/**
 * Longest a `/metrics` answer is reused, ms. Rendering (with the default
 * process metrics) costs about a millisecond of CPU; Prometheus scrapes every
 * few seconds at most, so a second of staleness costs nothing. @default 1000
 */
export const DEFAULT_METRICS_MAX_AGE_MS = 1000;
/**
 * Longest the status document is reused, ms. Members' states change at most
 * once per gossip round; a tenth of a second keeps a poll loop fresh while a
 * flood of status requests builds it ten times a second. @default 100
 */
export const DEFAULT_STATUS_MAX_AGE_MS = 100;

/** GET routes a request may be shed from, by path: the `route` label of a shed request (others are `unmatched`). */
const SHEDDABLE_ROUTES = new Set(['/api/cluster/status', '/api/cluster/discovery', '/metrics', '/debug/restarts']);

/** The `route` metric label of a request shed before routing (server.ts): its path if a GET route, else `unmatched`. */
export function shedRouteLabel(path: string): string {
  return SHEDDABLE_ROUTES.has(path) ? path : 'unmatched';
}

export interface HttpAppOptions {
  /** Bearer token for mutating calls (CLUSTER_API_TOKEN); unset: loopback callers only. */
  apiToken?: string | undefined;
  metrics: Metrics;
  /** The facade's logger; the caller gives it its bindings (`{ component: 'http' }`). */
  log: Logger;
  /** @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number;
  /** Body limit of `/api/tables/*` (served when `node.tables` is set). @default DEFAULT_MAX_TABLE_BODY_BYTES */
  maxTableBodyBytes?: number;
  /** @default DEFAULT_METRICS_MAX_AGE_MS */
  metricsMaxAgeMs?: number;
  /** @default DEFAULT_STATUS_MAX_AGE_MS */
  statusMaxAgeMs?: number;
  /** Interval of the keep-alive comment on topic event streams, ms. @default TOPIC_KEEP_ALIVE_MS (15000) */
  topicKeepAliveMs?: number;
  /** Fault hooks for integration tests; `/debug/*` exists only when set. */
  debug?: DebugHooks | undefined;
}

export function createHttpApp(node: ClusterNodeApi, opts: HttpAppOptions): Hono<HttpEnv> {
  const { log } = opts;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = createErrorHandler(log);
  const app = new Hono<HttpEnv>();
  const metrics = cacheFor(opts.metricsMaxAgeMs ?? DEFAULT_METRICS_MAX_AGE_MS, () => opts.metrics.render());
  const status = cacheFor(opts.statusMaxAgeMs ?? DEFAULT_STATUS_MAX_AGE_MS, () => JSON.stringify(node.status()));

  app.onError(onError);
  app.notFound(notFoundHandler);
  app.use(requestMetrics(opts.metrics, log, onError));
  app.use(methodNotAllowed<HttpEnv>({ app, onMethodNotAllowed: methodNotAllowedResponse }));
  const limitTo = (maxSize: number) =>
    bodyLimit({ maxSize, onError: (c) => errorResponse(c, 413, 'ERR_PAYLOAD_TOO_LARGE', `request body exceeds ${maxSize} bytes`) });
  const limitBody = limitTo(maxBodyBytes);
  const limitTableBody = limitTo(opts.maxTableBodyBytes ?? DEFAULT_MAX_TABLE_BODY_BYTES);
  const tables = node.tables;
  const isTablePath = (path: string) => tables !== undefined && (path === '/api/tables' || path.startsWith('/api/tables/'));
  // GET and HEAD carry no body; skipping the check spares them building the full Request object.
  app.use((c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return isTablePath(c.req.path) ? limitTableBody(c, next) : limitBody(c, next);
  });

  app.use(async (c, next) => {
    await next();
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') status.clear();
  });

  app.route('/health', healthRoutes(node));
  const guard = requireOperator({ apiToken: opts.apiToken });
  app.route('/api/cluster', clusterRoutes(node, guard, status));
  if (tables) app.route('/api/tables', tableRoutes(tables, guard));
  if (node.topics) app.route('/api/topics', topicRoutes(node.topics, guard, { keepAliveMs: opts.topicKeepAliveMs }));
  if (opts.debug) app.route('/debug', debugRoutes(opts.debug, guard));
  app.get('/metrics', async (c) => c.body(await metrics(), 200, { 'Content-Type': opts.metrics.contentType }));

  return app;
}
