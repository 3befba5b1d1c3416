// The timeline in typed arrays, built once per response: drawing and hit-testing
// read only these, so a run of 100,000 tasks costs a few megabytes and no objects per task.
import type { Timeline } from '../api/models';

export const PENDING = 0;
export const RUNNING = 1;
export const COMPLETED = 2;
export const FAILED = 3;
export const STATUS_NAMES = ['pending', 'running', 'completed', 'failed'] as const;
export type StatusName = (typeof STATUS_NAMES)[number];

export function statusCode(status: string | null | undefined): number {
  switch (status) {
    case 'running':
      return RUNNING;
    case 'completed':
      return COMPLETED;
    case 'failed':
      return FAILED;
    default:
      return PENDING;
  }
}

export interface TimelineModel {
  steps: string[];
  nTasks: number;
  taskStep: Int32Array;
  taskId: string[];
  taskLabel: (string | null)[];
  taskStatus: Uint8Array;
  /** First attempt's start, NaN when no attempt started. */
  taskStart: Float64Array;
  /** Last attempt's end, NaN while open. */
  taskEnd: Float64Array;
  /** Attempts of task i are taskAttempts[taskAttemptOffset[i] .. taskAttemptOffset[i+1]). */
  taskAttemptOffset: Int32Array;
  taskAttempts: Int32Array;
  nAttempts: number;
  attemptTask: Int32Array;
  attemptNumber: Int32Array;
  attemptStatus: Uint8Array;
  attemptStart: Float64Array;
  attemptEnd: Float64Array;
  /** Earliest start and latest known time (end or start) over all attempts; NaN if none. */
  minTime: number;
  maxTime: number;
}

const num = (v: number | null | undefined): number =>
  v === null || v === undefined ? Number.NaN : v;

export function buildModel(t: Timeline): TimelineModel {
  const nTasks = t.tasks.task_id.length;
  const nAttempts = t.attempts.task.length;
  const taskStep = new Int32Array(nTasks);
  const taskStatus = new Uint8Array(nTasks);
  for (let i = 0; i < nTasks; i++) {
    taskStep[i] = t.tasks.step[i] ?? 0;
    taskStatus[i] = statusCode(t.tasks.status[i]);
  }
  const attemptTask = new Int32Array(nAttempts);
  const attemptNumber = new Int32Array(nAttempts);
  const attemptStatus = new Uint8Array(nAttempts);
  const attemptStart = new Float64Array(nAttempts);
  const attemptEnd = new Float64Array(nAttempts);
  const counts = new Int32Array(nTasks + 1);
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for (let a = 0; a < nAttempts; a++) {
    const task = t.attempts.task[a] ?? 0;
    attemptTask[a] = task;
    attemptNumber[a] = t.attempts.attempt[a] ?? 0;
    attemptStatus[a] = statusCode(t.attempts.status[a]);
    const s = num(t.attempts.started_at[a]);
    const e = num(t.attempts.finished_at[a]);
    attemptStart[a] = s;
    attemptEnd[a] = e;
    if (s < minTime) minTime = s;
    if (s > maxTime) maxTime = s;
    if (e > maxTime) maxTime = e;
    if (task >= 0 && task < nTasks) counts[task + 1] = (counts[task + 1] ?? 0) + 1;
  }
  // Counting sort of attempts by task, then by attempt number within a task.
  const taskAttemptOffset = new Int32Array(nTasks + 1);
  for (let i = 0; i < nTasks; i++) {
    taskAttemptOffset[i + 1] = (taskAttemptOffset[i] ?? 0) + (counts[i + 1] ?? 0);
  }
  const fill = taskAttemptOffset.slice(0, nTasks);
  const taskAttempts = new Int32Array(taskAttemptOffset[nTasks] ?? 0);
  for (let a = 0; a < nAttempts; a++) {
    const task = attemptTask[a] ?? -1;
    if (task < 0 || task >= nTasks) continue;
    const at = fill[task] ?? 0;
    taskAttempts[at] = a;
    fill[task] = at + 1;
  }
  const taskStart = new Float64Array(nTasks).fill(Number.NaN);
  const taskEnd = new Float64Array(nTasks).fill(Number.NaN);
  for (let i = 0; i < nTasks; i++) {
    const from = taskAttemptOffset[i] ?? 0;
    const to = taskAttemptOffset[i + 1] ?? 0;
    // Few attempts per task: insertion sort by attempt number.
    for (let j = from + 1; j < to; j++) {
      const v = taskAttempts[j] ?? 0;
      let k = j - 1;
      while (k >= from && (attemptNumber[taskAttempts[k] ?? 0] ?? 0) > (attemptNumber[v] ?? 0)) {
        taskAttempts[k + 1] = taskAttempts[k] ?? 0;
        k--;
      }
      taskAttempts[k + 1] = v;
    }
    if (to > from) {
      taskStart[i] = attemptStart[taskAttempts[from] ?? 0] ?? Number.NaN;
      taskEnd[i] = attemptEnd[taskAttempts[to - 1] ?? 0] ?? Number.NaN;
    }
  }
  return {
    steps: t.steps,
    nTasks,
    taskStep,
    taskId: t.tasks.task_id,
    taskLabel: t.tasks.foreach_label,
    taskStatus,
    taskStart,
    taskEnd,
    taskAttemptOffset,
    taskAttempts,
    nAttempts,
    attemptTask,
    attemptNumber,
    attemptStatus,
    attemptStart,
    attemptEnd,
    minTime: Number.isFinite(minTime) ? minTime : Number.NaN,
    maxTime: Number.isFinite(maxTime) ? maxTime : Number.NaN,
  };
}

/** Where an attempt's bar ends: its end, or `now` while it runs (a dot when unknown). */
export function attemptBarEnd(m: TimelineModel, a: number, now: number): number {
  const e = m.attemptEnd[a] ?? Number.NaN;
  if (!Number.isNaN(e)) return e;
  const s = m.attemptStart[a] ?? Number.NaN;
  return m.attemptStatus[a] === RUNNING ? Math.max(now, s) : s;
}

/** Where a task's span ends for ordering and critical path; NaN if it never started. */
export function taskBarEnd(m: TimelineModel, i: number, now: number): number {
  const to = m.taskAttemptOffset[i + 1] ?? 0;
  const from = m.taskAttemptOffset[i] ?? 0;
  if (to <= from) return Number.NaN;
  return attemptBarEnd(m, m.taskAttempts[to - 1] ?? 0, now);
}

/** The time range the whole run covers (running tasks extend it to `now`). */
export function modelBounds(m: TimelineModel, now: number): { start: number; end: number } | null {
  if (Number.isNaN(m.minTime)) return null;
  let end = m.maxTime;
  for (let a = 0; a < m.nAttempts; a++) {
    if (m.attemptStatus[a] === RUNNING && Number.isNaN(m.attemptEnd[a] ?? 0)) {
      end = Math.max(end, now);
      break;
    }
  }
  return { start: m.minTime, end: Math.max(end, m.minTime + 1) };
}
