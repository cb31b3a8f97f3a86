/**
 * Topic names and subscriber ids: the one rule every layer checks (the
 * shell on subscribe and publish, the HTTP routes on their path, the spread
 * core on what a peer sends).
 *
 * A topic name is 1 to 128 characters of letters, digits and `_ . : ~ -`,
 * starting with a letter, a digit or `_`. A name starting with `$` (then the
 * same rule) is a system topic: the runtime publishes on it, each node
 * locally (e.g. `$cluster`), and its subscriptions are never spread.
 */

/** Longest topic name, characters. */
export const MAX_TOPIC_CHARS = 128;
/** Longest subscriber id (an actor path `a/b/c`), characters. */
export const MAX_SUBSCRIBER_ID_CHARS = 1024;
/** Prefix of system topics: published locally by each node, subscriptions kept local. */
export const SYSTEM_TOPIC_PREFIX = '$';

const TOPIC_NAME = /^\$?[A-Za-z0-9_][A-Za-z0-9_.:~-]*$/;

/** Why `name` is not a topic name, or null when it is one. */
export function topicNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'a topic name must be a non-empty string';
  if (name.length > MAX_TOPIC_CHARS + (isSystemTopic(name) ? 1 : 0)) return `a topic name has at most ${MAX_TOPIC_CHARS} characters (got ${name.length})`;
  if (!TOPIC_NAME.test(name)) return 'a topic name is letters, digits and _ . : ~ -, starting with a letter, digit or _ (a leading $ marks a system topic)';
  return null;
}

export function isSystemTopic(name: string): boolean {
  return name.startsWith(SYSTEM_TOPIC_PREFIX);
}

export function isSubscriberId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_SUBSCRIBER_ID_CHARS;
}
