// The live event stream (`GET /api/v1/events`, docs/API.md "Live events"): what each event
// carries, which stream a page listens to, and which cached queries a stream keeps current.
// The payloads are the API's own items (Run, Step, Task, Attempt, LogLine) plus the keys
// that place them; the OpenAPI spec does not describe event payloads, so they are named here.
import type { QueryKey } from '@tanstack/react-query';
import type { LogStream, Params } from './client';
import type { Attempt, LogLine, Run, StepSummary, Task } from './models';

export type RunEventKind = 'run_created' | 'run_status' | 'run_tags';

export interface RunKey {
  flow_id: string;
  run_id: string;
}

export type StepEvent = RunKey & StepSummary;

export type AttemptEvent = RunKey & Attempt & { step_name: string; task_id: string };

export interface LogEvent extends RunKey {
  step_name: string;
  task_id: string;
  attempt: number;
  stream: LogStream;
  lines: LogLine[];
}

/** Which stream a page listens to: every run, one run, or one task (which adds its logs). */
export type StreamSpec =
  | { kind: 'all' }
  | { kind: 'run'; flow: string; run: string }
  | { kind: 'task'; flow: string; run: string; step: string; task: string };

/**
 * One event as the cache sees it. `at` is when the browser received it (for replaying
 * events over a response that was in flight meanwhile, see liveCache.ts). `hello` and
 * `resync` are about the stream itself and name it.
 */
export type LiveEvent = { at: number } & (
  | { kind: RunEventKind; data: Run }
  | { kind: 'step_status'; data: StepEvent }
  | { kind: 'task_created' | 'task_status'; data: Task }
  | { kind: 'attempt_status'; data: AttemptEvent }
  | { kind: 'log'; data: LogEvent }
  | { kind: 'hello'; stream: StreamSpec; openedAt: number }
  | { kind: 'resync'; stream: StreamSpec }
);

export type DataEvent = Extract<LiveEvent, { data: unknown }>;

/** Event names the server sends with a JSON payload (`hello` and `resync` included). */
export const EVENT_NAMES = [
  'hello',
  'resync',
  'run_created',
  'run_status',
  'run_tags',
  'step_status',
  'task_created',
  'task_status',
  'attempt_status',
  'log',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * An event from its name and `data:` text; null for anything malformed (a bad event is
 * dropped rather than allowed to break the page; the safety refetch repairs what it missed).
 */
export function parseEvent(
  name: EventName,
  text: string,
  stream: StreamSpec,
  at: number,
  openedAt: number,
): LiveEvent | null {
  if (name === 'resync') return { kind: 'resync', stream, at };
  if (name === 'hello') return { kind: 'hello', stream, openedAt, at };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(data) || typeof data.flow_id !== 'string' || typeof data.run_id !== 'string') {
    return null;
  }
  switch (name) {
    case 'run_created':
    case 'run_status':
    case 'run_tags':
      return typeof data.status === 'string' ? { kind: name, data: data as Run, at } : null;
    case 'step_status':
      return typeof data.step_name === 'string' && isObject(data.task_counts)
        ? { kind: name, data: data as unknown as StepEvent, at }
        : null;
    case 'task_created':
    case 'task_status':
      return typeof data.step_name === 'string' && typeof data.task_id === 'string'
        ? { kind: name, data: data as unknown as Task, at }
        : null;
    case 'attempt_status':
      return typeof data.task_id === 'string' && typeof data.attempt === 'number'
        ? { kind: name, data: data as unknown as AttemptEvent, at }
        : null;
    case 'log':
      return typeof data.task_id === 'string' && Array.isArray(data.lines)
        ? { kind: name, data: data as unknown as LogEvent, at }
        : null;
  }
}

/** The stream of every run's run-level events (runs and flows pages). */
export const ALL_RUNS: StreamSpec = { kind: 'all' };

/** A stable name for a stream, for sharing one connection between its listeners. */
export function streamKey(spec: StreamSpec): string {
  switch (spec.kind) {
    case 'all':
      return 'all';
    case 'run':
      return JSON.stringify(['run', spec.flow, spec.run]);
    case 'task':
      return JSON.stringify(['task', spec.flow, spec.run, spec.step, spec.task]);
  }
}

export function streamParams(spec: StreamSpec): Params {
  switch (spec.kind) {
    case 'all':
      return {};
    case 'run':
      return { flow_id: spec.flow, run_id: spec.run };
    case 'task':
      return { flow_id: spec.flow, run_id: spec.run, step_name: spec.step, task_id: spec.task };
  }
}

/**
 * The query-key prefixes whose data a stream keeps current: what to refetch when the
 * stream says it lost track (`resync`). The global stream carries run-level events only,
 * but those also reach every run's header, hence `['run']`.
 */
export function streamScope(spec: StreamSpec): QueryKey[] {
  switch (spec.kind) {
    case 'all':
      return [['runs'], ['flows'], ['run']];
    case 'run':
      return [['runs'], ['run', spec.flow, spec.run], ['task', spec.flow, spec.run]];
    case 'task':
      return [
        ['runs'],
        ['run', spec.flow, spec.run, 'detail'],
        ['run', spec.flow, spec.run, 'steps'],
        ['task', spec.flow, spec.run, spec.step, spec.task],
      ];
  }
}

/**
 * The query-key prefixes a stream is the main source for: on its first connection, what
 * was cached before it opened may have missed events and is read again. (Runs lists are
 * the global stream's: a run page's stream opening says nothing new about them.)
 */
export function streamOwns(spec: StreamSpec): QueryKey[] {
  switch (spec.kind) {
    case 'all':
      return [['runs'], ['flows']];
    case 'run':
      return [
        ['run', spec.flow, spec.run],
        ['task', spec.flow, spec.run],
      ];
    case 'task':
      return [['task', spec.flow, spec.run, spec.step, spec.task]];
  }
}
