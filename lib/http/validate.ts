/**
 * Reading and checking request input. A request is rejected before anything
 * is applied, with a message naming the field and the rule: 415 when the body
 * is not declared as JSON, 400 when it is not valid JSON or does not match
 * the route's schema.
 *
 * The routes' schemas are built on their first use (`lazySchema`), and zod is
 * loaded then: it is about 95 modules and 3 MB of heap that a node serving no
 * checked request never needs, and loading it at start-up left an idle node
 * ~10 MB larger five seconds later (docs/BENCHMARKS.md, "Failure detection and
 * RSS"). It is loaded with `require` (zod ships CommonJS too) so that `check`
 * stays synchronous: no promise is added to a request once the schema exists.
 */
import { createRequire } from 'node:module';
import type { Context } from 'hono';
import type { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { HttpError } from './error-handler.js';
import { requestText } from './request-io.js';

/** The zod namespace, as a schema's builder receives it. */
export type Zod = typeof z;

let zod: Zod | undefined;

function loadZod(): Zod {
  return (zod ??= (createRequire(import.meta.url)('zod') as { z: Zod }).z);
}

/** A schema built by `build` on its first use, then kept; zod is loaded by the first schema built. */
export type LazySchema<S extends z.ZodType> = () => S;

/** What a lazy schema's check returns. */
export type Output<L extends LazySchema<z.ZodType>> = z.output<ReturnType<L>>;

export function lazySchema<S extends z.ZodType>(build: (zod: Zod) => S): LazySchema<S> {
  let schema: S | undefined;
  return () => (schema ??= build(loadZod()));
}

/** Parses the JSON body of `c` and validates it against `schema`. */
export async function readJsonBody<S extends z.ZodType>(c: Context, schema: LazySchema<S>): Promise<z.output<S>> {
  return check(schema, await readJsonValue(c, 'a JSON object'));
}

/** Parses the JSON body of `c`, whatever JSON value it is; `expected` says what to send when it is empty. */
export async function readJsonValue(c: Context, expected = 'JSON'): Promise<unknown> {
  const type = mediaType(c.req.header('content-type'));
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json (got ${type || 'none'})`);
  }
  const text = await requestText(c);
  if (text.trim() === '') throw new BadRequestError(`request body is empty: send ${expected}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`malformed JSON body: ${(err as Error).message}`);
  }
}

/** Validates `value` (a body, or route parameters) or throws a BadRequestError naming the fields. */
export function check<S extends z.ZodType>(schema: LazySchema<S>, value: unknown): z.output<S> {
  const result = schema().safeParse(value);
  if (result.success) return result.data;
  throw new BadRequestError(result.error.issues.map(describeIssue).join('; '));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.path.length === 0) return issue.message;
  return `field ${JSON.stringify(issue.path.join('.'))} ${issue.message}`;
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}
