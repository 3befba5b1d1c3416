// Query keys, hierarchical so one run or task can be refreshed or patched in place
// (issue 4 will feed Server-Sent Events into the cache through these keys).
import type { LogStream, Params, TaskRef } from './client';

export const keys = {
  health: () => ['health'] as const,
  flows: () => ['flows'] as const,
  runsAll: () => ['runs'] as const,
  runs: (params: Params) => ['runs', 'list', params] as const,
  run: (flow: string, run: string) => ['run', flow, run] as const,
  runDetail: (flow: string, run: string) => ['run', flow, run, 'detail'] as const,
  dag: (flow: string, run: string) => ['run', flow, run, 'dag'] as const,
  clones: (flow: string, run: string) => ['run', flow, run, 'clones'] as const,
  steps: (flow: string, run: string) => ['run', flow, run, 'steps'] as const,
  timeline: (flow: string, run: string) => ['run', flow, run, 'timeline'] as const,
  tasks: (flow: string, run: string, params: Params) =>
    ['run', flow, run, 'tasks', params] as const,
  task: (t: TaskRef) => ['task', t.flow, t.run, t.step, t.task] as const,
  taskDetail: (t: TaskRef) => ['task', t.flow, t.run, t.step, t.task, 'detail'] as const,
  artifacts: (t: TaskRef, attempt: number, includePrivate: boolean) =>
    ['task', t.flow, t.run, t.step, t.task, 'artifacts', attempt, includePrivate] as const,
  artifact: (t: TaskRef, attempt: number, name: string) =>
    ['task', t.flow, t.run, t.step, t.task, 'artifact', attempt, name] as const,
  cards: (t: TaskRef) => ['task', t.flow, t.run, t.step, t.task, 'cards'] as const,
  cardData: (t: TaskRef, cardId: string) =>
    ['task', t.flow, t.run, t.step, t.task, 'cards', cardId, 'data'] as const,
  logs: (t: TaskRef, stream: LogStream, attempt: number) =>
    ['task', t.flow, t.run, t.step, t.task, 'logs', stream, attempt] as const,
  logPage: (t: TaskRef, stream: LogStream, attempt: number, start: number | 'tail') =>
    ['task', t.flow, t.run, t.step, t.task, 'logs', stream, attempt, start] as const,
  logSearch: (t: TaskRef, stream: LogStream, attempt: number, q: string) =>
    ['task', t.flow, t.run, t.step, t.task, 'logs', stream, attempt, 'search', q] as const,
};
