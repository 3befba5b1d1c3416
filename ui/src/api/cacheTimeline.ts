// Live changes to a cached timeline (its overview and the detail loaded so far): new
// tasks are appended, known ones updated, attempts land in the detail of tasks whose
// detail is loaded. Each batch copies the overview's columns once (typed-array copies,
// a millisecond at 100,000 tasks), however many changes it holds.
import {
  appendTask,
  copyOverview,
  moveTaskIndex,
  type Overview,
  statusCode,
  type TaskDetail,
  type TimelineData,
  taskIndex,
  taskKey,
  taskKeyOf,
} from '../timeline/overview';
import type { AttemptEvent, StepEvent } from './events';
import type { Task } from './models';

export type TimelineChange =
  | { kind: 'step'; data: StepEvent }
  | { kind: 'task'; data: Task }
  | { kind: 'attempt'; data: AttemptEvent };

const num = (v: number | null | undefined) => (v === null || v === undefined ? Number.NaN : v);

export function applyToTimeline(t: TimelineData, changes: readonly TimelineChange[]): TimelineData {
  if (!changes.length) return t;
  const index = taskIndex(t.overview);
  let next: Overview | null = null;
  let detail: Map<string, TaskDetail> | null = null;
  const edit = (): Overview => {
    next ??= copyOverview(t.overview, Math.ceil((t.overview.n + changes.length) * 1.25));
    return next;
  };
  const cur = (): Overview => next ?? t.overview;
  const stepIndex = (name: string): number => {
    let s = cur().steps.indexOf(name);
    if (s < 0) {
      // A step the run had not reached when the timeline was read: steps come in the
      // order the run reaches them, which is the DAG's order for the steps of a run.
      const o = edit();
      s = o.steps.length;
      o.steps.push(name);
    }
    return s;
  };
  for (const change of changes) {
    if (change.kind === 'step') {
      stepIndex(change.data.step_name);
      continue;
    }
    if (change.kind === 'task') {
      const task = change.data;
      const key = taskKey(task.step_name, task.task_id);
      const o = cur();
      let i = index.get(o, task.step_name, task.task_id);
      const code = statusCode(task.status);
      const start = code === 0 ? Number.NaN : num(task.started_at);
      const end = code < 2 ? Number.NaN : num(task.finished_at);
      const attempts = code === 0 ? 0 : Math.min(255, task.attempt + 1);
      if (
        i !== undefined &&
        o.status[i] === code &&
        Object.is(o.start[i], start) &&
        Object.is(o.end[i], end) &&
        o.attempts[i] === attempts &&
        o.caught[i] === (task.caught ? 1 : 0)
      )
        continue;
      const e = edit();
      if (i === undefined) {
        i = appendTask(e, stepIndex(task.step_name), task.task_id);
        index.add(e, i);
      }
      e.status[i] = code;
      e.start[i] = start;
      e.end[i] = end;
      e.attempts[i] = Math.max(attempts, e.attempts[i] ?? 0);
      e.caught[i] = task.caught ? 1 : 0;
      const known = (detail ?? t.detail).get(key);
      if (known && known.label !== task.foreach_label) {
        detail ??= new Map(t.detail);
        detail.set(key, { ...known, label: task.foreach_label });
      }
      continue;
    }
    const at = change.data;
    const key = taskKey(at.step_name, at.task_id);
    const i = index.get(cur(), at.step_name, at.task_id);
    if (i === undefined) continue; // its task_created comes first; nothing to attach to
    if ((cur().attempts[i] ?? 0) < at.attempt + 1)
      edit().attempts[i] = Math.min(255, at.attempt + 1);
    const known = (detail ?? t.detail).get(key);
    if (!known) continue; // the detail is fetched when its row comes on screen
    const attempt = {
      attempt: at.attempt,
      status: statusCode(at.status),
      start: num(at.started_at),
      end: num(at.finished_at),
    };
    const attempts = known.attempts.filter((x) => x.attempt !== at.attempt);
    attempts.push(attempt);
    attempts.sort((x, y) => x.attempt - y.attempt);
    detail ??= new Map(t.detail);
    detail.set(key, { ...known, attempts });
  }
  if (next === null && detail === null) return t;
  const overview: Overview = next ?? t.overview;
  if (next !== null) {
    // The index now describes the copy; the old overview builds its own if asked again.
    moveTaskIndex(t.overview, next, index);
  }
  return { overview, detail: detail ?? t.detail };
}

/** Detail that arrived for some tasks, merged into the cached timeline. */
export function mergeDetail(
  t: TimelineData,
  items: readonly { key: string; detail: TaskDetail }[],
): TimelineData {
  if (!items.length) return t;
  const detail = new Map(t.detail);
  for (const item of items) detail.set(item.key, item.detail);
  return { overview: t.overview, detail };
}

/**
 * The detail a refetched overview can keep: a task's entry stays only while the
 * overview agrees with it (same number of attempts, same outcome).
 */
export function keepDetail(
  o: Overview,
  old: ReadonlyMap<string, TaskDetail>,
): Map<string, TaskDetail> {
  const kept = new Map<string, TaskDetail>();
  if (!old.size) return kept;
  for (let i = 0; i < o.n; i++) {
    const key = taskKeyOf(o, i);
    const d = old.get(key);
    if (!d) continue;
    const last = d.attempts.at(-1);
    const settled = (o.status[i] ?? 0) < 2 || (last !== undefined && !Number.isNaN(last.end));
    if (d.attempts.length === o.attempts[i] && settled) kept.set(key, d);
  }
  return kept;
}
