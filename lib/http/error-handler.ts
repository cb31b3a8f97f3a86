/**
 * The one place where failures become HTTP responses.
 *
 * Every error the facade answers with has the body
 * `{ "error": { "code": "ERR_…", "message": "…" } }`: `code` is stable and
 * meant for scripts, `message` says what was wrong and what to do. A
 * `TroupeError` is mapped by its `code` (`STATUS_BY_CODE`, checked for
 * completeness by the compiler); problems that exist only at the HTTP layer
 * (wrong method, wrong media type, body too large) are `HttpError`s carrying
 * their own status. Anything else, including a value thrown that is not an
 * Error, is logged with its stack and answered with a 500 that reveals
 * nothing of the internals: a handler bug must never take the process down.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from '../log.js';
import { PartitionUnavailableError, TroupeError, type ErrorCode } from '../errors.js';
import { clientGone } from './request-io.js';

/** Codes of failures that exist only at the HTTP layer. */
export type HttpOnlyCode = 'ERR_METHOD_NOT_ALLOWED' | 'ERR_UNSUPPORTED_MEDIA_TYPE' | 'ERR_PAYLOAD_TOO_LARGE' | 'ERR_OVERLOADED' | 'ERR_CONDITION_FAILED';

export type HttpErrorCode = ErrorCode | HttpOnlyCode;

export interface ErrorBody {
  /** `details`: machine-readable facts some errors add (e.g. the table, partition and unreachable replicas of ERR_UNAVAILABLE). */
  error: { code: HttpErrorCode; message: string; details?: Record<string, unknown> };
}

/** `Retry-After` of a transient 503 whose error names no delay, seconds. @default 1 */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/**
 * HTTP status for each `TroupeError` code. Failures reported by a peer the
 * node contacted on the caller's behalf (cookie, cluster name, protocol
 * version, bad frame) are 502: the request was fine, the other node refused.
 * Transient conditions the caller may retry are 503.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, ContentfulStatusCode>> = {
  ERR_BAD_REQUEST: 400,
  ERR_CONFIG: 400, // a malformed value the caller sent, e.g. a node string
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_UNKNOWN_NODE: 404,
  ERR_NODE_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_LIMIT_EXCEEDED: 413, // a table key, value or batch over its documented limit
  ERR_NO_SUCH_TABLE: 404,
  ERR_TABLE_EXISTS: 409,
  ERR_UNAVAILABLE: 503, // a table partition without a majority; retry after Retry-After
  ERR_WATCH_COMPACTED: 410, // a watch asked for changes no longer retained: re-read, then watch again
  ERR_NO_SUCH_ACTOR: 404,
  ERR_NODE_DOWN: 503,
  ERR_MAILBOX_FULL: 503,
  ERR_NAME_IN_USE: 409,
  ERR_NAME_TAKEN: 409,
  ERR_INTERNAL: 500,
  ERR_AUTHENTICATION: 502,
  ERR_CLUSTER_NAME: 502,
  ERR_PROTOCOL_VERSION: 502,
  ERR_FRAME: 502,
  ERR_NOT_A_NODE: 502,
  ERR_UNREACHABLE: 502,
  ERR_LINK_CLOSED: 503,
  ERR_QUEUE_FULL: 503,
  ERR_NOT_RUNNING: 503,
  ERR_PORT_RANGE_EXHAUSTED: 503,
  ERR_ABORTED: 503,
  ERR_NOT_LEADER: 503, // retry at the leader named in the error
  ERR_PROPOSAL_DROPPED: 503, // a Raft group refused the write for now (transfer, flow control)
  ERR_OUTCOME_UNKNOWN: 504, // a write timed out or lost its leader: it may or may not have committed
  ERR_TIMEOUT: 504,
};

/** Code used when only a status is known (hono's HTTPException). */
const CODE_BY_STATUS: Readonly<Partial<Record<number, HttpErrorCode>>> = {
  400: 'ERR_BAD_REQUEST',
  401: 'ERR_UNAUTHORIZED',
  403: 'ERR_FORBIDDEN',
  404: 'ERR_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  409: 'ERR_CONFLICT',
  413: 'ERR_PAYLOAD_TOO_LARGE',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  504: 'ERR_TIMEOUT',
};

/** A failure of the HTTP exchange itself, with the status to answer. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

interface Problem {
  status: ContentfulStatusCode;
  code: HttpErrorCode;
  message: string;
  headers: Record<string, string>;
  details?: Record<string, unknown> | undefined;
}

const INTERNAL_MESSAGE = 'internal error: the request failed inside the node; its log has the details';

/** Status, code and message to answer for any thrown value. */
export function problemFor(err: unknown): Problem {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message, headers: err.headers, details: err.details };
  if (err instanceof TroupeError) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    const problem: Problem = { status, code: err.code, message: status === 500 ? INTERNAL_MESSAGE : err.message, headers: {} };
    // Every 503 is transient: say when to come back.
    if (status === 503) problem.headers['Retry-After'] = String(retryAfterSeconds(err));
    if (err instanceof PartitionUnavailableError) {
      problem.details = { table: err.table, partition: err.partition, replicas: err.replicas, unreachable: [...err.unreachable] };
    }
    return problem;
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'ERR_INTERNAL' : 'ERR_BAD_REQUEST');
    return { status, code, message: err.message || `HTTP ${status}`, headers: {} };
  }
  return { status: 500, code: 'ERR_INTERNAL', message: INTERNAL_MESSAGE, headers: {} };
}

/** Whole seconds, at least 1, of an error's `retryAfterMs` hint; DEFAULT_RETRY_AFTER_SECONDS without one. */
function retryAfterSeconds(err: TroupeError): number {
  const ms = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : DEFAULT_RETRY_AFTER_SECONDS;
}

/** A JSON error response in the facade's shape. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: HttpErrorCode,
  message: string,
  headers: Record<string, string> = {},
  details?: Record<string, unknown>,
): Response {
  const body: ErrorBody = { error: details === undefined ? { code, message } : { code, message, details } };
  return c.json(body, status, headers);
}

/**
 * Whether the client went away before its answer: reading the body then fails, and whatever is answered,
 * nobody reads it. @hono/node-server aborts the request's signal when the connection closes early.
 */
export function clientAborted(c: Context): boolean {
  return clientGone(c);
}

/**
 * hono `onError`: maps, logs server-side failures with their stack, answers JSON. A failure caused by the
 * client leaving mid-request is the client's doing, not a server error: debug level, no stack.
 */
export function createErrorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    const problem = problemFor(err);
    const request = { method: c.req.method, path: c.req.path };
    if (clientAborted(c)) log.debug({ ...request, reason: err.message }, 'HTTP request aborted by the client');
    else if (problem.status >= 500) log.error({ err, ...request, status: problem.status }, 'HTTP request failed');
    else log.debug({ ...request, status: problem.status, code: problem.code, reason: problem.message }, 'HTTP request rejected');
    return errorResponse(c, problem.status, problem.code, problem.message, problem.headers, problem.details);
  };
}

/** hono `notFound`: an unknown route is a JSON 404 like every other error. */
export const notFoundHandler: NotFoundHandler = (c) =>
  errorResponse(c, 404, 'ERR_NOT_FOUND', `no route ${c.req.method} ${c.req.path}: see docs/HTTP_API.md for the endpoints`);

/** Answer for a known path requested with a method it does not serve. */
export function methodNotAllowedResponse(c: Context, allowed: readonly string[]): Response {
  const allow = allowed.join(', ');
  return errorResponse(c, 405, 'ERR_METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`, { Allow: allow });
}
