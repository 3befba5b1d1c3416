import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import type { StepSummary, Task, TaskOrder, TasksQuery } from '../api/models';
import { useDag, useTasksInfinite } from '../api/queries';
import { type ColumnDef, pickLayout } from '../components/columns';
import { DebouncedInput } from '../components/DebouncedInput';
import {
  formatCount,
  formatDuration,
  formatTime,
  plural,
  type TimeZoneMode,
} from '../components/format';
import { useListKeys } from '../components/keys';
import { taskUrl } from '../components/paths';
import { usePrefs } from '../components/prefs';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StatusBadge, StatusIcon, statusLabel } from '../components/Status';
import { Duration } from '../components/Time';
import { useWidth } from '../components/useWidth';
import { parallelSteps, taskLabel } from './taskLabel';
import './tasks.css';

const ROW_HEIGHT = 32;
const ORDERS = {
  task_id: 'Task id',
  started_at: 'Started (earliest)',
  '-started_at': 'Started (latest)',
  '-duration_ms': 'Duration (longest)',
  duration_ms: 'Duration (shortest)',
  '-finished_at': 'Finished (latest)',
} as const satisfies Partial<Record<TaskOrder, string>>;
const TASK_STATUSES = ['running', 'completed', 'failed', 'pending'] as const;

type TaskColumn =
  | 'step'
  | 'stepForeach'
  | 'task'
  | 'foreach'
  | 'status'
  | 'statusIcon'
  | 'attempt'
  | 'started'
  | 'duration';
const COLUMNS: Record<TaskColumn, ColumnDef> = {
  step: { min: 100, track: 'minmax(100px, 1fr)' },
  // Narrow tables show the foreach label under the step's name.
  stepForeach: { min: 100, track: 'minmax(100px, 1fr)' },
  task: { min: 70, track: 'minmax(70px, 0.5fr)' },
  foreach: { min: 120, track: 'minmax(120px, 1.4fr)' },
  status: { min: 124 },
  statusIcon: { min: 16 },
  attempt: { min: 70 },
  started: { min: 140 },
  duration: { min: 76 },
};
const LAYOUTS: TaskColumn[][] = [
  ['step', 'task', 'foreach', 'status', 'attempt', 'started', 'duration'],
  ['step', 'task', 'foreach', 'status', 'attempt', 'duration'],
  ['step', 'task', 'foreach', 'status', 'duration'],
  ['stepForeach', 'task', 'status', 'duration'],
  ['stepForeach', 'task', 'statusIcon', 'duration'],
];

/** One row; memoized so that scrolling renders only the rows that come into view. */
const TaskRow = memo(function TaskRow({
  flow,
  run,
  task: t,
  columns,
  selected,
  tz,
  label,
}: {
  flow: string;
  run: string;
  task: Task;
  label: string | null;
  columns: ReadonlySet<TaskColumn>;
  selected: boolean;
  tz: TimeZoneMode;
}) {
  const navigate = useNavigate();
  const to = taskUrl(flow, run, t.step_name, t.task_id);
  return (
    <div
      className={selected ? 'tr task-row selected' : 'tr task-row'}
      onClick={(e) => {
        if (!(e.target as HTMLElement).closest('a')) navigate(to);
      }}
      onKeyDown={() => {}}
    >
      {columns.has('step') ? <span className="td">{t.step_name}</span> : null}
      {columns.has('stepForeach') ? (
        <span className="td td-stacked">
          <span className="ellipsis">{t.step_name}</span>
          {label ? (
            <span className="mono sub ellipsis task-label" title={label}>
              {label}
            </span>
          ) : null}
        </span>
      ) : null}
      <span className="td mono">
        <Link to={to}>{t.task_id}</Link>
      </span>
      {columns.has('foreach') ? (
        <span className="td mono ellipsis task-label" title={label ?? ''}>
          {label ?? ''}
        </span>
      ) : null}
      {columns.has('status') ? (
        <span className="td">
          <StatusBadge status={t.status} reason={t.status_reason} caught={t.caught} />
        </span>
      ) : null}
      {columns.has('statusIcon') ? (
        <span className="td td-status">
          <StatusIcon
            status={t.status}
            label={`${statusLabel(t.status, t.status_reason)}${t.caught ? ' (caught)' : ''}`}
          />
        </span>
      ) : null}
      {columns.has('attempt') ? (
        <span className="td td-num">{t.attempt > 0 ? `${t.attempt} (retried)` : t.attempt}</span>
      ) : null}
      {/* Plain text for finished tasks: rows come and go by the hundred while scrolling. */}
      {columns.has('started') ? (
        <span className="td td-time">{formatTime(t.started_at, tz)}</span>
      ) : null}
      <span className="td td-num">
        {t.status === 'running' ? (
          <Duration
            startedAt={t.started_at}
            finishedAt={t.finished_at}
            durationMs={t.duration_ms}
            running
          />
        ) : (
          formatDuration(t.duration_ms)
        )}
      </span>
    </div>
  );
});

export function TasksTab({
  flow,
  run,
  steps,
  live,
}: {
  flow: string;
  run: string;
  steps: StepSummary[];
  live: boolean;
}) {
  const { tz } = usePrefs();
  const [params, setParams] = useSearchParams();
  const step = params.get('step') ?? '';
  const status = params.get('status') ?? '';
  const foreach = params.get('foreach') ?? '';
  const orderParam = params.get('order') ?? 'task_id';
  const order =
    (Object.keys(ORDERS) as (keyof typeof ORDERS)[]).find((o) => o === orderParam) ?? 'task_id';
  const statusFilter = TASK_STATUSES.find((s) => s === status);
  const set = (k: string, v: string) =>
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        if (v) n.set(k, v);
        else n.delete(k);
        return n;
      },
      { replace: true },
    );
  const apiParams = useMemo(
    (): TasksQuery => ({
      step_name: step || undefined,
      status: statusFilter,
      order,
      foreach: foreach || undefined,
    }),
    [step, statusFilter, order, foreach],
  );
  // How far the view is ahead of the loaded rows, to size the next page.
  const ahead = useRef(0);
  const query = useTasksInfinite(flow, run, apiParams, () => ahead.current + 200);
  const dag = useDag(flow, run);
  const gangSteps = useMemo(() => parallelSteps(dag.data), [dag.data]);
  const tasks = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);
  const total = useMemo(() => {
    const counts = steps.filter((s) => !step || s.step_name === step).map((s) => s.task_counts);
    const key = status as 'pending' | 'running' | 'completed' | 'failed' | '';
    return counts.reduce(
      (n, c) => n + (key ? c[key] : c.pending + c.running + c.completed + c.failed),
      0,
    );
  }, [steps, step, status]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    // The table is as long as the whole result, so the scrollbar is honest; rows not
    // yet loaded show as placeholders and pull the next page in.
    // A foreach filter's matches are not counted ahead: the list grows as pages load.
    count: Math.max(tasks.length, query.hasNextPage ? (foreach ? tasks.length + 1 : total) : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  ahead.current = lastIndex - tasks.length;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = query;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastIndex >= tasks.length - 50) void fetchNextPage();
  }, [lastIndex, tasks.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const tableRef = useRef<HTMLDivElement>(null);
  const layout = pickLayout(LAYOUTS, COLUMNS, useWidth(tableRef));
  const columns = useMemo(() => new Set(layout.keys), [layout.keys]);

  const navigate = useNavigate();
  const [selected, setSelected] = useState(-1);
  useListKeys({
    count: tasks.length,
    selected,
    onSelect: (i) => {
      setSelected(i);
      virtualizer.scrollToIndex(i);
    },
    onOpen: (i) => {
      const t = tasks[i];
      if (t) navigate(taskUrl(flow, run, t.step_name, t.task_id));
    },
  });

  return (
    <div className="tasks-tab">
      <div className="toolbar">
        <label className="inline">
          Step{' '}
          <select value={step} onChange={(e) => set('step', e.target.value)}>
            <option value="">all steps</option>
            {steps.map((s) => (
              <option key={s.step_name} value={s.step_name}>
                {s.step_name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Status{' '}
          <select value={status} onChange={(e) => set('status', e.target.value)}>
            <option value="">any</option>
            <option value="running">running</option>
            <option value="completed">completed</option>
            <option value="failed">failed</option>
            <option value="pending">pending</option>
          </select>
        </label>
        <span className="inline">
          Foreach{' '}
          <DebouncedInput
            type="search"
            className="foreach-filter"
            placeholder="value, e.g. =b or items[2]"
            value={foreach}
            onCommit={(v) => set('foreach', v)}
            aria-label="Filter by foreach value"
          />
        </span>
        <label className="inline">
          Order{' '}
          <select
            value={order}
            onChange={(e) => set('order', e.target.value === 'task_id' ? '' : e.target.value)}
          >
            {Object.entries(ORDERS).map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <span className="muted">
          {hasNextPage
            ? foreach
              ? `${formatCount(tasks.length)}+ tasks`
              : `${formatCount(tasks.length)} of ${formatCount(total)} tasks`
            : plural(tasks.length, 'task')}
          {live ? ' · live' : ''}
        </span>
      </div>
      <div
        className="table tasks-table"
        data-testid="tasks-table"
        data-columns={layout.keys.join(' ')}
        ref={tableRef}
        style={{ ['--columns' as string]: layout.template }}
      >
        <div className="thead tr">
          {columns.has('step') ? <span className="th">Step</span> : null}
          {columns.has('stepForeach') ? <span className="th">Step / foreach</span> : null}
          <span className="th">Task</span>
          {columns.has('foreach') ? <span className="th">Foreach</span> : null}
          {columns.has('status') ? <span className="th">Status</span> : null}
          {columns.has('statusIcon') ? (
            <span className="th">
              <span className="sr-only">Status</span>
            </span>
          ) : null}
          {columns.has('attempt') ? <span className="th td-num">Attempt</span> : null}
          {columns.has('started') ? <span className="th">Started</span> : null}
          <span className="th td-num">Duration</span>
        </div>
        <div className="tbody" ref={scrollRef}>
          {query.isPending ? (
            <Loading what="tasks" rows={8} />
          ) : query.isError && !tasks.length ? (
            <ErrorState error={query.error} what="tasks" onRetry={() => void query.refetch()} />
          ) : tasks.length === 0 ? (
            <EmptyState
              title={
                step || status ? 'No tasks match these filters.' : 'This run has no tasks yet.'
              }
            />
          ) : (
            <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
              {items.map((v) => {
                const t = tasks[v.index];
                const style = { transform: `translateY(${v.start}px)`, height: ROW_HEIGHT };
                if (!t)
                  return (
                    <div key={`p${v.index}`} className="vrow" style={style}>
                      <div className="tr placeholder-row" />
                    </div>
                  );
                return (
                  <div key={`${t.step_name}/${t.task_id}`} className="vrow" style={style}>
                    <TaskRow
                      flow={flow}
                      run={run}
                      task={t}
                      columns={columns}
                      selected={v.index === selected}
                      tz={tz}
                      label={taskLabel(t, gangSteps)}
                    />
                  </div>
                );
              })}
            </div>
          )}
        </div>
      </div>
    </div>
  );
}
