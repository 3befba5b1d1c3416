// Live events into the TanStack Query cache: each batch is sorted by run, then every cached
// query the batch touches gets one update (through the pure functions of cache.ts and
// cacheTimeline.ts), all inside one notification batch so React renders once per batch.
//
// A response that was in flight while events arrived may predate some of them: when it
// lands, the events received since its request started are applied to it again (every
// update here is idempotent, and events are snapshots applied in order, so this converges).
import { notifyManager, type Query, type QueryClient, type QueryKey } from '@tanstack/react-query';
import type { TimelineData } from '../timeline/overview';
import {
  appendLogLines,
  applyRunsToDetail,
  applyRunsToFlows,
  applyRunsToPage,
  applyRunsToPages,
  applyStepsToPage,
  applyTasksToPages,
  applyToTaskDetail,
  type Pages,
} from './cache';
import { applyToTimeline, type TimelineChange } from './cacheTimeline';
import {
  type AttemptEvent,
  type DataEvent,
  type LiveEvent,
  streamOwns,
  streamScope,
} from './events';
import type {
  FlowSummary,
  LogPage,
  Page,
  Run,
  RunDetail,
  StepSummary,
  Task,
  TaskDetail,
} from './models';
import { LOG_PAGE } from './queries';

/** Events of one run, in the order they came. */
type RunEvents = DataEvent[];

interface Grouped {
  /** Run-level events of every run (runs lists, flows). */
  runs: Extract<DataEvent, { data: Run }>[];
  byRun: Map<string, RunEvents>;
}

const runName = (flow: unknown, run: unknown) => `${String(flow)}\u0000${String(run)}`;

function group(events: readonly LiveEvent[]): Grouped {
  const runs: Grouped['runs'] = [];
  const byRun = new Map<string, RunEvents>();
  for (const e of events) {
    if (e.kind === 'hello' || e.kind === 'resync') continue;
    if (e.kind === 'run_created' || e.kind === 'run_status' || e.kind === 'run_tags') runs.push(e);
    const name = runName(e.data.flow_id, e.data.run_id);
    let list = byRun.get(name);
    if (!list) {
      list = [];
      byRun.set(name, list);
    }
    list.push(e);
  }
  return { runs, byRun };
}

const isRunEvent = (e: DataEvent): e is Extract<DataEvent, { data: Run }> =>
  e.kind === 'run_created' || e.kind === 'run_status' || e.kind === 'run_tags';

type TaskChange = { kind: 'task'; data: Task } | { kind: 'attempt'; data: AttemptEvent };

function taskChanges(events: RunEvents, step: unknown, task: unknown): TaskChange[] {
  const out: TaskChange[] = [];
  for (const e of events) {
    if (e.kind !== 'task_created' && e.kind !== 'task_status' && e.kind !== 'attempt_status') {
      continue;
    }
    if (e.data.step_name !== step || e.data.task_id !== task) continue;
    out.push(
      e.kind === 'attempt_status'
        ? { kind: 'attempt', data: e.data }
        : { kind: 'task', data: e.data },
    );
  }
  return out;
}

function isInfinite(v: unknown): v is Pages<unknown> {
  return typeof v === 'object' && v !== null && Array.isArray((v as { pages?: unknown }).pages);
}

function isPage(v: unknown): v is Page<unknown> {
  return typeof v === 'object' && v !== null && Array.isArray((v as { items?: unknown }).items);
}

const asParams = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};

/**
 * The new data of one cached query after a batch, or the same object when the batch does
 * not touch it. Keys are those of keys.ts.
 */
export function reduceQuery(key: QueryKey, data: unknown, g: Grouped): unknown {
  if (data === undefined) return data;
  const [root, a, b, c, d, e, f, h, i] = key;
  if (root === 'runs' && a === 'list') {
    if (!g.runs.length) return data;
    const runs = g.runs.map((ev) => ev.data);
    if (isInfinite(data)) return applyRunsToPages(data as Pages<Run>, asParams(b), runs);
    if (isPage(data)) return applyRunsToPage(data as Page<Run>, asParams(b), runs);
    return data;
  }
  if (root === 'flows') {
    if (!g.runs.length || !Array.isArray(data)) return data;
    const changes = g.runs.map((ev) => ({ run: ev.data, created: ev.kind === 'run_created' }));
    return applyRunsToFlows(data as FlowSummary[], changes);
  }
  if (root === 'run') {
    const events = g.byRun.get(runName(a, b));
    if (!events) return data;
    if (c === 'detail') {
      return applyRunsToDetail(
        data as RunDetail,
        events.filter(isRunEvent).map((ev) => ev.data),
      );
    }
    if (c === 'steps' && isPage(data)) {
      const steps = [];
      for (const ev of events) if (ev.kind === 'step_status') steps.push(ev.data);
      return applyStepsToPage(data as Page<StepSummary>, steps);
    }
    if (c === 'tasks' && isInfinite(data)) {
      const tasks = [];
      for (const ev of events) {
        if (ev.kind === 'task_created' || ev.kind === 'task_status') tasks.push(ev.data);
      }
      return applyTasksToPages(data as Pages<Task>, asParams(d), tasks);
    }
    if (c === 'timeline') {
      const changes: TimelineChange[] = [];
      for (const ev of events) {
        if (ev.kind === 'step_status') changes.push({ kind: 'step', data: ev.data });
        else if (ev.kind === 'task_created' || ev.kind === 'task_status')
          changes.push({ kind: 'task', data: ev.data });
        else if (ev.kind === 'attempt_status') changes.push({ kind: 'attempt', data: ev.data });
      }
      return applyToTimeline(data as TimelineData, changes);
    }
    return data;
  }
  if (root === 'task') {
    const events = g.byRun.get(runName(a, b));
    if (!events) return data;
    if (e === 'detail') return applyToTaskDetail(data as TaskDetail, taskChanges(events, c, d));
    if (e === 'logs' && i === 'tail') {
      let tail = data as LogPage | 'gap';
      for (const ev of events) {
        if (tail === 'gap') break;
        if (ev.kind !== 'log') continue;
        const l = ev.data;
        if (l.step_name !== c || l.task_id !== d || l.stream !== f || l.attempt !== h) continue;
        tail = appendLogLines(tail, l.lines, LOG_PAGE);
      }
      return tail;
    }
  }
  return data;
}

const LIVE_ROOTS = new Set(['runs', 'flows', 'run', 'task']);

/** Keys whose data live events change (the rest, e.g. artifacts, are refetched instead). */
function isLiveKey(key: QueryKey): boolean {
  const [root, , , c, , e, , , i] = key;
  if (!LIVE_ROOTS.has(String(root))) return false;
  if (root === 'run') return c === 'detail' || c === 'steps' || c === 'tasks' || c === 'timeline';
  if (root === 'task') return e === 'detail' || (e === 'logs' && i === 'tail');
  return true;
}

const TERMINAL = new Set(['completed', 'failed']);
// How long, and how many, received events are kept to replay over in-flight responses.
const REPLAY_MS = 60_000;
const REPLAY_MAX = 20_000;

export class LiveCache {
  private recent: LiveEvent[] = [];
  private fetchStarted = new Map<string, number>();
  /** Batches applied (for tests and the perf check). */
  applies = 0;

  constructor(
    private readonly qc: QueryClient,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Follows the query cache to replay events over responses that were in flight. */
  attach(): () => void {
    return this.qc.getQueryCache().subscribe((event) => {
      if (event.type !== 'updated') return;
      const { query, action } = event;
      if (action.type === 'fetch') {
        if (isLiveKey(query.queryKey)) this.fetchStarted.set(query.queryHash, this.now());
      } else if (action.type === 'success' && !action.manual) {
        const started = this.fetchStarted.get(query.queryHash);
        this.fetchStarted.delete(query.queryHash);
        if (started === undefined) return;
        const missed = this.since(started);
        // Not inside the cache's own notification: apply right after it.
        if (missed.length) queueMicrotask(() => this.replay(query, missed));
      } else if (action.type === 'error') {
        this.fetchStarted.delete(query.queryHash);
      }
    });
  }

  private since(t: number): LiveEvent[] {
    let lo = 0;
    let hi = this.recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.recent[mid]?.at ?? 0) < t) lo = mid + 1;
      else hi = mid;
    }
    return this.recent.slice(lo);
  }

  private remember(events: readonly LiveEvent[]) {
    for (const e of events) this.recent.push(e);
    const cutoff = this.now() - REPLAY_MS;
    let drop = Math.max(0, this.recent.length - REPLAY_MAX);
    while (drop < this.recent.length && (this.recent[drop]?.at ?? 0) < cutoff) drop++;
    if (drop) this.recent = this.recent.slice(drop);
  }

  private replay(query: Query, events: readonly LiveEvent[]) {
    const data = query.state.data;
    const next = reduceQuery(query.queryKey, data, group(events));
    if (next === 'gap') void this.qc.invalidateQueries({ queryKey: query.queryKey, exact: true });
    else if (next !== data) this.qc.setQueryData(query.queryKey, next);
  }

  /** Applies one batch of events to every cached query they touch. */
  apply(events: readonly LiveEvent[]): void {
    if (!events.length) return;
    this.applies++;
    this.remember(events);
    const g = group(events);
    const exact: QueryKey[] = [];
    const scopes: QueryKey[] = [];
    notifyManager.batch(() => {
      const cache = this.qc.getQueryCache();
      if (g.byRun.size) {
        const tails: LogPage[] = [];
        const tailKeys: QueryKey[] = [];
        for (const query of cache.getAll()) {
          if (!isLiveKey(query.queryKey)) continue;
          const data = query.state.data;
          const next = reduceQuery(query.queryKey, data, g);
          if (next === 'gap') exact.push(query.queryKey);
          else if (next !== data) {
            this.qc.setQueryData(query.queryKey, next);
            if (query.queryKey[8] === 'tail') {
              tails.push(next as LogPage);
              tailKeys.push(query.queryKey);
            }
          }
        }
        this.afterwards(g, exact);
        this.stalePages(tailKeys, tails, exact);
      }
      for (const e of events) {
        if (e.kind === 'resync') {
          scopes.push(...streamScope(e.stream));
        } else if (e.kind === 'hello') {
          // A first connection: data cached before the stream opened may have missed events.
          for (const prefix of streamOwns(e.stream)) {
            for (const q of cache.findAll({ queryKey: prefix })) {
              if (q.state.data !== undefined && q.state.dataUpdatedAt < e.openedAt) {
                exact.push(q.queryKey);
              }
            }
          }
        }
      }
    });
    for (const queryKey of exact) void this.qc.invalidateQueries({ queryKey, exact: true });
    for (const queryKey of scopes) void this.qc.invalidateQueries({ queryKey });
  }

  /**
   * Log pages before the tail are cached for good, but one read while the log was shorter
   * than a page is short: once the tail moves past it, it must be read again.
   */
  private stalePages(tailKeys: QueryKey[], tails: LogPage[], exact: QueryKey[]) {
    tailKeys.forEach((key, i) => {
      const tail = tails[i];
      if (!tail) return;
      const prefix = key.slice(0, 8);
      for (const q of this.qc.getQueryCache().findAll({ queryKey: prefix })) {
        const page = q.state.data as LogPage | undefined;
        if (typeof q.queryKey[8] !== 'number' || !page) continue;
        if (page.items.length < LOG_PAGE && page.start + page.items.length < tail.start) {
          exact.push(q.queryKey);
        }
      }
    });
  }

  /** What the batch implies beyond the data it carries. */
  private afterwards(g: Grouped, invalidate: QueryKey[]) {
    const finished = new Set<string>();
    for (const [name, events] of g.byRun) {
      let stepsChanged = false;
      for (const e of events) {
        if (e.kind === 'step_status') stepsChanged = true;
        if (e.kind === 'log') {
          // A log that could not be read yet (its attempt had not started): read it now.
          const l = e.data;
          const key = ['task', l.flow_id, l.run_id, l.step_name, l.task_id, 'logs', l.stream];
          const tail = this.qc
            .getQueryCache()
            .find({ queryKey: [...key, l.attempt, 'tail'], exact: true });
          if (tail && tail.state.data === undefined && tail.state.fetchStatus === 'idle') {
            invalidate.push(tail.queryKey);
          }
        }
        if (
          (e.kind === 'task_status' || e.kind === 'attempt_status') &&
          TERMINAL.has(e.data.status)
        ) {
          finished.add(`${name}\u0000${e.data.step_name}\u0000${e.data.task_id}`);
        }
      }
      const first = events[0];
      if (!stepsChanged || !first) continue;
      // The run's task count is the sum of its steps' counts.
      const { flow_id, run_id } = first.data;
      const steps = this.qc.getQueryData<Page<StepSummary>>(['run', flow_id, run_id, 'steps']);
      if (!steps) continue;
      let total = 0;
      for (const s of steps.items) {
        const c = s.task_counts;
        total += c.pending + c.running + c.completed + c.failed;
      }
      this.qc.setQueryData<RunDetail>(['run', flow_id, run_id, 'detail'], (old) =>
        old && old.task_count !== total ? { ...old, task_count: total } : old,
      );
    }
    if (!finished.size) return;
    // A task that finished has an exception, metadata, artifacts and cards to show now.
    for (const query of this.qc.getQueryCache().getAll()) {
      const [root, f, r, s, t, kind] = query.queryKey;
      if (root !== 'task' || !finished.has(`${runName(f, r)}\u0000${String(s)}\u0000${String(t)}`))
        continue;
      if (kind === 'detail' || kind === 'artifacts' || kind === 'cards')
        invalidate.push(query.queryKey);
    }
  }
}
