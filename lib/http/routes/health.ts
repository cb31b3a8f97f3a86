/**
 * Probes, following the Kubernetes conventions: `/health/live` fails only when
 * the process should be restarted; `/health/ready` fails while the node should
 * get no traffic (not yet joined, or its partitions lack leaders), and says
 * why. `/health` answers as long as the HTTP server does. Probe answers are
 * never cached.
 */
import { Hono } from 'hono';
import type { ClusterNodeApi } from '../../node-api.js';
import type { HttpEnv } from '../types.js';

const NO_STORE = { 'Cache-Control': 'no-store' };

export function healthRoutes(node: ClusterNodeApi): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.get('/', (c) => c.json({ status: 'ok' }, 200, NO_STORE));

  app.get('/live', (c) => (node.isLive() ? c.json({ status: 'live' }, 200, NO_STORE) : c.json({ status: 'not_live', reason: 'the node\'s actor system is not running' }, 503, NO_STORE)));

  app.get('/ready', (c) => {
    if (node.isReady()) return c.json({ status: 'ready' }, 200, NO_STORE);
    return c.json({ status: 'not_ready', reason: notReadyReason(node) }, 503, NO_STORE);
  });

  return app;
}

function notReadyReason(node: ClusterNodeApi): string {
  if (!node.isLive()) return 'the node\'s actor system is not running';
  const state = node.status().node.state;
  if (state !== 'up') return `node state is ${state}; it is ready once up`;
  return 'node is up but some of its table partitions have no leader yet';
}
