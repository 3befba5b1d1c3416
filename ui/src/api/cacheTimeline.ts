// Live changes to a cached timeline (the columnar `Timeline` response): new tasks and
// attempts are appended, known ones updated. The timeline's model (timeline/model.ts)
// sorts attempts by task itself, so appending keeps it right; each batch copies the
// columns once, however many changes it holds.
import type { AttemptEvent, StepEvent } from './events';
import type { Task, Timeline } from './models';

interface TimelineIndex {
  steps: Map<string, number>;
  /** Per step index: task id -> task index. */
  tasks: Map<number, Map<string, number>>;
  /** attemptKey(task index, attempt number) -> attempt index. */
  attempts: Map<number, number>;
}

// Finding a task among 100,000 by its name needs an index; it is built once per timeline
// response (numbers and nested maps: no string building) and handed on to the updated copy.
const indexes = new WeakMap<Timeline, TimelineIndex>();

// Attempt numbers stay far below 1,024 (@retry allows a handful).
const attemptKey = (task: number, attempt: number) => task * 1024 + attempt;

function indexOf(t: Timeline): TimelineIndex {
  const found = indexes.get(t);
  if (found) return found;
  const steps = new Map(t.steps.map((s, i) => [s, i] as const));
  const tasks = new Map<number, Map<string, number>>();
  const ids = t.tasks.task_id;
  const stepOf = t.tasks.step;
  for (let i = 0; i < ids.length; i++) {
    const step = stepOf[i] ?? -1;
    let byId = tasks.get(step);
    if (!byId) {
      byId = new Map();
      tasks.set(step, byId);
    }
    byId.set(ids[i] ?? '', i);
  }
  const attempts = new Map<number, number>();
  const at = t.attempts;
  for (let a = 0; a < at.task.length; a++) {
    attempts.set(attemptKey(at.task[a] ?? -1, at.attempt[a] ?? 0), a);
  }
  const index = { steps, tasks, attempts };
  indexes.set(t, index);
  return index;
}

function findTask(index: TimelineIndex, step: string, task: string): number | undefined {
  const s = index.steps.get(step);
  return s === undefined ? undefined : index.tasks.get(s)?.get(task);
}

export type TimelineChange =
  | { kind: 'step'; data: StepEvent }
  | { kind: 'task'; data: Task }
  | { kind: 'attempt'; data: AttemptEvent };

function copy(t: Timeline): Timeline {
  return {
    steps: t.steps.slice(),
    tasks: {
      step: t.tasks.step.slice(),
      task_id: t.tasks.task_id.slice(),
      foreach_label: t.tasks.foreach_label.slice(),
      status: t.tasks.status.slice(),
    },
    attempts: {
      task: t.attempts.task.slice(),
      attempt: t.attempts.attempt.slice(),
      status: t.attempts.status.slice(),
      started_at: t.attempts.started_at.slice(),
      finished_at: t.attempts.finished_at.slice(),
    },
  };
}

export function applyToTimeline(t: Timeline, changes: readonly TimelineChange[]): Timeline {
  if (!changes.length) return t;
  const index = indexOf(t);
  let next: Timeline | null = null;
  const edit = (): Timeline => {
    next ??= copy(t);
    return next;
  };
  const stepIndex = (name: string): number => {
    let s = index.steps.get(name);
    if (s === undefined) {
      // A step the run had not reached when the timeline was read: steps come in the
      // order the run reaches them, which is the DAG's order for the steps of a run.
      const n = edit();
      s = n.steps.length;
      n.steps.push(name);
      index.steps.set(name, s);
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
      const i = findTask(index, task.step_name, task.task_id);
      if (i === undefined) {
        const step = stepIndex(task.step_name);
        const n = edit();
        let byId = index.tasks.get(step);
        if (!byId) {
          byId = new Map();
          index.tasks.set(step, byId);
        }
        byId.set(task.task_id, n.tasks.task_id.length);
        n.tasks.step.push(step);
        n.tasks.task_id.push(task.task_id);
        n.tasks.foreach_label.push(task.foreach_label);
        n.tasks.status.push(task.status);
      } else {
        const cur: Timeline = next ?? t;
        if (
          cur.tasks.status[i] === task.status &&
          cur.tasks.foreach_label[i] === task.foreach_label
        )
          continue;
        const n = edit();
        n.tasks.status[i] = task.status;
        n.tasks.foreach_label[i] = task.foreach_label;
      }
      continue;
    }
    const at = change.data;
    const ti = findTask(index, at.step_name, at.task_id);
    if (ti === undefined) continue; // its task_created comes first; nothing to attach to
    const key = attemptKey(ti, at.attempt);
    const a = index.attempts.get(key);
    const cur: Timeline = next ?? t;
    if (
      a !== undefined &&
      cur.attempts.status[a] === at.status &&
      cur.attempts.started_at[a] === at.started_at &&
      cur.attempts.finished_at[a] === at.finished_at
    )
      continue;
    const n = edit();
    if (a === undefined) {
      index.attempts.set(key, n.attempts.task.length);
      n.attempts.task.push(ti);
      n.attempts.attempt.push(at.attempt);
      n.attempts.status.push(at.status);
      n.attempts.started_at.push(at.started_at);
      n.attempts.finished_at.push(at.finished_at);
    } else {
      n.attempts.status[a] = at.status;
      n.attempts.started_at[a] = at.started_at;
      n.attempts.finished_at[a] = at.finished_at;
    }
  }
  if (next === null) return t;
  // The index now describes the copy; the old response must build its own if asked again.
  indexes.delete(t);
  indexes.set(next, index);
  return next;
}
