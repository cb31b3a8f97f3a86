/**
 * The HTTP facade of a running node: the hono app over node:http, with its
 * metrics, load shedding counted as 503s, and a failed listen turned into a
 * ConfigError naming PORT or HTTP_BIND.
 */
import type { TroupeConfig } from '../config.js';
import { listenError } from '../errors.js';
import type { Logger } from '../log.js';
import { createMetrics } from '../metrics.js';
import type { ClusterNodeApi } from '../node-api.js';
import { createHttpApp, shedRouteLabel } from './app.js';
import type { DebugHooks } from './routes/debug.js';
import { startHttpServer, type RunningHttpServer } from './server.js';

export async function startFacade(node: ClusterNodeApi, config: TroupeConfig, log: Logger, debug: DebugHooks | undefined): Promise<RunningHttpServer> {
  const metrics = createMetrics(() => node.stats());
  const app = createHttpApp(node, { apiToken: config.apiToken, metrics, log, ...(debug ? { debug } : {}) });
  return startHttpServer(app, {
    host: config.httpBind,
    port: config.port,
    onShed: (method, path) => metrics.observeHttpRequest({ route: shedRouteLabel(path), method, status: 503 }, 0),
  }).catch((err: unknown) => {
    throw listenError(err, { port: 'PORT', bind: 'HTTP_BIND' }, config.httpBind, config.port);
  });
}
