// New runs arrive at the top of the runs list. While the user is scrolled down, they are
// held back (and counted in an "N new runs" pill) so the rows being read do not move.
import type { Run } from '../api/models';

export const runName = (r: Pick<Run, 'flow_id' | 'run_id'>) => `${r.flow_id}/${r.run_id}`;

/**
 * How many runs at the top of `runs` to hold back: the leading runs not yet shown, when
 * `hold` is on. None before anything was shown, and none when no run was shown before
 * (a new list, not new runs).
 */
export function heldNewRuns(runs: readonly Run[], shown: ReadonlySet<string>, hold: boolean) {
  if (!hold || shown.size === 0) return 0;
  let i = 0;
  while (i < runs.length && !shown.has(runName(runs[i] as Run))) i++;
  return i === runs.length ? 0 : i;
}
