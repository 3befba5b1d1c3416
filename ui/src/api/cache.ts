// In-place cache updates: how live changes (issue 4's Server-Sent Events) will reach the
// screen without refetching lists or losing scroll position. Each helper returns the old
// object untouched when nothing matched, so React skips the re-render.
import type { InfiniteData, QueryClient } from '@tanstack/react-query';
import { keys } from './keys';
import type { Page, Run, RunDetail, Task } from './models';

type RunKey = Pick<Run, 'flow_id' | 'run_id'>;
type TaskKey = Pick<Task, 'step_name' | 'task_id'>;

function patchPages<T>(
  data: InfiniteData<Page<T>, unknown>,
  match: (item: T) => boolean,
  patch: (item: T) => T,
): InfiniteData<Page<T>, unknown> {
  let changed = false;
  const pages = data.pages.map((page) => {
    const i = page.items.findIndex(match);
    const found = page.items[i];
    if (i < 0 || found === undefined) return page;
    changed = true;
    const items = page.items.slice();
    items[i] = patch(found);
    return { ...page, items };
  });
  return changed ? { ...data, pages } : data;
}

export function patchRunInPages(
  data: InfiniteData<Page<Run>, unknown>,
  update: RunKey & Partial<Run>,
): InfiniteData<Page<Run>, unknown> {
  return patchPages(
    data,
    (r) => r.flow_id === update.flow_id && r.run_id === update.run_id,
    (r) => ({ ...r, ...update }),
  );
}

export function patchTaskInPages(
  data: InfiniteData<Page<Task>, unknown>,
  update: TaskKey & Partial<Task>,
): InfiniteData<Page<Task>, unknown> {
  return patchPages(
    data,
    (t) => t.step_name === update.step_name && t.task_id === update.task_id,
    (t) => ({ ...t, ...update }),
  );
}

function isPage<T>(v: unknown): v is Page<T> {
  return typeof v === 'object' && v !== null && Array.isArray((v as { items?: unknown }).items);
}

function isInfinite<T>(v: unknown): v is InfiniteData<Page<T>, unknown> {
  return typeof v === 'object' && v !== null && Array.isArray((v as { pages?: unknown }).pages);
}

/** A run changed (status, times, tags): update every runs list and its detail in place. */
export function applyRunUpdate(qc: QueryClient, update: RunKey & Partial<Run>) {
  qc.setQueriesData({ queryKey: keys.runsAll() }, (old: unknown) => {
    if (isInfinite<Run>(old)) return patchRunInPages(old, update);
    // A plain page: the recent runs of one flow on the flows page.
    if (isPage<Run>(old)) {
      const patched = patchRunInPages({ pages: [old], pageParams: [null] }, update).pages[0];
      return patched ?? old;
    }
    return old;
  });
  qc.setQueryData<RunDetail>(keys.runDetail(update.flow_id, update.run_id), (old) =>
    old ? { ...old, ...update } : old,
  );
}

/** A task changed: update the run's task tables in place and refresh what summarises it. */
export function applyTaskUpdate(qc: QueryClient, run: RunKey, update: TaskKey & Partial<Task>) {
  qc.setQueriesData(
    { queryKey: [...keys.run(run.flow_id, run.run_id), 'tasks'] },
    (old: unknown) => (isInfinite<Task>(old) ? patchTaskInPages(old, update) : old),
  );
  // Step counts and the timeline are aggregates: refetch them (batched by the caller).
  void qc.invalidateQueries({ queryKey: keys.steps(run.flow_id, run.run_id) });
  void qc.invalidateQueries({ queryKey: keys.timeline(run.flow_id, run.run_id) });
}
