// Items as the API and the event stream send them, for the api/ tests.
import type { AttemptEvent, LiveEvent, StepEvent } from './events';
import type { Page, Run, RunDetail, Task, TaskCounts } from './models';

export const run = (id: string, over: Partial<Run> = {}): Run => ({
  flow_id: 'F',
  run_id: id,
  user: 'ann',
  status: 'running',
  status_reason: null,
  started_at: Number(id) * 1000,
  finished_at: null,
  duration_ms: null,
  tags: [],
  system_tags: [],
  project: null,
  branch: null,
  first_failure: null,
  caught_count: 0,
  current_steps: [],
  ...over,
});

export const runDetail = (id: string, over: Partial<RunDetail> = {}): RunDetail => ({
  ...run(id),
  parameters: {},
  configs: {},
  origin_run_id: null,
  script_name: null,
  task_count: 0,
  step_counts: { pending: 0, running: 0, completed: 0, failed: 0, skipped: 0 },
  unreadable_tasks: 0,
  ...over,
});

export const task = (step: string, id: string, over: Partial<Task> = {}): Task => ({
  flow_id: 'F',
  run_id: '1',
  step_name: step,
  task_id: id,
  status: 'running',
  status_reason: null,
  caught: false,
  attempt: 0,
  started_at: 1000 + Number(id),
  finished_at: null,
  duration_ms: null,
  foreach_label: null,
  ...over,
});

export const attempt = (
  step: string,
  id: string,
  n: number,
  over: Partial<AttemptEvent> = {},
): AttemptEvent => ({
  flow_id: 'F',
  run_id: '1',
  step_name: step,
  task_id: id,
  attempt: n,
  status: 'running',
  status_reason: null,
  started_at: 1000 + Number(id),
  finished_at: null,
  ...over,
});

export const counts = (over: Partial<TaskCounts> = {}): TaskCounts => ({
  pending: 0,
  running: 0,
  completed: 0,
  failed: 0,
  ...over,
});

export const stepEvent = (step: string, over: Partial<StepEvent> = {}): StepEvent => ({
  flow_id: 'F',
  run_id: '1',
  step_name: step,
  type: 'linear',
  status: 'running',
  started_at: 1000,
  finished_at: null,
  task_counts: counts({ running: 1 }),
  ...over,
});

export function pages<T>(...lists: T[][]) {
  return {
    pages: lists.map(
      (items, i): Page<T> => ({ items, next_cursor: i < lists.length - 1 ? `c${i}` : null }),
    ),
    pageParams: lists.map((_, i) => i),
  };
}

let clock = 0;
/** An event as received now (ascending `at`). */
export function ev(e: DistributiveOmit<LiveEvent, 'at'>, at?: number): LiveEvent {
  clock = Math.max(clock + 1, at ?? 0);
  return { ...e, at: at ?? clock } as LiveEvent;
}

export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
