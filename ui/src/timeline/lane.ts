// The density lane over the timeline's rows: how many tasks were running in each pixel
// column of the view, by their outcome, so that a fitted view of 100,000 tasks shows
// where the work was and where it failed. One pass over the tasks shown, per view.
import { COMPLETED, FAILED, RUNNING, type TimelineModel, taskBarEnd } from './model';
import type { TimeView } from './viewport';

export interface LaneCounts {
  width: number;
  /** Tasks active in each column, by outcome. */
  completed: Uint32Array;
  failed: Uint32Array;
  running: Uint32Array;
  /** The most tasks active in one column (for the scale). */
  max: number;
}

export function laneCounts(
  m: TimelineModel,
  tasks: Int32Array,
  view: TimeView,
  width: number,
  now: number,
): LaneCounts {
  const w = Math.max(1, Math.floor(width));
  const diff = [new Int32Array(w + 1), new Int32Array(w + 1), new Int32Array(w + 1)];
  const span = view.end - view.start;
  for (let k = 0; k < tasks.length; k++) {
    const i = tasks[k] ?? 0;
    const s = m.taskStart[i] ?? Number.NaN;
    if (Number.isNaN(s) || s > view.end) continue;
    const e = taskBarEnd(m, i, now);
    if (e < view.start) continue;
    const st = m.taskStatus[i];
    const lane = st === FAILED ? 1 : st === RUNNING ? 2 : st === COMPLETED ? 0 : -1;
    const d = diff[lane];
    if (!d) continue;
    const b0 = Math.max(0, Math.min(w - 1, Math.floor(((s - view.start) / span) * w)));
    const b1 = Math.max(b0, Math.min(w - 1, Math.floor(((e - view.start) / span) * w)));
    d[b0] = (d[b0] ?? 0) + 1;
    d[b1 + 1] = (d[b1 + 1] ?? 0) - 1;
  }
  const out = [new Uint32Array(w), new Uint32Array(w), new Uint32Array(w)];
  let max = 0;
  for (let lane = 0; lane < 3; lane++) {
    const d = diff[lane] ?? new Int32Array(0);
    const o = out[lane] ?? new Uint32Array(0);
    let acc = 0;
    for (let x = 0; x < w; x++) {
      acc += d[x] ?? 0;
      o[x] = acc;
    }
  }
  for (let x = 0; x < w; x++) {
    const total = (out[0]?.[x] ?? 0) + (out[1]?.[x] ?? 0) + (out[2]?.[x] ?? 0);
    if (total > max) max = total;
  }
  return {
    width: w,
    completed: out[0] ?? new Uint32Array(w),
    failed: out[1] ?? new Uint32Array(w),
    running: out[2] ?? new Uint32Array(w),
    max,
  };
}
