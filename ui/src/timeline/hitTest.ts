import { ROW_STEP, ROW_TASK, type TimelineRows } from './layout';
import { attemptBarEnd, hasAttempts, type TimelineModel, taskBarEnd } from './model';
import { type TimeView, timeToX } from './viewport';

/** A step header, or a task: `attempt` is the attempt's index in the model, or -1 when the
 * task's attempts are not loaded and its whole span was hit. */
export type TimelineHit =
  | { kind: 'step'; row: number; step: number }
  | { kind: 'attempt'; row: number; task: number; attempt: number };

export interface HitGeometry {
  rowHeight: number;
  /** Vertical scroll offset of the rows, in pixels. */
  scrollTop: number;
  /** Width of the bar area in pixels (x is measured from its left edge). */
  width: number;
  view: TimeView;
  now: number;
  /** How far outside a bar a pointer still hits it (thin bars need it). */
  slopPx: number;
}

/** The row under a y coordinate (relative to the top of the visible rows), or -1. */
export function rowAt(
  rows: TimelineRows,
  g: Pick<HitGeometry, 'rowHeight' | 'scrollTop'>,
  y: number,
) {
  const r = Math.floor((y + g.scrollTop) / g.rowHeight);
  return r >= 0 && r < rows.count ? r : -1;
}

function distance(x: number, x0: number, x1: number): number {
  return x < x0 ? x0 - x : x > x1 ? x - x1 : 0;
}

export function hitTest(
  m: TimelineModel,
  rows: TimelineRows,
  g: HitGeometry,
  x: number,
  y: number,
): TimelineHit | null {
  const row = rowAt(rows, g, y);
  if (row < 0) return null;
  const ref = rows.ref[row] ?? 0;
  if (rows.kind[row] === ROW_STEP) return { kind: 'step', row, step: ref };
  if (rows.kind[row] !== ROW_TASK) return null;
  if (!hasAttempts(m, ref)) {
    const s = m.taskStart[ref] ?? Number.NaN;
    if (Number.isNaN(s)) return null;
    const x0 = timeToX(g.view, g.width, s);
    const x1 = Math.max(x0 + 1, timeToX(g.view, g.width, taskBarEnd(m, ref, g.now)));
    return distance(x, x0, x1) <= g.slopPx
      ? { kind: 'attempt', row, task: ref, attempt: -1 }
      : null;
  }
  let best = -1;
  let bestDist = Number.POSITIVE_INFINITY;
  for (let k = m.taskAttemptOffset[ref] ?? 0; k < (m.taskAttemptOffset[ref + 1] ?? 0); k++) {
    const a = m.taskAttempts[k] ?? 0;
    const s = m.attemptStart[a] ?? Number.NaN;
    if (Number.isNaN(s)) continue;
    const x0 = timeToX(g.view, g.width, s);
    const x1 = Math.max(x0 + 1, timeToX(g.view, g.width, attemptBarEnd(m, a, g.now)));
    const dist = distance(x, x0, x1);
    if (dist <= g.slopPx && dist < bestDist) {
      best = a;
      bestDist = dist;
    }
  }
  return best < 0 ? null : { kind: 'attempt', row, task: ref, attempt: best };
}
