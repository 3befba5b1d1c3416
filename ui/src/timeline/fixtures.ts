import type { TaskStatus, Timeline } from '../api/models';
import { fromTimeline, type TimelineData } from './overview';

export interface FixtureTask {
  step: string;
  id: string;
  label?: string;
  status?: TaskStatus;
  /** [start, end|null, status] per attempt, in seconds from 0. */
  attempts: [number, number | null, TaskStatus][];
}

/** A timeline's overview with the detail of every task, from a readable list of tasks. */
export function timelineFixture(steps: string[], tasks: FixtureTask[]): TimelineData {
  return fromTimeline(timelineJsonFixture(steps, tasks));
}

/** The full columnar timeline (JSON `/timeline`) of a readable list of tasks. */
export function timelineJsonFixture(steps: string[], tasks: FixtureTask[]): Timeline {
  const t: Timeline = {
    steps,
    tasks: { step: [], task_id: [], foreach_label: [], status: [] },
    attempts: { task: [], attempt: [], status: [], started_at: [], finished_at: [] },
  };
  tasks.forEach((task, i) => {
    t.tasks.step.push(steps.indexOf(task.step));
    t.tasks.task_id.push(task.id);
    t.tasks.foreach_label.push(task.label ?? null);
    const lastStatus = task.attempts.at(-1)?.[2] ?? 'pending';
    t.tasks.status.push(task.status ?? lastStatus);
    // Attempts listed in reverse to check that the model sorts them.
    [...task.attempts].reverse().forEach(([s, e, status], k) => {
      t.attempts.task.push(i);
      t.attempts.attempt.push(task.attempts.length - 1 - k);
      t.attempts.status.push(status);
      t.attempts.started_at.push(s * 1000);
      t.attempts.finished_at.push(e === null ? null : e * 1000);
    });
  });
  return t;
}
