import {
  infiniteQueryOptions,
  keepPreviousData,
  type QueryClient,
  queryOptions,
  useInfiniteQuery,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { useCallback } from 'react';
import { decodeOverview, type TimelineData } from '../timeline/overview';
import { keepDetail } from './cacheTimeline';
import { api, type LogStream, type TaskRef } from './client';
import { keys } from './keys';
import type { RunDetail, RunsQuery, TaskDetail, TasksQuery } from './models';

// Live changes arrive over the event stream (useLive.tsx) and are written into these
// queries in place. Things still running are also refetched now and then, as a safety net
// for anything a stream missed.
const SAFETY_REFETCH_MS = 60_000;

export const RUNS_PAGE = 100;
export const TASKS_PAGE = 500;
export const LOG_PAGE = 1000;

export function useHealth() {
  return useQuery({
    queryKey: keys.health(),
    queryFn: ({ signal }) => api.health(signal),
    refetchInterval: 15000,
    retry: false,
  });
}

export function useFlows(enabled = true) {
  return useQuery({
    queryKey: keys.flows(),
    enabled,
    queryFn: async ({ signal }) => {
      // Flows are few; follow the cursor to get them all.
      const items = [];
      let cursor: string | null = null;
      do {
        const page = await api.flows({ cursor, limit: 500 }, signal);
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return items;
    },
  });
}

function runsListQuery(params: RunsQuery) {
  return infiniteQueryOptions({
    queryKey: keys.runs(params),
    queryFn: ({ pageParam, signal }) =>
      api.runs({ ...params, cursor: pageParam, limit: RUNS_PAGE }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function useRunsInfinite(params: RunsQuery) {
  return useInfiniteQuery({
    ...runsListQuery(params),
    placeholderData: keepPreviousData,
    // Refetching re-reads every loaded page: only a short list gets the safety refetch.
    refetchInterval: (q) => ((q.state.data?.pages.length ?? 0) <= 2 ? SAFETY_REFETCH_MS : false),
  });
}

/** A handful of runs (e.g. the last runs of one flow), not paged. */
export function useRunsSample(params: RunsQuery, limit: number, enabled = true) {
  return useQuery({
    queryKey: keys.runs({ ...params, limit }),
    queryFn: ({ signal }) => api.runs({ ...params, limit }, signal),
    enabled,
    staleTime: 30000,
  });
}

function runIsLive(run: RunDetail | undefined): boolean {
  return run?.status === 'running';
}

function runQuery(flow: string, run: string) {
  return queryOptions({
    queryKey: keys.runDetail(flow, run),
    queryFn: ({ signal }) => api.run(flow, run, signal),
  });
}

export function useRun(flow: string, run: string) {
  return useQuery({
    ...runQuery(flow, run),
    refetchInterval: (q) => (runIsLive(q.state.data) ? SAFETY_REFETCH_MS : false),
  });
}

/** The tasks `resume` cloned, for a resumed run only (its tasks are read one by one). */
export function useClones(flow: string, run: string, resumed: boolean) {
  return useQuery({
    queryKey: keys.clones(flow, run),
    queryFn: ({ signal }) => api.clones(flow, run, signal),
    enabled: resumed,
    staleTime: Number.POSITIVE_INFINITY,
  });
}

function dagQuery(flow: string, run: string) {
  return queryOptions({
    queryKey: keys.dag(flow, run),
    queryFn: ({ signal }) => api.dag(flow, run, signal),
    staleTime: Number.POSITIVE_INFINITY,
  });
}

export function useDag(flow: string, run: string) {
  return useQuery(dagQuery(flow, run));
}

function stepsQuery(flow: string, run: string) {
  return queryOptions({
    queryKey: keys.steps(flow, run),
    queryFn: ({ signal }) => api.steps(flow, run, signal),
  });
}

export function useSteps(flow: string, run: string, live: boolean) {
  return useQuery({
    ...stepsQuery(flow, run),
    refetchInterval: live ? SAFETY_REFETCH_MS : false,
  });
}

/**
 * The timeline's overview, keeping the detail already loaded for tasks that did not
 * change (a refetch must not blank the rows on screen).
 */
function timelineQuery(qc: QueryClient, flow: string, run: string) {
  const key = keys.timeline(flow, run);
  return {
    queryKey: key,
    queryFn: async ({ signal }: { signal: AbortSignal }): Promise<TimelineData> => {
      const overview = decodeOverview(await api.timelineOverview(flow, run, signal));
      const old = qc.getQueryData<TimelineData>(key);
      return { overview, detail: old ? keepDetail(overview, old.detail) : new Map() };
    },
  };
}

/** Starts loading a run's timeline before its tab is opened, so switching is instant. */
export function usePrefetchTimeline() {
  const qc = useQueryClient();
  return useCallback(
    (flow: string, run: string) => void qc.prefetchQuery(timelineQuery(qc, flow, run)),
    [qc],
  );
}

export function useTimeline(flow: string, run: string, live: boolean) {
  const qc = useQueryClient();
  return useQuery({
    ...timelineQuery(qc, flow, run),
    refetchInterval: live ? SAFETY_REFETCH_MS : false,
  });
}

/**
 * Tasks of a run, page by page along the cursor. `nextLimit` sizes the next page: a user
 * who scrolls far ahead of what is loaded gets bigger pages (up to 2,000; more would take
 * longer than a frame to parse), so a 100,000-task run catches up in fewer requests.
 */
export function useTasksInfinite(
  flow: string,
  run: string,
  params: TasksQuery,
  nextLimit?: () => number,
) {
  return useInfiniteQuery({
    queryKey: keys.tasks(flow, run, params),
    queryFn: ({ pageParam, signal }) =>
      api.tasks(flow, run, { ...params, cursor: pageParam.cursor, limit: pageParam.limit }, signal),
    initialPageParam: { cursor: null as string | null, limit: TASKS_PAGE },
    getNextPageParam: (last) =>
      last.next_cursor
        ? {
            cursor: last.next_cursor,
            limit: Math.min(2000, Math.max(TASKS_PAGE, nextLimit?.() ?? 0)),
          }
        : undefined,
    placeholderData: keepPreviousData,
  });
}

function taskIsLive(task: TaskDetail | undefined): boolean {
  return task?.status === 'running' || task?.status === 'pending';
}

function taskQuery(t: TaskRef | null) {
  return queryOptions({
    queryKey: t ? keys.taskDetail(t) : ['task', 'none'],
    queryFn: ({ signal }) => {
      if (!t) throw new Error('no task');
      return api.task(t, signal);
    },
    enabled: t !== null,
  });
}

export function useTask(t: TaskRef | null) {
  return useQuery({
    ...taskQuery(t),
    refetchInterval: (q) => (taskIsLive(q.state.data) ? SAFETY_REFETCH_MS : false),
  });
}

export function useArtifacts(t: TaskRef, attempt: number, includePrivate: boolean) {
  return useQuery({
    queryKey: keys.artifacts(t, attempt, includePrivate),
    queryFn: ({ signal }) => api.artifacts(t, attempt, includePrivate, signal),
  });
}

export function useArtifact(t: TaskRef, attempt: number, name: string | null) {
  return useQuery({
    queryKey: keys.artifact(t, attempt, name ?? ''),
    queryFn: ({ signal }) => api.artifact(t, name ?? '', attempt, signal),
    enabled: name !== null,
    staleTime: Number.POSITIVE_INFINITY,
  });
}

export function useCards(t: TaskRef) {
  return useQuery({
    queryKey: keys.cards(t),
    queryFn: ({ signal }) => api.cards(t, signal),
  });
}

/** A card's runtime data, polled twice a second while its task runs (cards have no
 * change events of their own). */
export function useCardData(t: TaskRef, cardId: string, live: boolean, enabled: boolean) {
  return useQuery({
    queryKey: keys.cardData(t, cardId),
    queryFn: ({ signal }) => api.cardData(t, cardId, signal),
    enabled,
    refetchInterval: live ? CARD_POLL_MS : false,
    staleTime: 0,
  });
}
const CARD_POLL_MS = 500;

/** The last page of a log: tells the total line count; new lines arrive as `log` events. */
export function useLogTail(t: TaskRef, stream: LogStream, attempt: number, live: boolean) {
  return useQuery({
    queryKey: keys.logPage(t, stream, attempt, 'tail'),
    queryFn: ({ signal }) => api.logs(t, stream, { attempt, limit: LOG_PAGE }, signal),
    refetchInterval: live ? SAFETY_REFETCH_MS : false,
    placeholderData: keepPreviousData,
  });
}

export function useLogSearch(t: TaskRef, stream: LogStream, attempt: number, q: string) {
  return useQuery({
    queryKey: keys.logSearch(t, stream, attempt, q),
    queryFn: ({ signal }) => api.logSearch(t, stream, { attempt, q, limit: 5000 }, signal),
    enabled: q.length > 0,
    staleTime: 10000,
  });
}

// A page's first requests, started by its route's loader (main.tsx): as soon as the router
// knows where it is going, in parallel with loading the page's code, instead of after that
// code has loaded and rendered. The page's own queries then find them under way or done.

export function prefetchRunsPage(qc: QueryClient, params: RunsQuery): void {
  void qc.prefetchInfiniteQuery(runsListQuery(params));
}

/** What the run page needs before it can draw its DAG: the run, its graph, its steps. */
export function prefetchRunPage(qc: QueryClient, flow: string, run: string): void {
  void qc.prefetchQuery(runQuery(flow, run));
  void qc.prefetchQuery(dagQuery(flow, run));
  void qc.prefetchQuery(stepsQuery(flow, run));
}

export function prefetchTaskPage(qc: QueryClient, t: TaskRef): void {
  void qc.prefetchQuery(taskQuery(t));
}
