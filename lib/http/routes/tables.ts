/**
 * `/api/tables/*`: the replicated tables. Served only when the node offers
 * them (`ClusterNodeApi.tables`); the contract is docs/HTTP_API.md, "Tables".
 *
 * Reads are open; mutations (POST, PUT, DELETE) pass `requireOperator`
 * first. Input is validated completely before the tables are called
 * (table-input.ts), so a rejected request changes nothing. A 2xx means the
 * write committed; a 504 or 5xx leaves its outcome unknown. Reads are
 * linearizable unless the caller sends `X-Consistency: stale`; the answer
 * says which it got in the same header. A cas or batch whose condition fails
 * is a 409 `{"ok":false,"current":…}`: an expected answer a script branches
 * on, so it carries what the key holds next to the usual error object.
 */
import { requestSignal } from '../request-io.js';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { NoSuchTableError } from '../../errors.js';
import type { Mismatch, ReadConsistency, TablesApi } from '../../tables/tables-api.js';
import type { ErrorBody } from '../error-handler.js';
import type { HttpEnv } from '../types.js';
import { readJsonBody, readJsonValue } from '../validate.js';
import { watchHandler } from './table-watch.js';
import { BatchBody, CasBody, CreateBody, batchOps, checkCas, checkPutValue, consistencyOf, createOptions, keyParam, scanOptions, tableParam } from '../table-input.js';

/** Headers of a read answer: what it served, and never from a cache. */
const readHeaders = (consistency: ReadConsistency) => ({ 'X-Consistency': consistency, 'Cache-Control': 'no-store' });

/** The 409 of a failed condition: what the key holds (`current`, null: absent), and nothing written. */
function conditionFailed(c: Context, outcome: Mismatch<unknown>, what: string, extra: Record<string, unknown> = {}): Response {
  const holds = outcome.current === null ? 'is absent' : `holds version ${outcome.current.version}`;
  const message = `${what}: key ${JSON.stringify(outcome.key)} ${holds}, not the expected value; nothing was written (read it again before retrying)`;
  const error: ErrorBody['error'] = { code: 'ERR_CONDITION_FAILED', message };
  return c.json({ ok: false, ...extra, current: outcome.current, error }, 409);
}

export function tableRoutes(tables: TablesApi, guard: MiddlewareHandler<HttpEnv>): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  const call = (c: Context) => ({ signal: requestSignal(c) });

  app.get('/', async (c) => c.json({ tables: await tables.list(call(c)) }));

  app.post('/', guard, async (c) => {
    const body = await readJsonBody(c, CreateBody);
    return c.json(await tables.create(body.name, createOptions(body), call(c)), 201);
  });

  app.get('/:table', async (c) => {
    const name = tableParam(c);
    const found = (await tables.list(call(c))).find((t) => t.name === name);
    // A table being dropped is listed until its data is gone, but it is no longer a table to use: 404 like its keys.
    if (!found || found.state === 'dropping') throw new NoSuchTableError(name);
    return c.json(found);
  });

  app.delete('/:table', guard, async (c) => {
    const name = tableParam(c);
    await tables.drop(name, call(c));
    return c.json({ table: name, dropped: true });
  });

  app.get('/:table/watch', watchHandler(tables));

  app.get('/:table/keys/:key', async (c) => {
    const [name, key, consistency] = [tableParam(c), keyParam(c), consistencyOf(c)];
    const found = await tables.get(name, key, { ...call(c), consistency });
    if (found === null) {
      const error: ErrorBody['error'] = { code: 'ERR_NOT_FOUND', message: `table ${JSON.stringify(name)} has no key ${JSON.stringify(key)}`, details: { table: name, key } };
      return c.json({ error }, 404, readHeaders(consistency));
    }
    return c.json({ key, value: found.value, version: found.version }, 200, readHeaders(consistency));
  });

  app.put('/:table/keys/:key', guard, async (c) => {
    const [name, key] = [tableParam(c), keyParam(c)];
    const value = await readJsonValue(c, 'the value as JSON (any JSON but null)');
    checkPutValue(name, key, value);
    return c.json({ version: (await tables.put(name, key, value, call(c))).version });
  });

  app.delete('/:table/keys/:key', guard, async (c) => {
    const [name, key] = [tableParam(c), keyParam(c)];
    const { version, existed } = await tables.delete(name, key, call(c));
    return c.json({ version, existed });
  });

  app.post('/:table/keys/:key/cas', guard, async (c) => {
    const [name, key] = [tableParam(c), keyParam(c)];
    const body = await readJsonBody(c, CasBody);
    checkCas(key, body);
    const outcome = await tables.cas(name, key, body.expected, body.value, call(c));
    if (!outcome.ok) return conditionFailed(c, outcome, 'cas');
    return c.json({ ok: true, version: outcome.version });
  });

  app.post('/:table/batch', guard, async (c) => {
    const name = tableParam(c);
    const ops = batchOps((await readJsonBody(c, BatchBody)).ops);
    const outcome = await tables.batch(name, ops, call(c));
    if (!outcome.ok) return conditionFailed(c, outcome, `batch operation ${outcome.failed}`, { failed: outcome.failed, key: outcome.key });
    return c.json({ ok: true, version: outcome.version });
  });

  // `/scan` is the older name of the same read.
  for (const path of ['/:table/keys', '/:table/scan']) {
    app.get(path, async (c) => {
      const [name, consistency] = [tableParam(c), consistencyOf(c)];
      const page = await tables.scan(name, { ...scanOptions(c), ...call(c), consistency });
      return c.json({ items: page.items, cursor: page.cursor }, 200, readHeaders(consistency));
    });
  }

  return app;
}
