/**
 * Majority arithmetic over the voters of one configuration (thesis §3.6,
 * §4.1). Learners are never passed in: they neither vote nor count.
 */

/** Votes needed to win among `voters` voters: a strict majority. */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest index held by a majority of voters: the (majority)-th largest
 * match. Voters without a known match count as 0. An empty voter set has
 * no quorum and commits nothing (returns 0).
 */
export function quorumIndex(voters: readonly string[], matchOf: (id: string) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1]!;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Outcome of an election among `voters` given the answers so far (true = granted). */
export function voteResult(voters: readonly string[], votes: ReadonlyMap<string, boolean>): VoteResult {
  if (voters.length === 0) return 'lost';
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const answer = votes.get(v);
    if (answer === true) granted++;
    else if (answer === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return 'won';
  if (voters.length - rejected < need) return 'lost';
  return 'pending';
}

/** Whether the voters for which `yes` holds form a majority. */
export function hasQuorum(voters: readonly string[], yes: (id: string) => boolean): boolean {
  return voters.length > 0 && voters.filter(yes).length >= majority(voters.length);
}
