/**
 * `/debug/*`: fault hooks for integration tests, mounted only when the node
 * runs with test hooks on (TROUPE_TEST_HOOKS=1). They pass the same operator
 * guard as every mutation.
 *
 * - `POST /debug/block` `{"ms": n}` → 202, then blocks the event loop for n ms
 *   (after the answer is sent), as a CPU-bound task would;
 * - `POST /debug/crash/:actor` → 202, makes the actor crash so its supervisor
 *   restarts it;
 * - `GET /debug/restarts` → `{"restarts": n}`, supervised restarts so far.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { TroupeError } from '../../errors.js';
import type { HttpEnv } from '../types.js';
import { lazySchema, readJsonBody } from '../validate.js';

export interface DebugHooks {
  block(ms: number): void;
  crash(actor: string): void;
  restarts(): number;
}

/** Longest block accepted, ms: longer ones belong in a process kill test. */
const MAX_BLOCK_MS = 60_000;

const BlockBody = lazySchema((zod) =>
  zod.strictObject(
    { ms: zod.number({ error: 'is required (milliseconds)' }).int('must be an integer').min(1, 'must be at least 1').max(MAX_BLOCK_MS, `must be at most ${MAX_BLOCK_MS}`) },
    { error: 'request body must be a JSON object like {"ms":1000}' },
  ),
);

export function debugRoutes(hooks: DebugHooks, guard: MiddlewareHandler<HttpEnv>): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.post('/block', guard, async (c) => {
    const { ms } = await readJsonBody(c, BlockBody);
    // Let the 202 reach the socket first; the caller then watches the block from outside.
    setTimeout(() => hooks.block(ms), 10);
    return c.json({ blockingMs: ms }, 202);
  });

  app.post('/crash/:actor', guard, (c) => {
    const actor = c.req.param('actor');
    hooks.crash(actor);
    return c.json({ crashed: actor }, 202);
  });

  app.get('/restarts', (c) => c.json({ restarts: hooks.restarts() }));

  return app;
}

/** The hooks of a node: blocking its event loop as CPU-bound work would, crashing a system actor. */
export function createDebugHooks(node: { crashActor(actor: string): boolean; restarts(): number }): DebugHooks {
  return {
    block: (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // busy: that is the point
      }
    },
    crash: (actor: string) => {
      if (!node.crashActor(actor)) throw new TroupeError('ERR_NOT_FOUND', `no system actor ${JSON.stringify(actor)} can be crashed: try membership`);
    },
    restarts: () => node.restarts(),
  };
}
