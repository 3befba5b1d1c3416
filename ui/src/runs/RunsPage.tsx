import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { ALL_RUNS } from '../api/events';
import type { Run } from '../api/models';
import { useRunsInfinite } from '../api/queries';
import { useLiveStream } from '../api/useLive';
import { CopyButton } from '../components/CopyButton';
import { DebouncedInput } from '../components/DebouncedInput';
import { formatCount } from '../components/format';
import { useListKeys } from '../components/keys';
import { runUrl } from '../components/paths';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StatusDot, statusLabel } from '../components/Status';
import { Duration, Time } from '../components/Time';
import { useNow } from '../components/useNow';
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
  selected,
  onFilter,
}: {
  run: Run;
  selected: boolean;
  onFilter: (patch: Partial<RunFilters>) => void;
}) {
  const navigate = useNavigate();
  const to = runUrl(run.flow_id, run.run_id);
  const reason = run.status === 'failed' ? run.status_reason : null;
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
      <span className="td td-status" title={statusLabel(run.status, reason)}>
        <StatusDot status={run.status} title={statusLabel(run.status, reason)} />
      </span>
      <span className="td td-flow">
        {run.project ? (
          <span className="project-branch" title="project / branch">
            {run.project}
            {run.branch ? `/${run.branch}` : ''}
          </span>
        ) : null}
        <Link to={to} className="flow-name">
          {run.flow_id}
        </Link>
      </span>
      <span className="td td-id mono">
        <Link to={to}>{run.run_id}</Link>
      </span>
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
      <span className="td td-time">
        <Time ms={run.started_at} />
      </span>
      <span className="td td-time">
        {run.status === 'running' ? (
          <span className="muted">running</span>
        ) : (
          <Time ms={run.finished_at} />
        )}
      </span>
      <span className="td td-num">
        <Duration
          startedAt={run.started_at}
          finishedAt={run.finished_at}
          durationMs={run.duration_ms}
          running={run.status === 'running'}
        />
      </span>
      <span className="td td-tags">
        {run.status === 'failed' && reason && reason !== 'error' ? (
          <span className="tag tag-reason">{reason}</span>
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
    </div>
  );
}

function GroupRowView({
  row,
  by,
  onToggle,
}: {
  row: Extract<RunRow, { kind: 'group' }>;
  by: string;
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
          {by} · {formatCount(row.count)} loaded
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

  const filtered = activeFilterCount(filters) > 0;
  return (
    <div className="page page-runs">
      <RunsFilters filters={filters} update={update} reset={reset} />
      <section className="runs-main">
        <div className="toolbar">
          <h1>Runs</h1>
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
              : `${formatCount(runs.length)}${hasNextPage ? '+' : ''} runs`}
          </span>
        </div>
        <div className="table runs-table" data-testid="runs-table">
          <div className="thead tr">
            <span className="th" />
            <span className="th">Flow</span>
            <span className="th">Run</span>
            <span className="th">User</span>
            <SortHeader
              label="Started"
              desc="-started_at"
              asc="started_at"
              order={filters.order}
              onOrder={(order) => update({ order })}
            />
            <SortHeader
              label="Finished"
              desc="-finished_at"
              order={filters.order}
              onOrder={(order) => update({ order })}
            />
            <SortHeader
              label="Duration"
              desc="-duration_ms"
              asc="duration_ms"
              order={filters.order}
              onOrder={(order) => update({ order })}
            />
            <span className="th">Tags</span>
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
                          selected={v.index === selected}
                          onFilter={update}
                        />
                      ) : (
                        <GroupRowView
                          row={row}
                          by={filters.group}
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
