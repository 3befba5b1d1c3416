// Every request the app makes goes through this module.
import { basePath } from './base';
import type {
  ArtifactDetail,
  ArtifactSummary,
  Card,
  CardData,
  ClonePage,
  Dag,
  FlowSummary,
  FlowsQuery,
  Health,
  LogPage,
  LogQuery,
  LogSearch,
  LogSearchQuery,
  Page,
  Run,
  RunDetail,
  RunsQuery,
  StepSummary,
  Task,
  TaskDetail,
  TasksQuery,
  Timeline,
  TimelineDetail,
} from './models';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly url: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type ParamValue = string | number | boolean | null | undefined | readonly string[];
export type Params = Record<string, ParamValue>;

export function buildQuery(params: Params): string {
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) {
      for (const v of value) qs.append(key, v);
    } else {
      qs.append(key, String(value));
    }
  }
  const s = qs.toString();
  return s ? `?${s}` : '';
}

export function apiUrl(path: string, params: Params = {}, base: string = basePath): string {
  return `${base}api/v1${path}${buildQuery(params)}`;
}

type Place = Pick<Location, 'pathname' | 'search' | 'hash'>;

/** The server's login page, which comes back to `here` once signed in (its `next`). */
export function loginUrl(here: Place, base: string = basePath): string {
  return `${base}login?next=${encodeURIComponent(here.pathname + here.search + here.hash)}`;
}

// A server started with --auth-token answers 401 once the browser's session has expired or
// the token has changed (a restart with a new one): nothing works again until the user
// signs in, so the page goes to sign in instead of showing the refusal in every panel.
function signInAgain() {
  if (typeof window === 'undefined') return;
  window.location.assign(loginUrl(window.location));
}

async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const response = await get(path, params, 'application/json', signal);
  return (await response.json()) as T;
}

async function get(
  path: string,
  params: Params,
  accept: string,
  signal?: AbortSignal,
): Promise<Response> {
  const url = apiUrl(path, params);
  let response: Response;
  try {
    response = await fetch(url, { signal, headers: { Accept: accept } });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(
      0,
      'The flowscope server cannot be reached. Is `flowscope serve` running?',
      url,
    );
  }
  if (!response.ok) {
    if (response.status === 401) signInAgain();
    let message = `${response.status} ${response.statusText}`;
    try {
      const body: unknown = await response.json();
      if (body && typeof body === 'object') {
        const error = (body as { error?: unknown; detail?: unknown }).error;
        const detail = (body as { detail?: unknown }).detail;
        if (typeof error === 'string') message = error;
        else if (typeof detail === 'string') message = detail;
      }
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message, url);
  }
  return response;
}

const seg = encodeURIComponent;
const runPath = (flow: string, run: string) => `/flows/${seg(flow)}/runs/${seg(run)}`;
const taskPath = (flow: string, run: string, step: string, task: string) =>
  `${runPath(flow, run)}/steps/${seg(step)}/tasks/${seg(task)}`;

export interface TaskRef {
  flow: string;
  run: string;
  step: string;
  task: string;
}

export type LogStream = 'stdout' | 'stderr';

export const api = {
  health: (signal?: AbortSignal) => getJson<Health>('/health', {}, signal),
  flows: (params: FlowsQuery, signal?: AbortSignal) =>
    getJson<Page<FlowSummary>>('/flows', params, signal),
  runs: (params: RunsQuery, signal?: AbortSignal) => getJson<Page<Run>>('/runs', params, signal),
  run: (flow: string, run: string, signal?: AbortSignal) =>
    getJson<RunDetail>(runPath(flow, run), {}, signal),
  clones: (flow: string, run: string, signal?: AbortSignal) =>
    getJson<ClonePage>(`${runPath(flow, run)}/clones`, {}, signal),
  dag: (flow: string, run: string, signal?: AbortSignal) =>
    getJson<Dag>(`${runPath(flow, run)}/dag`, {}, signal),
  steps: (flow: string, run: string, signal?: AbortSignal) =>
    getJson<Page<StepSummary>>(`${runPath(flow, run)}/steps`, {}, signal),
  tasks: (flow: string, run: string, params: TasksQuery, signal?: AbortSignal) =>
    getJson<Page<Task>>(`${runPath(flow, run)}/tasks`, params, signal),
  timeline: (flow: string, run: string, signal?: AbortSignal) =>
    getJson<Timeline>(`${runPath(flow, run)}/timeline`, {}, signal),
  /** The packed per-task overview (timeline/overview.ts reads it). */
  timelineOverview: async (flow: string, run: string, signal?: AbortSignal) =>
    (
      await get(
        `${runPath(flow, run)}/timeline/overview`,
        {},
        'application/vnd.flowscope.timeline-overview',
        signal,
      )
    ).arrayBuffer(),
  /** Attempts and labels of tasks: `step/task_id` or `step/low-high` (numeric ids). */
  timelineDetail: (flow: string, run: string, tasks: readonly string[], signal?: AbortSignal) =>
    getJson<TimelineDetail>(`${runPath(flow, run)}/timeline/detail`, { task: tasks }, signal),
  task: (t: TaskRef, signal?: AbortSignal) =>
    getJson<TaskDetail>(taskPath(t.flow, t.run, t.step, t.task), {}, signal),
  artifacts: (t: TaskRef, attempt: number, includePrivate: boolean, signal?: AbortSignal) =>
    getJson<Page<ArtifactSummary>>(
      `${taskPath(t.flow, t.run, t.step, t.task)}/artifacts`,
      { attempt, include_private: includePrivate },
      signal,
    ),
  artifact: (t: TaskRef, name: string, attempt: number, signal?: AbortSignal) =>
    getJson<ArtifactDetail>(
      `${taskPath(t.flow, t.run, t.step, t.task)}/artifacts/${seg(name)}`,
      { attempt },
      signal,
    ),
  logs: (t: TaskRef, stream: LogStream, params: LogQuery, signal?: AbortSignal) =>
    getJson<LogPage>(`${taskPath(t.flow, t.run, t.step, t.task)}/logs/${stream}`, params, signal),
  logSearch: (t: TaskRef, stream: LogStream, params: LogSearchQuery, signal?: AbortSignal) =>
    getJson<LogSearch>(
      `${taskPath(t.flow, t.run, t.step, t.task)}/logs/${stream}/search`,
      params,
      signal,
    ),
  logDownloadUrl: (t: TaskRef, stream: LogStream, attempt: number) =>
    apiUrl(`${taskPath(t.flow, t.run, t.step, t.task)}/logs/${stream}/download`, { attempt }),
  cards: (t: TaskRef, signal?: AbortSignal) =>
    getJson<Page<Card>>(`${taskPath(t.flow, t.run, t.step, t.task)}/cards`, {}, signal),
  /** A refreshing card's newest data; null when the card has none (it never refreshed). */
  cardData: async (t: TaskRef, cardId: string, signal?: AbortSignal) => {
    try {
      return await getJson<CardData>(
        `${taskPath(t.flow, t.run, t.step, t.task)}/cards/${seg(cardId)}/data`,
        {},
        signal,
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  },
};

/** A card URL from the server, resolved against the app's base (it may be relative). */
export function resolveServerUrl(url: string, base: string = basePath): string {
  if (/^[a-z]+:\/\//i.test(url) || url.startsWith('/')) return url;
  return `${base}${url}`;
}
