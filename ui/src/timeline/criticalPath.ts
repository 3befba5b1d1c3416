// The critical path: walking back from the task that finished last, each step to the task
// that finished last before it started, among the tasks of its parent steps in the DAG.
// That chain decided the run's duration: shortening anything else would not end it sooner.
import { type TimelineModel, taskBarEnd } from './model';

/** Parent step indexes of each step, from the DAG's `next` lists (a loop is its own parent). */
export function parentSteps(
  stepNames: readonly string[],
  next: Readonly<Record<string, readonly string[]>>,
): number[][] {
  const index = new Map(stepNames.map((n, i) => [n, i] as const));
  const parents: number[][] = stepNames.map(() => []);
  for (const [from, targets] of Object.entries(next)) {
    const f = index.get(from);
    if (f === undefined) continue;
    for (const to of targets) {
      const t = index.get(to);
      if (t !== undefined && !parents[t]?.includes(f)) parents[t]?.push(f);
    }
  }
  return parents;
}

/**
 * Task indexes on the critical path, earliest first. `parents` null means any task may
 * precede any other (no DAG known). `slackMs` tolerates clocks that disagree slightly.
 */
export function criticalPath(
  m: TimelineModel,
  parents: readonly (readonly number[])[] | null,
  now: number,
  slackMs = 1000,
): number[] {
  const nSteps = m.steps.length;
  const ends = new Float64Array(m.nTasks);
  // Per step, the started tasks sorted by end time, for a binary search per hop.
  const byStep: number[][] = Array.from({ length: nSteps }, () => []);
  let last = -1;
  for (let i = 0; i < m.nTasks; i++) {
    const e = taskBarEnd(m, i, now);
    ends[i] = e;
    if (Number.isNaN(e) || Number.isNaN(m.taskStart[i] ?? Number.NaN)) continue;
    byStep[m.taskStep[i] ?? 0]?.push(i);
    if (last < 0 || e > (ends[last] ?? 0)) last = i;
  }
  if (last < 0) return [];
  for (const list of byStep) list.sort((a, b) => (ends[a] ?? 0) - (ends[b] ?? 0));
  const allSteps = Array.from({ length: nSteps }, (_, i) => i);
  const path = [last];
  const seen = new Set([last]);
  let cur = last;
  for (;;) {
    const start = m.taskStart[cur] ?? Number.NaN;
    const limit = start + slackMs;
    const candidateSteps = parents ? (parents[m.taskStep[cur] ?? 0] ?? []) : allSteps;
    let best = -1;
    for (const s of candidateSteps) {
      const list = byStep[s] ?? [];
      // Last index whose end <= limit.
      let lo = 0;
      let hi = list.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if ((ends[list[mid] ?? 0] ?? 0) <= limit) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      // Skip the current task itself and tasks that began after it (a loop's later laps).
      for (let k = found; k >= 0; k--) {
        const c = list[k] ?? 0;
        if (seen.has(c) || (m.taskStart[c] ?? 0) > start) continue;
        if (best < 0 || (ends[c] ?? 0) > (ends[best] ?? 0)) best = c;
        break;
      }
    }
    if (best < 0) break;
    path.push(best);
    seen.add(best);
    cur = best;
  }
  return path.reverse();
}
