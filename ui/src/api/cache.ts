// In-place cache updates: how live changes (issue 4's Server-Sent Events) reach the screen
// without refetching lists or losing scroll position. Each function here is pure: it takes
// cached data and a batch of changes and returns new data, or the very same object when
// nothing changed, so React skips the re-render. liveCache.ts applies them to the
// QueryClient. A batch of thousands of changes costs one pass over a list, not one per change.
import type { InfiniteData } from '@tanstack/react-query';
import type { AttemptEvent, StepEvent } from './events';
import type {
  FlowSummary,
  LogLine,
  LogPage,
  Page,
  Run,
  RunDetail,
  RunOrder,
  StepSummary,
  Task,
  TaskDetail,
  TaskOrder,
} from './models';

export type Pages<T> = InfiniteData<Page<T>, unknown>;

export interface UpsertRule<T> {
  key: (item: T) => string;
  /** Whether a new item belongs in this list (its filters); known items are always updated. */
  matches: (item: T) => boolean;
  /** The list's order, or null when new items are never inserted. */
  compare: ((a: T, b: T) => number) | null;
  /** When a new item and a listed one compare equal, whether the new one goes first. */
  tieFirst: (item: T) => boolean;
  /**
   * More pages exist after the loaded ones: an item that sorts after every loaded item is
   * left for the page that will bring it.
   */
  hasMore: boolean;
}

/**
 * Updates items in place (merging each change into the listed item, so rows keep their
 * position) and inserts new matching items where the list's order puts them.
 */
export function upsertPages<T extends object>(
  pages: readonly Page<T>[],
  changes: readonly T[],
  rule: UpsertRule<T>,
): readonly Page<T>[] {
  if (!changes.length) return pages;
  const where = new Map<string, [number, number]>();
  pages.forEach((p, pi) => {
    p.items.forEach((item, ii) => {
      where.set(rule.key(item), [pi, ii]);
    });
  });
  let out: Page<T>[] | null = null;
  const copied = new Set<number>();
  const writable = (pi: number): T[] => {
    out ??= pages.slice();
    const page = out[pi] as Page<T>;
    if (!copied.has(pi)) {
      copied.add(pi);
      out[pi] = { ...page, items: page.items.slice() };
    }
    return (out[pi] as Page<T>).items;
  };
  const fresh = new Map<string, T>();
  for (const change of changes) {
    const k = rule.key(change);
    const at = where.get(k);
    if (at) {
      const items = writable(at[0]);
      items[at[1]] = { ...(items[at[1]] as T), ...change };
      continue;
    }
    const earlier = fresh.get(k);
    if (earlier) fresh.set(k, { ...earlier, ...change });
    else if (rule.matches(change)) fresh.set(k, change);
  }
  const compare = rule.compare;
  if (fresh.size && compare && pages.length) {
    const current: readonly Page<T>[] = out ?? pages;
    const flat: T[] = [];
    const pageStart: number[] = [];
    for (const p of current) {
      pageStart.push(flat.length);
      for (const item of p.items) flat.push(item);
    }
    const sorted = [...fresh.values()].sort(compare);
    // Flat position -> page and offset: before the item now at that position, or at the
    // end of the last page.
    const placed: [number, number, T][] = [];
    for (const item of sorted) {
      let lo = 0;
      let hi = flat.length;
      const first = rule.tieFirst(item);
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const c = compare(item, flat[mid] as T);
        if (c < 0 || (c === 0 && first)) hi = mid;
        else lo = mid + 1;
      }
      if (lo === flat.length && rule.hasMore) continue;
      let pi = current.length - 1;
      while (pi > 0 && (pageStart[pi] ?? 0) > lo) pi--;
      placed.push([pi, lo - (pageStart[pi] ?? 0), item]);
    }
    // Splice from the back so earlier offsets stay valid; equal offsets keep sorted order.
    for (let i = placed.length - 1; i >= 0; i--) {
      const [pi, offset, item] = placed[i] as [number, number, T];
      writable(pi).splice(offset, 0, item);
    }
  }
  return out ?? pages;
}

// --- runs ---------------------------------------------------------------------------

const runKey = (r: Pick<Run, 'flow_id' | 'run_id'>) => `${r.flow_id}\u0000${r.run_id}`;

/** Nulls last in both directions, as the server's keyset pages sort them. */
function compareNullable(a: number | null, b: number | null, descending: boolean): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  return descending ? b - a : a - b;
}

const RUN_FIELD: Record<RunOrder, 'started_at' | 'finished_at' | 'duration_ms'> = {
  '-started_at': 'started_at',
  started_at: 'started_at',
  '-finished_at': 'finished_at',
  finished_at: 'finished_at',
  '-duration_ms': 'duration_ms',
  duration_ms: 'duration_ms',
};

function runOrderOf(params: Record<string, unknown>): RunOrder {
  const o = params.order;
  return typeof o === 'string' && o in RUN_FIELD ? (o as RunOrder) : '-started_at';
}

/** Whether a run passes a runs list's filters (the API's `/runs` parameters). */
export function runMatches(params: Record<string, unknown>, run: Run): boolean {
  const eq = (k: 'flow_id' | 'user' | 'status' | 'project' | 'branch') => {
    const want = params[k];
    return want === undefined || want === null || want === '' || run[k] === want;
  };
  if (!eq('flow_id') || !eq('user') || !eq('status') || !eq('project') || !eq('branch')) {
    return false;
  }
  const tags = params.tag;
  if (Array.isArray(tags) && tags.length) {
    const all = new Set([...run.tags, ...run.system_tags]);
    if (!tags.every((t) => all.has(t))) return false;
  }
  const after = params.started_after;
  if (typeof after === 'number' && (run.started_at === null || run.started_at < after)) {
    return false;
  }
  const before = params.started_before;
  if (typeof before === 'number' && (run.started_at === null || run.started_at >= before)) {
    return false;
  }
  const q = params.q;
  if (typeof q === 'string' && q) {
    // SQL LIKE in SQLite (the default store) ignores ASCII case.
    const needle = q.toLowerCase();
    if (!run.run_id.toLowerCase().includes(needle) && !run.flow_id.toLowerCase().includes(needle)) {
      return false;
    }
  }
  return true;
}

function runRule(params: Record<string, unknown>, hasMore: boolean): UpsertRule<Run> {
  const order = runOrderOf(params);
  const field = RUN_FIELD[order];
  const descending = order.startsWith('-');
  return {
    key: runKey,
    matches: (r) => runMatches(params, r),
    compare: (a, b) => compareNullable(a[field], b[field], descending),
    // Ties go by primary key, newest first when descending; nulls always oldest first.
    tieFirst: (r) => descending && r[field] !== null,
    hasMore,
  };
}

/** A paged runs list (the runs page): runs updated in place, new ones inserted in order. */
export function applyRunsToPages(
  data: Pages<Run>,
  params: Record<string, unknown>,
  runs: readonly Run[],
): Pages<Run> {
  const last = data.pages.at(-1);
  const pages = upsertPages(data.pages, runs, runRule(params, Boolean(last?.next_cursor)));
  return pages === data.pages ? data : { ...data, pages: pages as Page<Run>[] };
}

/** A short list of runs (a flow's last runs): at most `limit` of them. */
export function applyRunsToPage(
  page: Page<Run>,
  params: Record<string, unknown>,
  runs: readonly Run[],
): Page<Run> {
  const limit = typeof params.limit === 'number' ? params.limit : Number.POSITIVE_INFINITY;
  const full = page.next_cursor !== null || page.items.length >= limit;
  const [next] = upsertPages([page], runs, runRule(params, full));
  if (!next || next === page) return page;
  return next.items.length > limit ? { ...next, items: next.items.slice(0, limit) } : next;
}

/** A run's header: the latest of its run events (the detail's own fields stay). */
export function applyRunsToDetail(detail: RunDetail, runs: readonly Run[]): RunDetail {
  const last = runs.at(-1);
  return last ? { ...detail, ...last } : detail;
}

const RECENT_RUNS = 20;

/** The flows list: each flow's last run, run count, recent runs and users. */
export function applyRunsToFlows(
  flows: readonly FlowSummary[],
  changes: readonly { run: Run; created: boolean }[],
): readonly FlowSummary[] {
  if (!changes.length) return flows;
  const out = flows.slice();
  let changed = false;
  const at = new Map(out.map((f, i) => [f.flow_id, i] as const));
  for (const { run, created } of changes) {
    const recentItem = {
      run_id: run.run_id,
      status: run.status,
      status_reason: run.status_reason,
      started_at: run.started_at,
      duration_ms: run.duration_ms,
    };
    const i = at.get(run.flow_id);
    const flow = i === undefined ? undefined : out[i];
    if (!flow) {
      if (!created) continue;
      changed = true;
      at.set(run.flow_id, out.length);
      out.push({
        flow_id: run.flow_id,
        run_count: 1,
        last_run: run,
        recent: [recentItem],
        users: run.user ? [run.user] : [],
      });
      continue;
    }
    const inRecent = flow.recent.findIndex((r) => r.run_id === run.run_id);
    if (inRecent < 0 && !created && flow.last_run?.run_id !== run.run_id) continue;
    changed = true;
    let recent = flow.recent;
    let runCount = flow.run_count;
    if (inRecent >= 0) {
      recent = recent.slice();
      recent[inRecent] = recentItem;
    } else if (created) {
      // A replayed creation finds the run among the recent ones: counted once.
      recent = [recentItem, ...recent].slice(0, RECENT_RUNS);
      runCount += 1;
    }
    const newer =
      flow.last_run === null ||
      flow.last_run.run_id === run.run_id ||
      (created && (run.started_at ?? 0) >= (flow.last_run.started_at ?? 0));
    const users =
      run.user && !flow.users.includes(run.user) ? [...flow.users, run.user] : flow.users;
    out[i as number] = {
      ...flow,
      run_count: runCount,
      recent,
      users,
      last_run: newer ? run : flow.last_run,
    };
  }
  return changed ? out : flows;
}

// --- steps and tasks ------------------------------------------------------------------

/** A run's steps (DAG counts and colours): each `step_status` replaces its step. */
export function applyStepsToPage(
  page: Page<StepSummary>,
  steps: readonly StepEvent[],
): Page<StepSummary> {
  if (!steps.length) return page;
  const items = page.items.slice();
  const at = new Map(items.map((s, i) => [s.step_name, i] as const));
  for (const { flow_id: _f, run_id: _r, ...step } of steps) {
    const i = at.get(step.step_name);
    if (i === undefined) {
      at.set(step.step_name, items.length);
      items.push(step);
    } else {
      items[i] = step;
    }
  }
  return { ...page, items };
}

/** Tasks in the server's task-id order: numeric ids as numbers, any other id after them. */
export function taskSortKey(taskId: string): number {
  return /^\d+$/.test(taskId) && taskId.length < 18 ? Number(taskId) : 1e18;
}

const TASK_FIELD: Record<TaskOrder, 'task_id' | 'started_at' | 'finished_at' | 'duration_ms'> = {
  task_id: 'task_id',
  '-task_id': 'task_id',
  started_at: 'started_at',
  '-started_at': 'started_at',
  finished_at: 'finished_at',
  '-finished_at': 'finished_at',
  duration_ms: 'duration_ms',
  '-duration_ms': 'duration_ms',
};

function taskValue(t: Task, field: (typeof TASK_FIELD)[TaskOrder]): number | null {
  return field === 'task_id' ? taskSortKey(t.task_id) : t[field];
}

/** A run's task table for one filter and order: tasks updated in place, new ones inserted. */
export function applyTasksToPages(
  data: Pages<Task>,
  params: Record<string, unknown>,
  tasks: readonly Task[],
): Pages<Task> {
  const o = params.order;
  const order: TaskOrder = typeof o === 'string' && o in TASK_FIELD ? (o as TaskOrder) : 'task_id';
  const field = TASK_FIELD[order];
  const descending = order.startsWith('-');
  const step = params.step_name;
  const status = params.status;
  const last = data.pages.at(-1);
  const pages = upsertPages(data.pages, tasks, {
    key: (t) => `${t.step_name}\u0000${t.task_id}`,
    matches: (t) =>
      (typeof step !== 'string' || !step || t.step_name === step) &&
      (typeof status !== 'string' || !status || t.status === status),
    compare: (a, b) => compareNullable(taskValue(a, field), taskValue(b, field), descending),
    tieFirst: (t) => descending && taskValue(t, field) !== null,
    hasMore: Boolean(last?.next_cursor),
  });
  return pages === data.pages ? data : { ...data, pages: pages as Page<Task>[] };
}

const TASK_FIELDS = [
  'status',
  'status_reason',
  'caught',
  'attempt',
  'started_at',
  'finished_at',
  'duration_ms',
  'foreach_label',
] as const;

/** A task's page: its status, times and attempts. */
export function applyToTaskDetail(
  detail: TaskDetail,
  changes: readonly ({ kind: 'task'; data: Task } | { kind: 'attempt'; data: AttemptEvent })[],
): TaskDetail {
  if (!changes.length) return detail;
  let next: TaskDetail = detail;
  for (const change of changes) {
    if (change.kind === 'task') {
      const patch: Partial<TaskDetail> = {};
      for (const f of TASK_FIELDS) (patch as Record<string, unknown>)[f] = change.data[f];
      next = { ...next, ...patch };
      continue;
    }
    const { attempt, status, status_reason, started_at, finished_at } = change.data;
    const item = { attempt, status, status_reason, started_at, finished_at };
    const attempts = next.attempts.filter((a) => a.attempt !== attempt);
    attempts.push(item);
    attempts.sort((a, b) => a.attempt - b.attempt);
    next = { ...next, attempts, attempt: Math.max(next.attempt, attempt) };
  }
  return next;
}

// --- logs -----------------------------------------------------------------------------

/**
 * The tail page of a log, with new lines appended (the last `pageSize` lines kept, as the
 * server's tail request returns them). 'gap' when lines are missing between what is
 * cached and what arrived: the tail must be fetched again.
 */
export function appendLogLines(
  tail: LogPage,
  lines: readonly LogLine[],
  pageSize: number,
): LogPage | 'gap' {
  const fresh = lines.filter((l) => l.n > tail.total).sort((a, b) => a.n - b.n);
  if (!fresh.length) return tail;
  let expect = tail.total + 1;
  const add: LogLine[] = [];
  for (const l of fresh) {
    if (l.n < expect) continue; // the same line twice
    if (l.n > expect) return 'gap';
    add.push(l);
    expect++;
  }
  const all = tail.items.concat(add);
  const items = all.length > pageSize ? all.slice(all.length - pageSize) : all;
  const total = expect - 1;
  const start = total - items.length;
  return {
    ...tail,
    items,
    total,
    start,
    next_cursor: start > 0 ? String(Math.max(0, start - pageSize)) : null,
  };
}
