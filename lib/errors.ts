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
  | 'ERR_PORT_RANGE_EXHAUSTED'
  | 'ERR_NAME_IN_USE'
  | 'ERR_NODE_NOT_FOUND'
  | 'ERR_UNREACHABLE'
  | 'ERR_NOT_A_NODE'
  | 'ERR_INTERNAL'
  | 'ERR_NOT_LEADER'
  | 'ERR_PROPOSAL_DROPPED'
  | 'ERR_OUTCOME_UNKNOWN'
  | 'ERR_LIMIT_EXCEEDED'
  | 'ERR_NO_SUCH_TABLE'
  | 'ERR_TABLE_EXISTS'
  | 'ERR_UNAVAILABLE'
  | 'ERR_WATCH_COMPACTED'
  | 'ERR_NO_SUCH_ACTOR'
  | 'ERR_NODE_DOWN'
  | 'ERR_MAILBOX_FULL'
  | 'ERR_NAME_TAKEN';

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

/** What a ConfigError holds and says in place of a secret's value. */
export const SECRET_MASK = '***';

/**
 * A configuration value is invalid. The message names the setting (env var), the value and the rule.
 * The value of a secret (`secret: true`) is never kept nor shown: a rejected cookie may still be
 * nearly the real one, and errors end up in logs.
 */
export class ConfigError extends TroupeError {
  readonly value: unknown;

  constructor(
    readonly setting: string,
    value: unknown,
    readonly expected: string,
    options: { secret?: boolean } = {},
  ) {
    const shown = options.secret ? `${setting} (a secret, value not shown)` : `${setting}=${formatValue(value)}`;
    super('ERR_CONFIG', `invalid ${shown}: ${expected}`);
    this.value = options.secret ? SECRET_MASK : value;
  }
}

function formatValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Words for the system errors an operator can fix by a setting or on the host; the code follows in brackets. */
const SYSTEM_ERROR_WORDS: Readonly<Record<string, string>> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** `read-only file system (EROFS)` for a system error; the message of any other error. */
export function describeSystemError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const words = code === undefined ? undefined : SYSTEM_ERROR_WORDS[code];
  if (words !== undefined) return `${words} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * A listen that failed for a reason the operator fixes by a setting, as a ConfigError naming it
 * (`settings.port` for a port in use or reserved, `settings.bind` for an address this host lacks);
 * any other error unchanged.
 */
export function listenError(err: unknown, settings: { port: string; bind: string }, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRNOTAVAIL') return new ConfigError(settings.bind, host, `cannot listen on ${host}: ${describeSystemError(err)}; set ${settings.bind} to an address of this host`);
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    return new ConfigError(settings.port, port, `cannot listen on ${host} port ${port}: ${describeSystemError(err)}; choose a free port (0 picks one) or stop what holds it`);
  }
  return err;
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

/** Every port of the cluster port range is taken on this host. */
export class PortRangeExhaustedError extends TroupeError {
  constructor(readonly range: { first: number; last: number }) {
    super('ERR_PORT_RANGE_EXHAUSTED', `no free port in CLUSTER_PORT_RANGE ${range.first}-${range.last}: stop a node on this host, widen CLUSTER_PORT_RANGE on every node, or set CLUSTER_PORT`);
  }
}

/** A live node already uses this node's name (as Erlang refuses a name already registered with epmd). */
export class NameInUseError extends TroupeError {
  constructor(readonly nodeName: string, readonly address: string) {
    super('ERR_NAME_IN_USE', `NODE_NAME ${nodeName} is already used by a running node at ${address}: choose another NODE_NAME, or stop that node first`);
  }
}

/** Nobody answers to a `name@host` locator: no node of that name listens in the host's port range. */
export class NodeNotFoundError extends TroupeError {
  constructor(readonly locator: string, detail: string) {
    super('ERR_NODE_NOT_FOUND', `no node named ${locator}: ${detail}`, { retryable: true });
  }
}

/** The node's address could not be reached at all (refused, no route, timeout). */
export class UnreachableError extends TroupeError {
  constructor(readonly target: string, detail: string) {
    super('ERR_UNREACHABLE', `cannot reach ${target}: ${detail}`, { retryable: true });
  }
}

/** Something listens at the address, but it does not speak the troupe handshake (an HTTP port, say). */
export class NotATroupeNodeError extends TroupeError {
  constructor(readonly target: string, detail: string) {
    super('ERR_NOT_A_NODE', `${target} is not a troupe cluster port (${detail}): give the node's cluster port (CLUSTER_PORT), not its HTTP port, or just name@host`);
  }
}

/**
 * A request exceeds one of the documented limits of replicated tables (key,
 * value or batch size; lib/tables/commands.ts). Not retryable: the same
 * request fails again. `limit` and `actual` are in the unit the subclass names.
 */
export class LimitExceededError extends TroupeError {
  constructor(readonly limit: number, readonly actual: number, message: string) {
    super('ERR_LIMIT_EXCEEDED', message);
  }
}

/** A table key is longer than the limit, in UTF-8 bytes. */
export class KeyTooLargeError extends LimitExceededError {
  constructor(limitBytes: number, actualBytes: number) {
    super(limitBytes, actualBytes, `key is ${actualBytes} bytes (UTF-8), the limit is ${limitBytes}: use a shorter key, e.g. a hash of the long one`);
  }
}

/** A table value is larger than the limit once encoded (msgpack), in bytes. */
export class ValueTooLargeError extends LimitExceededError {
  constructor(limitBytes: number, actualBytes: number) {
    super(limitBytes, actualBytes, `value is ${actualBytes} bytes encoded, the limit is ${limitBytes}: split it over several keys or keep large blobs outside the table`);
  }
}

/** A batch has too many operations, or its command is too large in total. */
export class BatchTooLargeError extends LimitExceededError {
  constructor(readonly unit: 'operations' | 'bytes', limit: number, actual: number) {
    super(limit, actual, `batch has ${actual} ${unit}, the limit is ${limit}: split it into several batches (each is atomic on its own)`);
  }
}

/**
 * A subscribe would take this node past one of pub/sub's per-node limits
 * (topics with subscribers, or (topic, subscriber) pairs; lib/protocol/pubsub/config.ts).
 */
export class TopicLimitError extends LimitExceededError {
  constructor(readonly unit: 'topics' | 'subscriptions', limit: number) {
    super(limit, limit, `this node already has ${limit} ${unit === 'topics' ? 'topics with subscribers' : 'subscriptions (topic, subscriber pairs)'}, the limit: unsubscribe what is no longer needed, or subscribe on another node`);
  }
}

/** A table of that name exists already (or is still being dropped): choose another name, or wait until the drop completes. */
export class TableExistsError extends TroupeError {
  constructor(readonly table: string, readonly state?: string) {
    super(
      'ERR_TABLE_EXISTS',
      state === 'dropping'
        ? `table ${JSON.stringify(table)} is being dropped: wait until the drop completes (it leaves the table list), then create it again`
        : `a table named ${JSON.stringify(table)} already exists${state ? ` (${state})` : ''}: drop it first or choose another name`,
    );
  }
}

/** No table of that name exists in the cluster (or not the incarnation the request named). */
export class NoSuchTableError extends TroupeError {
  constructor(readonly table: string) {
    super('ERR_NO_SUCH_TABLE', `no table named ${JSON.stringify(table)}: create it first (POST /api/tables), or see GET /api/tables for the tables`);
  }
}

/**
 * A table partition cannot serve a write or a linearizable read: it has lost
 * its majority (or has no leader yet). Fails fast rather than waiting for the
 * deadline; retryable once enough replicas are back. `unreachable` names the
 * replicas (`name@host`) this node cannot reach; `retryAfterMs` is a hint.
 */
export class PartitionUnavailableError extends TroupeError {
  constructor(
    readonly table: string,
    readonly partition: number,
    readonly unreachable: readonly string[],
    readonly replicas: number,
    readonly retryAfterMs = 1000,
  ) {
    super(
      'ERR_UNAVAILABLE',
      `table ${JSON.stringify(table)} partition ${partition} has no majority: ${unreachable.length} of its ${replicas} replicas cannot be reached (${unreachable.join(', ') || 'none named'}); writes and linearizable reads fail until a majority is back (stale reads still work: X-Consistency: stale)`,
      { retryable: true },
    );
  }
}

/** A table is being created: its partitions have no leader yet. */
export class TableNotReadyError extends TroupeError {
  constructor(readonly table: string) {
    super('ERR_UNAVAILABLE', `table ${JSON.stringify(table)} is being created and its partitions have no leader yet: retry in a moment`, { retryable: true });
  }
}

/**
 * A watch asked for changes older than the history a replica retains (or a
 * snapshot replaced it). Re-read the table (a scan) and watch again from
 * `resumeFrom`: changes after it may be seen twice, none is lost.
 */
export class WatchCompactedError extends TroupeError {
  constructor(readonly table: string, readonly partition: number, readonly requested: number, readonly retainedFrom: number, readonly resumeFrom: number) {
    super(
      'ERR_WATCH_COMPACTED',
      `table ${JSON.stringify(table)} partition ${partition} retains changes from version ${retainedFrom} on, a watch asked for those after ${requested}: re-read the table, then watch from version ${resumeFrom}`,
      { retryable: false },
    );
  }
}

/**
 * A node is a voter of a Raft group but its data directory is younger than
 * the group: its replica (and the votes and entries it acknowledged) was
 * lost with an earlier directory. It refuses to recreate the replica empty.
 */
export class ReplicaLostError extends TroupeError {
  constructor(readonly node: string, readonly group: string) {
    super(
      'ERR_CONFLICT',
      `${node} is a voter of raft group ${group} but its data directory is newer than the group: its replica was lost with the old directory, and it will not vote with an empty log. Remove the node (troupe remove ${node}) and let it rejoin, or restore its data directory`,
      { retryable: false },
    );
  }
}

/** No actor at the reference: it stopped or never existed. A message to it went to dead letters. */
export class NoSuchActorError extends TroupeError {
  constructor(readonly ref: string) {
    super('ERR_NO_SUCH_ACTOR', `no actor at ${ref}: it stopped or never existed (look it up again, e.g. with whereis, or spawn it)`, { retryable: false });
  }
}

/**
 * The node of the actor is down, left or unknown (or the link to it broke
 * while a query waited), so the query cannot be answered: it fails now
 * instead of at its timeout. A query sent before the failure may still have
 * been handled there.
 */
export class NodeDownError extends TroupeError {
  constructor(readonly node: string, readonly ref: string, readonly reason: string) {
    super('ERR_NODE_DOWN', `${ref}: node ${node} ${reason}; the query was not answered (it may have been handled before); retry once the node is up, or ask another actor`, { retryable: true });
  }
}

/** The actor's mailbox holds as many messages as the node accepts from other nodes: the message was dropped. */
export class MailboxFullError extends TroupeError {
  constructor(readonly ref: string, readonly limit: number) {
    super('ERR_MAILBOX_FULL', `the mailbox of ${ref} holds ${limit} messages, the limit for messages from other nodes: the message was dropped; slow down or add consumers`, { retryable: true });
  }
}

/**
 * A cluster-wide name is registered already, to the actor `holder`
 * (`node/path`), by node `registeredBy`. Nothing was written.
 */
export class NameTakenError extends TroupeError {
  constructor(readonly registeredName: string, readonly holder: string, readonly registeredBy: string) {
    super(
      'ERR_NAME_TAKEN',
      `the name ${JSON.stringify(registeredName)} is registered to ${holder} (by ${registeredBy}): choose another name, send to that actor (whereis), or register again once it is released (unregister on ${registeredBy}, or when the actor stops)`,
      { retryable: false },
    );
  }
}
