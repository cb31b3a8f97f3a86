/**
 * Typed errors of troupe. Every error has a stable `code` that callers and the
 * HTTP layer switch on, a `name` equal to its class, an optional `cause`, and
 * `retryable`: whether the same call may succeed later without a change by
 * the caller. Messages say what to do, not only what went wrong.
 *
 * Protocol cores never throw on remote input (a bad frame is dropped and
 * counted); they throw only for a broken invariant. Shells catch at the edge.
 */

export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_AUTHENTICATION'
  | 'ERR_PROTOCOL_VERSION'
  | 'ERR_CLUSTER_NAME'
  | 'ERR_FRAME'
  | 'ERR_LINK_CLOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_NOT_RUNNING'
  | 'ERR_UNKNOWN_NODE'
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_CONFLICT'
  | 'ERR_INTERNAL'
  | 'ERR_NOT_LEADER'
  | 'ERR_PROPOSAL_DROPPED';

export interface TroupeErrorOptions extends ErrorOptions {
  retryable?: boolean;
}

export class TroupeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: TroupeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A configuration value is invalid. The message names the setting (env var), the value and the rule. */
export class ConfigError extends TroupeError {
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super('ERR_CONFIG', `invalid ${setting}=${formatValue(value)}: ${expected}`);
  }
}

function formatValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

export class TimeoutError extends TroupeError {
  constructor(what: string, readonly timeoutMs: number, options: TroupeErrorOptions = {}) {
    super('ERR_TIMEOUT', `${what} did not complete within ${timeoutMs} ms`, { retryable: true, ...options });
  }
}

export class AbortError extends TroupeError {
  constructor(what = 'operation', options: TroupeErrorOptions = {}) {
    super('ERR_ABORTED', `${what} was aborted`, options);
  }
}

/** The peer failed the cookie challenge, or we failed its. */
export class AuthenticationError extends TroupeError {
  constructor(message = 'cookie challenge failed: set COOKIE to the cluster\'s cookie on every node') {
    super('ERR_AUTHENTICATION', message);
  }
}

export class ProtocolVersionError extends TroupeError {
  constructor(readonly ours: number, readonly theirs: unknown) {
    super('ERR_PROTOCOL_VERSION', `peer speaks protocol version ${String(theirs)}, this node speaks ${ours}: run the same troupe release on every node`);
  }
}

export class ClusterNameError extends TroupeError {
  constructor(readonly ours: string, readonly theirs: unknown) {
    super('ERR_CLUSTER_NAME', `peer belongs to cluster ${JSON.stringify(theirs)}, this node to ${JSON.stringify(ours)}: set CLUSTER_NAME alike on nodes that should form one cluster`);
  }
}

/** An inter-node frame could not be decoded or exceeds the maximum size. */
export class FrameError extends TroupeError {
  constructor(message: string, options: TroupeErrorOptions = {}) {
    super('ERR_FRAME', message, options);
  }
}

export class LinkClosedError extends TroupeError {
  constructor(peer: string, options: TroupeErrorOptions = {}) {
    super('ERR_LINK_CLOSED', `link to ${peer} is closed`, { retryable: true, ...options });
  }
}

/** A bounded queue rejected an item: the caller should slow down or retry later. */
export class QueueFullError extends TroupeError {
  constructor(what: string, readonly limit: number) {
    super('ERR_QUEUE_FULL', `${what} is full (limit ${limit}); retry later`, { retryable: true });
  }
}

export class NotRunningError extends TroupeError {
  constructor(what: string) {
    super('ERR_NOT_RUNNING', `${what} is not running: start it first`, { retryable: false });
  }
}

export class UnknownNodeError extends TroupeError {
  constructor(readonly node: string) {
    super('ERR_UNKNOWN_NODE', `no member named ${JSON.stringify(node)}: see GET /api/cluster/status for the members`);
  }
}

export class BadRequestError extends TroupeError {
  constructor(message: string) {
    super('ERR_BAD_REQUEST', message);
  }
}

export class ConflictError extends TroupeError {
  constructor(message: string) {
    super('ERR_CONFLICT', message);
  }
}
