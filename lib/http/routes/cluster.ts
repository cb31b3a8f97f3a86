/**
 * `/api/cluster/*`: status, discovery, join, leave and remove.
 *
 * Reads are open; mutations pass `requireOperator` first, so an unauthorised
 * caller learns nothing about validation. Input is validated completely
 * before the node is called, so a rejected request changes nothing. A
 * mutation that completes answers with the node's new status.
 */
import { requestSignal } from '../request-io.js';
import { Hono, type MiddlewareHandler } from 'hono';
import { parseNodeLocator } from '../../node-address.js';
import { BadRequestError, ConfigError } from '../../errors.js';
import type { ClusterNodeApi } from '../../node-api.js';
import type { HttpEnv } from '../types.js';
import { check, lazySchema, readJsonBody, type Zod } from '../validate.js';

/** `name@host`: the name part and a host name, IPv4 or bracketed IPv6. */
const MEMBER_NAME = /^[A-Za-z0-9_.-]+@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$/;
const MAX_NODE_LENGTH = 512;

const requiredString = (zod: Zod, what: string) =>
  zod.string({ error: (issue) => (issue.input === undefined ? 'is required' : `must be a string (${what})`) });

const JoinBody = lazySchema((zod) =>
  zod.strictObject(
    {
      node: requiredString(zod, 'name@host[:port]')
        .min(1, 'must not be empty')
        .max(MAX_NODE_LENGTH, `must be at most ${MAX_NODE_LENGTH} characters`)
        .refine((value) => value.includes('@'), 'must be name@host[:port], e.g. troupe@10.0.0.5 or troupe@10.0.0.5:9100'),
    },
    { error: 'request body must be a JSON object like {"node":"name@host[:port]"}' },
  ),
);

const NodeParam = lazySchema((zod) =>
  zod.object({
    node: zod
      .string()
      .max(MAX_NODE_LENGTH, `must be at most ${MAX_NODE_LENGTH} characters`)
      .regex(MEMBER_NAME, 'must be a member name name@host, as listed by GET /api/cluster/status'),
  }),
);

/** `statusJson` is the body of GET /status (the facade passes a cached one); mutations answer with `node.status()`, always fresh. */
export function clusterRoutes(node: ClusterNodeApi, guard: MiddlewareHandler<HttpEnv>, statusJson: () => string = () => JSON.stringify(node.status())): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();

  app.get('/status', (c) => c.body(statusJson(), 200, { 'Content-Type': 'application/json' }));

  app.get('/discovery', (c) => c.json(node.discovery()));

  app.post('/join', guard, async (c) => {
    const { node: target } = await readJsonBody(c, JoinBody);
    try {
      parseNodeLocator(target, 'node');
    } catch (err) {
      if (err instanceof ConfigError) throw new BadRequestError(`field "node" is not name@host[:port] (${err.expected}): ${JSON.stringify(target)}`);
      throw err;
    }
    await node.join(target, { signal: requestSignal(c) });
    return c.json(node.status());
  });

  app.post('/leave', guard, async (c) => {
    await node.leave({ signal: requestSignal(c) });
    return c.json(node.status());
  });

  app.delete('/nodes/:node', guard, async (c) => {
    const { node: name } = check(NodeParam, { node: c.req.param('node') });
    await node.remove(name, { signal: requestSignal(c) });
    return c.json(node.status());
  });

  return app;
}
