import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ALL_RUNS } from '../api/events';
import type { FlowSummary } from '../api/models';
import { useFlows, useRunsSample } from '../api/queries';
import { useLiveStream } from '../api/useLive';
import { type ColumnDef, pickLayout } from '../components/columns';
import { formatCount, formatDuration, formatTime, plural } from '../components/format';
import { useListKeys } from '../components/keys';
import { runsUrl, runUrl } from '../components/paths';
import { usePrefs } from '../components/prefs';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StatusIcon, statusLabel } from '../components/Status';
import { Time } from '../components/Time';
import { useWidth } from '../components/useWidth';
import { flowStats } from './flowStats';
import './runs.css';

const ROW_HEIGHT = 44;
const RECENT = 20;
const RECENT_SHORT = 10;

type FlowColumn =
  | 'flow'
  | 'strip'
  | 'stripShort'
  | 'success'
  | 'median'
  | 'lastRun'
  | 'runs'
  | 'owners';
const COLUMNS: Record<FlowColumn, ColumnDef> = {
  flow: { min: 110, track: 'minmax(110px, 1.3fr)' },
  strip: { min: 12 * RECENT },
  stripShort: { min: 12 * RECENT_SHORT },
  success: { min: 64 },
  median: { min: 70 },
  lastRun: { min: 200, track: 'minmax(200px, 1fr)' },
  runs: { min: 56 },
  owners: { min: 100, track: 'minmax(100px, 1fr)' },
};
const LAYOUTS: FlowColumn[][] = [
  ['flow', 'strip', 'success', 'median', 'lastRun', 'runs', 'owners'],
  ['flow', 'strip', 'success', 'median', 'lastRun', 'runs'],
  ['flow', 'strip', 'success', 'lastRun', 'runs'],
  ['flow', 'strip', 'success', 'runs'],
  ['flow', 'stripShort', 'success'],
];

/** One run in the status strip: its status as a shape as well as a colour. */
function StripCell({ status }: { status: string }) {
  return (
    <svg
      className={`strip-cell status-${status}`}
      width="10"
      height="18"
      viewBox="0 0 10 18"
      aria-hidden
      focusable="false"
    >
      {status === 'completed' ? <rect width="10" height="18" rx="2" /> : null}
      {status === 'failed' ? (
        <>
          <rect width="10" height="18" rx="2" />
          <path d="M2.6 6.6l4.8 4.8M7.4 6.6l-4.8 4.8" className="strip-mark" />
        </>
      ) : null}
      {status === 'running' ? (
        <>
          <rect x="1" y="1" width="8" height="16" rx="1.5" className="strip-hollow" />
          <rect x="3" y="9" width="4" height="6" rx="1" className="strip-fill" />
        </>
      ) : null}
      {status !== 'completed' && status !== 'failed' && status !== 'running' ? (
        <rect x="1" y="1" width="8" height="16" rx="1.5" className="strip-hollow strip-dashed" />
      ) : null}
    </svg>
  );
}

function StripLegend() {
  return (
    <span className="strip-legend" aria-hidden>
      {(['completed', 'failed', 'running'] as const).map((s) => (
        <span key={s}>
          <StripCell status={s} /> {s}
        </span>
      ))}
    </span>
  );
}

function FlowRow({
  flow,
  columns,
  selected,
}: {
  flow: FlowSummary;
  columns: ReadonlySet<FlowColumn>;
  selected: boolean;
}) {
  // Only rows on screen are mounted, so only they ask for their recent runs.
  const recent = useRunsSample({ flow_id: flow.flow_id, order: '-started_at' }, RECENT);
  const stats = useMemo(() => flowStats(recent.data?.items ?? []), [recent.data]);
  const { tz } = usePrefs();
  const last = flow.last_run;
  const strip = columns.has('strip') ? stats.strip : stats.strip.slice(-RECENT_SHORT);
  return (
    <div className={selected ? 'tr flow-row selected' : 'tr flow-row'}>
      <span className="td td-flow">
        <Link to={runsUrl({ flow_id: flow.flow_id })} className="flow-name">
          {flow.flow_id}
        </Link>
      </span>
      {columns.has('strip') || columns.has('stripShort') ? (
        <span className="td status-strip">
          {recent.isPending ? <span className="muted">…</span> : null}
          {strip.map((r) => {
            const what = `${r.run_id} · ${statusLabel(r.status, r.status_reason)} · ${formatTime(r.started_at, tz)} · ${formatDuration(r.duration_ms)}`;
            return (
              <Link
                key={r.run_id}
                to={runUrl(r.flow_id, r.run_id)}
                className="strip-link"
                title={what}
                aria-label={`Run ${what}`}
              >
                <StripCell status={r.status} />
              </Link>
            );
          })}
        </span>
      ) : null}
      {columns.has('success') ? (
        <span className="td td-num">
          {stats.successRate === null ? (
            <span className="muted">—</span>
          ) : (
            `${Math.round(stats.successRate * 100)}%`
          )}
        </span>
      ) : null}
      {columns.has('median') ? (
        <span className="td td-num">{formatDuration(stats.medianDurationMs)}</span>
      ) : null}
      {columns.has('lastRun') ? (
        <span className="td">
          {last ? (
            <Link to={runUrl(last.flow_id, last.run_id)} className="last-run">
              <StatusIcon status={last.status} label={statusLabel(last.status)} />
              <span className="mono">{last.run_id}</span>
              <span className="muted">
                · <Time ms={last.started_at} relative />
              </span>
            </Link>
          ) : (
            <span className="muted">—</span>
          )}
        </span>
      ) : null}
      {columns.has('runs') ? (
        <span className="td td-num">{formatCount(flow.run_count)}</span>
      ) : null}
      {columns.has('owners') ? (
        <span className="td td-owners" title={stats.owners.join(', ')}>
          {stats.owners.slice(0, 3).join(', ')}
          {stats.owners.length > 3 ? ` +${stats.owners.length - 3}` : ''}
        </span>
      ) : null}
    </div>
  );
}

export function FlowsPage() {
  useLiveStream(ALL_RUNS);
  const flows = useFlows();
  const list = useMemo(
    () =>
      [...(flows.data ?? [])].sort(
        (a, b) => (b.last_run?.started_at ?? 0) - (a.last_run?.started_at ?? 0),
      ),
    [flows.data],
  );
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: list.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
  });
  const navigate = useNavigate();
  const [selected, setSelected] = useState(-1);
  useListKeys({
    count: list.length,
    selected,
    onSelect: (i) => {
      setSelected(i);
      virtualizer.scrollToIndex(i);
    },
    onOpen: (i) => {
      const f = list[i];
      if (f) navigate(runsUrl({ flow_id: f.flow_id }));
    },
  });
  const tableRef = useRef<HTMLDivElement>(null);
  const layout = pickLayout(LAYOUTS, COLUMNS, useWidth(tableRef));
  const columns = useMemo(() => new Set(layout.keys), [layout.keys]);
  const shown = columns.has('strip') ? RECENT : RECENT_SHORT;
  return (
    <div className="page page-flows">
      <div className="toolbar">
        <h1>Flows</h1>
        <span className="muted">{flows.data ? plural(list.length, 'flow') : ''}</span>
        <span className="muted flows-note">
          Last runs: the latest {shown}, oldest first; success and median over those
        </span>
        <StripLegend />
      </div>
      <div
        className="table flows-table"
        data-testid="flows-table"
        data-columns={layout.keys.join(' ')}
        ref={tableRef}
        style={{ ['--columns' as string]: layout.template }}
      >
        <div className="thead tr">
          <span className="th">Flow</span>
          {columns.has('strip') || columns.has('stripShort') ? (
            <span className="th">Last runs</span>
          ) : null}
          {columns.has('success') ? <span className="th td-num">Success</span> : null}
          {columns.has('median') ? <span className="th td-num">Median</span> : null}
          {columns.has('lastRun') ? <span className="th">Last run</span> : null}
          {columns.has('runs') ? <span className="th td-num">Runs</span> : null}
          {columns.has('owners') ? <span className="th">Owners</span> : null}
        </div>
        <div className="tbody" ref={scrollRef}>
          {flows.isPending ? (
            <Loading what="flows" rows={6} />
          ) : flows.isError ? (
            <ErrorState error={flows.error} what="flows" onRetry={() => void flows.refetch()} />
          ) : list.length === 0 ? (
            <EmptyState title="No flows yet.">
              Run a flow (<code>python flow.py run</code>) in a folder under the server's{' '}
              <code>--root</code>, or restart it with{' '}
              <code>flowscope serve --root /path/to/project</code>.
            </EmptyState>
          ) : (
            <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
              {virtualizer.getVirtualItems().map((v) => {
                const f = list[v.index];
                if (!f) return null;
                return (
                  <div
                    key={f.flow_id}
                    className="vrow"
                    style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                  >
                    <FlowRow flow={f} columns={columns} selected={v.index === selected} />
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
