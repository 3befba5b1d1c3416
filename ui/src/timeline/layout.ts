// Timeline rows: one header row per step, then one row per task of that step (unless the
// step is collapsed). Each task row holds one bar per attempt, so retries show side by side.
import { type TimelineModel, taskBarEnd } from './model';

export type TimelineOrder = 'start' | 'end' | 'duration';

export const ROW_STEP = 0;
export const ROW_TASK = 1;

export interface LayoutOptions {
  order: TimelineOrder;
  /** Task status codes to show; null shows all. */
  statuses: ReadonlySet<number> | null;
  /** Step indexes to show; null shows all. */
  steps: ReadonlySet<number> | null;
  /** Step indexes whose tasks are hidden under their header row. */
  collapsed: ReadonlySet<number>;
  now: number;
}

export interface TimelineRows {
  count: number;
  /** ROW_STEP or ROW_TASK. */
  kind: Uint8Array;
  /** Step index for a header row, task index for a task row. */
  ref: Int32Array;
  /** Per step: tasks that pass the filters, and their time span (NaN if none started). */
  stepTasks: Int32Array;
  stepStart: Float64Array;
  stepEnd: Float64Array;
  /** Every task that passes the filters, collapsed steps' too, in row order. */
  tasks: Int32Array;
}

function sortKey(m: TimelineModel, i: number, order: TimelineOrder, now: number): number {
  const s = m.taskStart[i] ?? Number.NaN;
  if (order === 'start') return s;
  const e = taskBarEnd(m, i, now);
  if (order === 'end') return e;
  return -(e - s); // longest first
}

export function layoutRows(m: TimelineModel, o: LayoutOptions): TimelineRows {
  const nSteps = m.steps.length;
  const byStep: number[][] = Array.from({ length: nSteps }, () => []);
  for (let i = 0; i < m.nTasks; i++) {
    const step = m.taskStep[i] ?? -1;
    if (step < 0 || step >= nSteps) continue;
    if (o.steps && !o.steps.has(step)) continue;
    if (o.statuses && !o.statuses.has(m.taskStatus[i] ?? 0)) continue;
    byStep[step]?.push(i);
  }
  const stepTasks = new Int32Array(nSteps);
  const stepStart = new Float64Array(nSteps).fill(Number.NaN);
  const stepEnd = new Float64Array(nSteps).fill(Number.NaN);
  let count = 0;
  for (let s = 0; s < nSteps; s++) {
    if (o.steps && !o.steps.has(s)) continue;
    const tasks = byStep[s] ?? [];
    stepTasks[s] = tasks.length;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    const keys = new Float64Array(tasks.length);
    for (let k = 0; k < tasks.length; k++) {
      const i = tasks[k] ?? 0;
      const st = m.taskStart[i] ?? Number.NaN;
      const en = taskBarEnd(m, i, o.now);
      if (st < lo) lo = st;
      if (en > hi) hi = en;
      keys[k] = sortKey(m, i, o.order, o.now);
    }
    if (Number.isFinite(lo)) stepStart[s] = lo;
    if (Number.isFinite(hi)) stepEnd[s] = hi;
    // Sort by key (NaN = never started goes last), ties by task index for stability.
    const idx = tasks.map((_, k) => k);
    idx.sort((a, b) => {
      const ka = keys[a] ?? Number.NaN;
      const kb = keys[b] ?? Number.NaN;
      const na = Number.isNaN(ka);
      const nb = Number.isNaN(kb);
      if (na !== nb) return na ? 1 : -1;
      if (!na && ka !== kb) return ka - kb;
      return (tasks[a] ?? 0) - (tasks[b] ?? 0);
    });
    byStep[s] = idx.map((k) => tasks[k] ?? 0);
    count += 1 + (o.collapsed.has(s) ? 0 : tasks.length);
  }
  const kind = new Uint8Array(count);
  const ref = new Int32Array(count);
  let shown = 0;
  for (const list of byStep) shown += list.length;
  const tasks = new Int32Array(shown);
  let t = 0;
  for (const list of byStep) for (const i of list) tasks[t++] = i;
  let r = 0;
  for (let s = 0; s < nSteps; s++) {
    if (o.steps && !o.steps.has(s)) continue;
    kind[r] = ROW_STEP;
    ref[r] = s;
    r++;
    if (o.collapsed.has(s)) continue;
    for (const i of byStep[s] ?? []) {
      kind[r] = ROW_TASK;
      ref[r] = i;
      r++;
    }
  }
  return { count, kind, ref, stepTasks, stepStart, stepEnd, tasks };
}

/** The row of a task, or -1 when it is filtered out or collapsed. */
export function rowOfTask(rows: TimelineRows, task: number): number {
  for (let r = 0; r < rows.count; r++) {
    if (rows.kind[r] === ROW_TASK && rows.ref[r] === task) return r;
  }
  return -1;
}

/** The time spanned by the task rows from `first` to `last`, or null if none started. */
export function visibleTaskSpan(
  m: TimelineModel,
  rows: TimelineRows,
  first: number,
  last: number,
  now: number,
): { start: number; end: number } | null {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (let r = Math.max(0, first); r <= Math.min(rows.count - 1, last); r++) {
    if (rows.kind[r] !== ROW_TASK) continue;
    const i = rows.ref[r] ?? 0;
    const s = m.taskStart[i] ?? Number.NaN;
    if (Number.isNaN(s)) continue;
    start = Math.min(start, s);
    end = Math.max(end, taskBarEnd(m, i, now));
  }
  return Number.isFinite(start) ? { start, end } : null;
}
