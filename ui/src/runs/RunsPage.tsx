import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { ALL_RUNS } from '../api/events';
import type { Run } from '../api/models';
import { useRunsInfinite } from '../api/queries';
import { useLiveStream } from '../api/useLive';
import { CopyButton } from '../components/CopyButton';
import { type ColumnDef, pickLayout } from '../components/columns';
import { DebouncedInput } from '../components/DebouncedInput';
import { formatCount, plural } from '../components/format';
import { useListKeys } from '../components/keys';
import { runUrl } from '../components/paths';
import { SchedulerBadge } from '../components/SchedulerBadge';
import { EmptyState, ErrorState, Loading } from '../components/States';
import {
  caughtText,
  currentStepsText,
  runStatusText,
  StatusIcon,
  statusLabel,
} from '../components/Status';
import { Duration, Time } from '../components/Time';
import { useNow } from '../components/useNow';
import { useWidth } from '../components/useWidth';
import {
  activeFilterCount,
  EMPTY_FILTERS,
  filtersToParams,
  parseFilters,
  type RunFilters,
  type RunOrder,
  serializeFilters,
} from './filters';
import { groupRuns, type RunRow } from './grouping';
import { heldNewRuns, runName } from './newRuns';
import { RunsFilters } from './RunsFilters';
import './runs.css';

const ROW_HEIGHT = 40;

type RunColumn =
  | 'status'
  | 'statusLabel'
  | 'flow'
  | 'run'
  | 'flowRun'
  | 'user'
  | 'started'
  | 'startedAgo'
  | 'finished'
  | 'duration'
  | 'tags';
const COLUMNS: Record<RunColumn, ColumnDef> = {
  status: { min: 16 },
  statusLabel: { min: 84 },
  flow: { min: 140, track: 'minmax(140px, 1.5fr)' },
  run: { min: 124 },
  // Narrow tables show the run id under the flow's name.
  flowRun: { min: 120, track: 'minmax(120px, 1fr)' },
  user: { min: 80, track: 'minmax(80px, 0.5fr)' },
  started: { min: 140 },
  startedAgo: { min: 60 },
  finished: { min: 140 },
  duration: { min: 76 },
  tags: { min: 100, track: 'minmax(100px, 1.4fr)' },
};
const LAYOUTS: RunColumn[][] = [
  ['status', 'statusLabel', 'flow', 'run', 'user', 'started', 'finished', 'duration', 'tags'],
  ['status', 'flow', 'run', 'user', 'started', 'finished', 'duration', 'tags'],
  ['status', 'flow', 'run', 'user', 'started', 'duration', 'tags'],
  ['status', 'flow', 'run', 'started', 'duration'],
  ['status', 'flowRun', 'startedAgo', 'duration'],
  ['status', 'flowRun', 'duration'],
];

function useRunFilters() {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(params), [params]);
  const update = useCallback(
    (patch: Partial<RunFilters>) => {
      setParams((prev) => serializeFilters({ ...parseFilters(prev), ...patch }), { replace: true });
    },
    [setParams],
  );
  const reset = useCallback(
    () =>
      setParams(serializeFilters({ ...EMPTY_FILTERS, group: filters.group, order: filters.order })),
    [setParams, filters.group, filters.order],
  );
  return { filters, update, reset };
}

function SortHeader({
  label,
  asc,
  desc,
  order,
  onOrder,
}: {
  label: string;
  asc?: RunOrder;
  desc: RunOrder;
  order: RunOrder;
  onOrder: (o: RunOrder) => void;
}) {
  const active = order === desc || order === asc;
  const next = order === desc && asc ? asc : desc;
  return (
    <button
      type="button"
      className={active ? 'th sortable active' : 'th sortable'}
      onClick={() => onOrder(next)}
      title={`Sort by ${label.toLowerCase()}`}
    >
      {label}
      <span className="sort-arrow" aria-hidden>
        {order === desc ? '↓' : order === asc ? '↑' : '↕'}
      </span>
    </button>
  );
}

function RunRowView({
  run,
  columns,
  selected,
  onFilter,
}: {
  run: Run;
  columns: ReadonlySet<RunColumn>;
  selected: boolean;
  onFilter: (patch: Partial<RunFilters>) => void;
}) {
  const navigate = useNavigate();
  const to = runUrl(run.flow_id, run.run_id);
  const reason = run.status === 'failed' ? run.status_reason : null;
  const label = runStatusText(run);
  const project = run.project ? (
    <span className="project-branch" title="project / branch">
      {run.project}
      {run.branch ? `/${run.branch}` : ''}
    </span>
  ) : null;
  return (
    <div
      className={selected ? 'tr run-row selected' : 'tr run-row'}
      data-status={run.status}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a,button')) return;
        if (e.metaKey || e.ctrlKey) window.open(`.${to}`, '_blank');
        else navigate(to);
      }}
      onKeyDown={() => {}}
    >
      <span className="td td-status">
        <StatusIcon status={run.status} label={columns.has('statusLabel') ? undefined : label} />
      </span>
      {columns.has('statusLabel') ? (
        <span className={`td status-text status-${run.status}`}>{statusLabel(run.status)}</span>
      ) : null}
      {columns.has('flow') ? (
        <span className="td td-flow">
          {project}
          <Link to={to} className="flow-name">
            {run.flow_id}
          </Link>
          <SchedulerBadge systemTags={run.system_tags} />
        </span>
      ) : null}
      {columns.has('run') ? (
        <span className="td td-id mono">
          <Link to={to}>{run.run_id}</Link>
        </span>
      ) : null}
      {columns.has('flowRun') ? (
        <span className="td td-flow">
          <span className="flow-name">{run.flow_id}</span>
          <SchedulerBadge systemTags={run.system_tags} />
          <Link to={to} className="td-id mono run-sub" aria-label={`${run.flow_id}/${run.run_id}`}>
            {run.run_id}
          </Link>
        </span>
      ) : null}
      {columns.has('user') ? (
        <span className="td">
          {run.user ? (
            <button
              type="button"
              className="linkish"
              title="Show only this user's runs"
              onClick={() => onFilter({ user: run.user ?? '' })}
            >
              {run.user}
            </button>
          ) : (
            <span className="muted">—</span>
          )}
        </span>
      ) : null}
      {columns.has('started') ? (
        <span className="td td-time">
          <Time ms={run.started_at} />
        </span>
      ) : null}
      {columns.has('startedAgo') ? (
        <span className="td td-time">
          <Time ms={run.started_at} relative />
        </span>
      ) : null}
      {columns.has('finished') ? (
        <span className="td td-time">
          {run.status === 'running' ? (
            <span className="muted" data-testid="run-current-steps">
              running{run.current_steps.length ? ` · ${currentStepsText(run.current_steps)}` : ''}
            </span>
          ) : (
            <Time ms={run.finished_at} />
          )}
        </span>
      ) : null}
      {columns.has('duration') ? (
        <span className="td td-num">
          <Duration
            startedAt={run.started_at}
            finishedAt={run.finished_at}
            durationMs={run.duration_ms}
            running={run.status === 'running'}
          />
        </span>
      ) : null}
      {columns.has('tags') ? (
        <span className="td td-tags">
          {run.status === 'failed' && reason && reason !== 'error' ? (
            <span className="tag tag-reason">{reason}</span>
          ) : null}
          {run.caught_count ? (
            <span
              className="tag tag-caught"
              data-testid="run-caught"
              title="Tasks whose exception @catch swallowed; the run went on"
            >
              {caughtText(run.caught_count)}
            </span>
          ) : null}
          {run.tags.map((t) => (
            <button
              key={t}
              type="button"
              className="tag"
              title="Show only runs with this tag"
              onClick={() => onFilter({ tag: [t] })}
            >
              {t}
            </button>
          ))}
        </span>
      ) : null}
    </div>
  );
}

function GroupRowView({
  row,
  by,
  more,
  onToggle,
}: {
  row: Extract<RunRow, { kind: 'group' }>;
  by: string;
  /** More runs than those loaded match: counts are of the loaded ones. */
  more: boolean;
  onToggle: () => void;
}) {
  return (
    <div className="tr group-row">
      <button
        type="button"
        className="group-toggle"
        onClick={onToggle}
        aria-expanded={!row.collapsed}
      >
        <span className="caret" aria-hidden>
          {row.collapsed ? '▸' : '▾'}
        </span>
        <span className="group-key">{row.key}</span>
        <span className="muted">
          {by} · {plural(row.count, 'run')}
          {more ? ' loaded' : ''}
          {row.running ? ` · ${row.running} running` : ''}
          {row.failed ? ` · ${row.failed} failed` : ''}
        </span>
      </button>
    </div>
  );
}

function NoRuns({ filtered, reset }: { filtered: boolean; reset: () => void }) {
  if (filtered)
    return (
      <EmptyState title="No runs match these filters.">
        <button type="button" className="btn" onClick={reset}>
          Reset filters
        </button>
      </EmptyState>
    );
  const cmd = 'python flow.py run';
  return (
    <EmptyState title="No runs found.">
      <p>
        Run a flow in a folder under the server's <code>--root</code>: <code>{cmd}</code>{' '}
        <CopyButton text={cmd} />
      </p>
      <p>
        Or point the server at the folder that holds your <code>.metaflow</code> directory:{' '}
        <code>flowscope serve --root /path/to/project</code>
      </p>
    </EmptyState>
  );
}

const rowName = (row: RunRow) => (row.kind === 'run' ? runName(row.run) : `g:${row.key}`);

export function RunsPage() {
  useLiveStream(ALL_RUNS);
  const { filters, update, reset } = useRunFilters();
  // Relative ranges ("last 24h") move with the clock; the minute rounding keeps the key stable.
  const minute = Math.floor(useNow(Boolean(filters.range)) / 60_000);
  const params = useMemo(() => filtersToParams(filters, minute * 60_000), [filters, minute]);
  const query = useRunsInfinite(params);
  const runs = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);

  // Runs that arrive while the list is scrolled wait behind the "new runs" pill.
  const scrollRef = useRef<HTMLDivElement>(null);
  const [atTop, setAtTop] = useState(true);
  const listKey = JSON.stringify(params);
  const shown = useRef({ key: listKey, runs: new Set<string>() });
  if (shown.current.key !== listKey) shown.current = { key: listKey, runs: new Set() };
  const held = query.isPlaceholderData ? 0 : heldNewRuns(runs, shown.current.runs, !atTop);
  const visible = useMemo(() => (held ? runs.slice(held) : runs), [runs, held]);
  useEffect(() => {
    if (query.isPlaceholderData) return;
    for (const r of visible) shown.current.runs.add(runName(r));
  }, [visible, query.isPlaceholderData]);
  const showNew = () => {
    scrollRef.current?.scrollTo({ top: 0 });
    setAtTop(true);
  };

  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo(
    () => groupRuns(visible, filters.group, collapsed),
    [visible, filters.group, collapsed],
  );
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    // The list's box is measured only once it is on screen; until then the window's
    // height stands in for it, so the first render draws rows rather than none.
    initialRect: { width: 0, height: window.innerHeight },
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = query;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastIndex >= rows.length - 25) void fetchNextPage();
  }, [lastIndex, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const navigate = useNavigate();
  // The selection follows its row when new runs push rows down.
  const [selectedName, setSelectedName] = useState<string | null>(null);
  const selected = useMemo(
    () => (selectedName === null ? -1 : rows.findIndex((r) => rowName(r) === selectedName)),
    [rows, selectedName],
  );
  useListKeys({
    count: rows.length,
    selected,
    onSelect: (i) => {
      const row = rows[i];
      if (!row) return;
      setSelectedName(rowName(row));
      virtualizer.scrollToIndex(i, { align: 'auto' });
    },
    onOpen: (i) => {
      const row = rows[i];
      if (row?.kind === 'run') navigate(runUrl(row.run.flow_id, row.run.run_id));
      else if (row?.kind === 'group') toggleGroup(row.key);
    },
  });
  const toggleGroup = (key: string) =>
    setCollapsed((c) => {
      const n = new Set(c);
      if (n.has(key)) n.delete(key);
      else n.add(key);
      return n;
    });

  const tableRef = useRef<HTMLDivElement>(null);
  const layout = pickLayout(LAYOUTS, COLUMNS, useWidth(tableRef));
  const columns = useMemo(() => new Set(layout.keys), [layout.keys]);
  const [filtersOpen, setFiltersOpen] = useState(false);
  const filtersButton = useRef<HTMLButtonElement>(null);

  const nFilters = activeFilterCount(filters);
  const filtered = nFilters > 0;
  return (
    <div className="page page-runs">
      <RunsFilters
        filters={filters}
        update={update}
        reset={reset}
        open={filtersOpen}
        onClose={() => {
          setFiltersOpen(false);
          filtersButton.current?.focus();
        }}
        listSettled={!query.isPending}
      />
      <section className="runs-main">
        <div className="toolbar">
          <h1>Runs</h1>
          <button
            ref={filtersButton}
            type="button"
            className="btn filters-toggle"
            aria-expanded={filtersOpen}
            aria-controls="run-filters"
            onClick={() => setFiltersOpen((o) => !o)}
          >
            Filters{nFilters ? ` (${nFilters})` : ''}
          </button>
          <DebouncedInput
            className="search"
            data-page-search
            type="search"
            placeholder="Search flow or run id  ( / )"
            aria-label="Search runs"
            value={filters.q}
            onCommit={(q) => update({ q })}
          />
          <label className="inline">
            Group by{' '}
            <select
              value={filters.group}
              onChange={(e) => update({ group: e.target.value as RunFilters['group'] })}
            >
              <option value="">none</option>
              <option value="flow">flow</option>
              <option value="user">user</option>
            </select>
          </label>
          <span className="muted count" aria-live="polite">
            {query.isFetching && !query.isFetchingNextPage
              ? 'updating…'
              : hasNextPage
                ? `${formatCount(runs.length)}+ runs`
                : plural(runs.length, 'run')}
          </span>
        </div>
        <div
          className="table runs-table"
          data-testid="runs-table"
          data-columns={layout.keys.join(' ')}
          ref={tableRef}
          style={{ ['--columns' as string]: layout.template }}
        >
          <div className="thead tr">
            <span className="th">
              <span className="sr-only">Status</span>
            </span>
            {columns.has('statusLabel') ? <span className="th">Status</span> : null}
            {columns.has('flow') ? <span className="th">Flow</span> : null}
            {columns.has('run') ? <span className="th">Run</span> : null}
            {columns.has('flowRun') ? <span className="th">Flow / run</span> : null}
            {columns.has('user') ? <span className="th">User</span> : null}
            {columns.has('started') || columns.has('startedAgo') ? (
              <SortHeader
                label="Started"
                desc="-started_at"
                asc="started_at"
                order={filters.order}
                onOrder={(order) => update({ order })}
              />
            ) : null}
            {columns.has('finished') ? (
              <SortHeader
                label="Finished"
                desc="-finished_at"
                order={filters.order}
                onOrder={(order) => update({ order })}
              />
            ) : null}
            {columns.has('duration') ? (
              <SortHeader
                label="Duration"
                desc="-duration_ms"
                asc="duration_ms"
                order={filters.order}
                onOrder={(order) => update({ order })}
              />
            ) : null}
            {columns.has('tags') ? <span className="th">Tags</span> : null}
          </div>
          <div
            className="tbody"
            ref={scrollRef}
            onScroll={(e) => setAtTop(e.currentTarget.scrollTop < ROW_HEIGHT / 2)}
          >
            {held ? (
              // Zero-height and sticky: the pill floats over the rows without moving them.
              <div className="new-runs">
                <button type="button" className="new-runs-pill" onClick={showNew}>
                  ↑ {formatCount(held)} new {held === 1 ? 'run' : 'runs'}
                </button>
              </div>
            ) : null}
            {query.isPending ? (
              <Loading what="runs" rows={8} />
            ) : query.isError && !runs.length ? (
              <ErrorState error={query.error} what="runs" onRetry={() => void query.refetch()} />
            ) : rows.length === 0 ? (
              <NoRuns filtered={filtered} reset={reset} />
            ) : (
              <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
                {items.map((v) => {
                  const row = rows[v.index];
                  if (!row) return null;
                  return (
                    <div
                      key={
                        row.kind === 'run' ? `${row.run.flow_id}/${row.run.run_id}` : `g:${row.key}`
                      }
                      className="vrow"
                      style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                    >
                      {row.kind === 'run' ? (
                        <RunRowView
                          run={row.run}
                          columns={columns}
                          selected={v.index === selected}
                          onFilter={update}
                        />
                      ) : (
                        <GroupRowView
                          row={row}
                          by={filters.group}
                          more={Boolean(hasNextPage)}
                          onToggle={() => toggleGroup(row.key)}
                        />
                      )}
                    </div>
                  );
                })}
              </div>
            )}
            {isFetchingNextPage ? <div className="load-more">Loading more runs…</div> : null}
          </div>
        </div>
      </section>
    </div>
  );
}
