/**
 * The range rule the protocol configs share (swim, raft, pubsub): which of
 * their counts and durations is not a whole number at or above a minimum.
 */

/** The first of `fields` whose value in `config` is not a safe integer ≥ `min`, or undefined when all are. */
export function firstNotIntegerAtLeast<T>(config: T, fields: readonly (keyof T)[], min: number): keyof T | undefined {
  return fields.find((field) => {
    const value = config[field];
    return typeof value !== 'number' || !Number.isSafeInteger(value) || value < min;
  });
}
