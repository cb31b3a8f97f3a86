/**
 * Which seeds a many-seed simulation test runs: SEED=n replays that one
 * seed; SEEDS=k runs seeds 1..k; otherwise 1..`defaultCount`.
 */

export function simSeeds(defaultCount: number): number[] {
  const one = process.env['SEED'];
  if (one !== undefined && one !== '') {
    const seed = Number(one);
    if (!Number.isSafeInteger(seed)) throw new Error(`SEED must be an integer, got ${JSON.stringify(one)}`);
    return [seed];
  }
  const many = process.env['SEEDS'];
  const count = many === undefined || many === '' ? defaultCount : Number(many);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`SEEDS must be a positive integer, got ${JSON.stringify(many)}`);
  return Array.from({ length: count }, (_, i) => i + 1);
}
