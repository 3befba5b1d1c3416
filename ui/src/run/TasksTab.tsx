import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import type { StepSummary, Task, TaskOrder, TasksQuery } from '../api/models';
import { useTasksInfinite } from '../api/queries';
import { formatCount, formatDuration, formatTime, type TimeZoneMode } from '../components/format';
import { useListKeys } from '../components/keys';
import { taskUrl } from '../components/paths';
import { usePrefs } from '../components/prefs';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StatusBadge } from '../components/Status';
import { Duration } from '../components/Time';
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

/** One row; memoized so that scrolling renders only the rows that come into view. */
const TaskRow = memo(function TaskRow({
  flow,
  run,
  task: t,
  selected,
  tz,
}: {
  flow: string;
  run: string;
  task: Task;
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
      <span className="td">{t.step_name}</span>
      <span className="td mono">
        <Link to={to}>{t.task_id}</Link>
      </span>
      <span className="td mono ellipsis" title={t.foreach_label ?? ''}>
        {t.foreach_label ?? ''}
      </span>
      <span className="td">
        <StatusBadge status={t.status} reason={t.status_reason} caught={t.caught} />
      </span>
      <span className="td td-num">{t.attempt > 0 ? `${t.attempt} (retried)` : t.attempt}</span>
      {/* Plain text for finished tasks: rows come and go by the hundred while scrolling. */}
      <span className="td td-time">{formatTime(t.started_at, tz)}</span>
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
    (): TasksQuery => ({ step_name: step || undefined, status: statusFilter, order }),
    [step, statusFilter, order],
  );
  // How far the view is ahead of the loaded rows, to size the next page.
  const ahead = useRef(0);
  const query = useTasksInfinite(flow, run, apiParams, () => ahead.current + 200);
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
    count: Math.max(tasks.length, query.hasNextPage ? total : 0),
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
          {formatCount(tasks.length)}
          {hasNextPage ? ` of ${formatCount(total)}` : ''} tasks{live ? ' · live' : ''}
        </span>
      </div>
      <div className="table tasks-table" data-testid="tasks-table">
        <div className="thead tr">
          <span className="th">Step</span>
          <span className="th">Task</span>
          <span className="th">Foreach</span>
          <span className="th">Status</span>
          <span className="th td-num">Attempt</span>
          <span className="th">Started</span>
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
                      selected={v.index === selected}
                      tz={tz}
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
