// The timeline in typed arrays, built once per change of the data: drawing and
// hit-testing read only these. Every task has its span and status (the overview); the
// tasks whose detail has arrived also have their attempts, so a run of 100,000 tasks
// costs a few megabytes and no objects per task.
import {
  type Overview,
  type STATUS_NAMES,
  splitKey,
  type TaskDetail,
  type TimelineData,
  taskIdOf,
  taskIndex,
} from './overview';

export { STATUS_NAMES, statusCode } from './overview';
export const PENDING = 0;
export const RUNNING = 1;
export const COMPLETED = 2;
export const FAILED = 3;
export type StatusName = (typeof STATUS_NAMES)[number];

export interface TimelineModel {
  steps: string[];
  nTasks: number;
  overview: Overview;
  taskStep: Uint16Array;
  taskStatus: Uint8Array;
  /** How many attempts the task had (known without its detail). */
  taskAttemptCount: Uint8Array;
  taskCaught: Uint8Array;
  /** The task's start, NaN when it has not started. */
  taskStart: Float64Array;
  /** Its last attempt's end, NaN while open. */
  taskEnd: Float64Array;
  /** Detail (label, attempts) of the tasks it was fetched for (sparse). */
  taskDetail: (TaskDetail | undefined)[];
  /** Attempts of task i (detail only) are taskAttempts[taskAttemptOffset[i] .. [i+1]). */
  taskAttemptOffset: Int32Array;
  taskAttempts: Int32Array;
  nAttempts: number;
  attemptTask: Int32Array;
  attemptNumber: Int32Array;
  attemptStatus: Uint8Array;
  attemptStart: Float64Array;
  attemptEnd: Float64Array;
  /** Earliest start and latest known time (end or start); NaN if none. */
  minTime: number;
  maxTime: number;
}

/** The model of a timeline: its overview, with the attempts of the tasks in `detail`. */
export function buildModel(data: TimelineData): TimelineModel {
  return withDetail(baseModel(data.overview), data.detail);
}

/** Every task's span and status, no attempts: what layout, bounds and the lane read. */
export function baseModel(o: Overview): TimelineModel {
  const n = o.n;
  const taskStart = o.start.subarray(0, n);
  const taskEnd = o.end.subarray(0, n);
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const s = taskStart[i] ?? Number.NaN;
    const e = taskEnd[i] ?? Number.NaN;
    if (s < minTime) minTime = s;
    if (s > maxTime) maxTime = s;
    if (e > maxTime) maxTime = e;
  }
  return {
    steps: o.steps,
    nTasks: n,
    overview: o,
    taskStep: o.step.subarray(0, n),
    taskStatus: o.status.subarray(0, n),
    taskAttemptCount: o.attempts.subarray(0, n),
    taskCaught: o.caught.subarray(0, n),
    taskStart,
    taskEnd,
    taskDetail: [],
    taskAttemptOffset: new Int32Array(n + 1),
    taskAttempts: new Int32Array(0),
    nAttempts: 0,
    attemptTask: new Int32Array(0),
    attemptNumber: new Int32Array(0),
    attemptStatus: new Uint8Array(0),
    attemptStart: new Float64Array(0),
    attemptEnd: new Float64Array(0),
    minTime: Number.isFinite(minTime) ? minTime : Number.NaN,
    maxTime: Number.isFinite(maxTime) ? maxTime : Number.NaN,
  };
}

/** `base` with the attempts of the tasks whose detail is loaded (cost: the detail's size,
 * plus one pass of integer work over the tasks). */
export function withDetail(
  base: TimelineModel,
  detail: ReadonlyMap<string, TaskDetail>,
): TimelineModel {
  if (!detail.size) return base;
  const n = base.nTasks;
  const index = taskIndex(base.overview);
  const taskDetail: (TaskDetail | undefined)[] = [];
  const counts = new Int32Array(n + 1);
  for (const [key, d] of detail) {
    const [step, id] = splitKey(key);
    const i = index.get(base.overview, step, id);
    if (i === undefined || i >= n) continue;
    taskDetail[i] = d;
    counts[i + 1] = d.attempts.length;
  }
  const taskAttemptOffset = new Int32Array(n + 1);
  for (let i = 0; i < n; i++)
    taskAttemptOffset[i + 1] = (taskAttemptOffset[i] ?? 0) + (counts[i + 1] ?? 0);
  const nAttempts = taskAttemptOffset[n] ?? 0;
  const attemptTask = new Int32Array(nAttempts);
  const attemptNumber = new Int32Array(nAttempts);
  const attemptStatus = new Uint8Array(nAttempts);
  const attemptStart = new Float64Array(nAttempts);
  const attemptEnd = new Float64Array(nAttempts);
  const taskAttempts = new Int32Array(nAttempts);
  taskDetail.forEach((d, i) => {
    if (!d) return;
    let a = taskAttemptOffset[i] ?? 0;
    for (const at of d.attempts) {
      attemptTask[a] = i;
      attemptNumber[a] = at.attempt;
      attemptStatus[a] = at.status;
      attemptStart[a] = at.start;
      attemptEnd[a] = at.end;
      taskAttempts[a] = a;
      a++;
    }
  });
  return {
    ...base,
    taskDetail,
    taskAttemptOffset,
    taskAttempts,
    nAttempts,
    attemptTask,
    attemptNumber,
    attemptStatus,
    attemptStart,
    attemptEnd,
  };
}

export const taskIdAt = (m: TimelineModel, i: number): string => taskIdOf(m.overview, i);

/** Whether the attempts of task i are loaded (else it is drawn as one bar). */
export const hasAttempts = (m: TimelineModel, i: number): boolean =>
  (m.taskAttemptOffset[i + 1] ?? 0) > (m.taskAttemptOffset[i] ?? 0);

/** Where an attempt's bar ends: its end, or `now` while it runs (a dot when unknown). */
export function attemptBarEnd(m: TimelineModel, a: number, now: number): number {
  const e = m.attemptEnd[a] ?? Number.NaN;
  if (!Number.isNaN(e)) return e;
  const s = m.attemptStart[a] ?? Number.NaN;
  return m.attemptStatus[a] === RUNNING ? Math.max(now, s) : s;
}

/** Where a task's span ends; NaN if it never started. */
export function taskBarEnd(m: TimelineModel, i: number, now: number): number {
  const s = m.taskStart[i] ?? Number.NaN;
  if (Number.isNaN(s)) return Number.NaN;
  const e = m.taskEnd[i] ?? Number.NaN;
  if (!Number.isNaN(e)) return Math.max(e, s);
  return m.taskStatus[i] === RUNNING ? Math.max(now, s) : s;
}

/** The time range the whole run covers (running tasks extend it to `now`). */
export function modelBounds(m: TimelineModel, now: number): { start: number; end: number } | null {
  if (Number.isNaN(m.minTime)) return null;
  let end = m.maxTime;
  for (let i = 0; i < m.nTasks; i++) {
    if (m.taskStatus[i] === RUNNING && !Number.isNaN(m.taskStart[i] ?? Number.NaN)) {
      end = Math.max(end, now);
      break;
    }
  }
  return { start: m.minTime, end: Math.max(end, m.minTime + 1) };
}
