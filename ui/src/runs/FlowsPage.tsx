import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ALL_RUNS } from '../api/events';
import type { FlowSummary } from '../api/models';
import { useFlows, useRunsSample } from '../api/queries';
import { useLiveStream } from '../api/useLive';
import { formatCount, formatDuration, formatTime } from '../components/format';
import { useListKeys } from '../components/keys';
import { runsUrl, runUrl } from '../components/paths';
import { usePrefs } from '../components/prefs';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StatusDot, statusLabel } from '../components/Status';
import { Time } from '../components/Time';
import { flowStats } from './flowStats';
import './runs.css';

const ROW_HEIGHT = 44;
const RECENT = 20;

function FlowRow({ flow, selected }: { flow: FlowSummary; selected: boolean }) {
  // Only rows on screen are mounted, so only they ask for their recent runs.
  const recent = useRunsSample({ flow_id: flow.flow_id, order: '-started_at' }, RECENT);
  const stats = useMemo(() => flowStats(recent.data?.items ?? []), [recent.data]);
  const { tz } = usePrefs();
  const last = flow.last_run;
  return (
    <div className={selected ? 'tr flow-row selected' : 'tr flow-row'}>
      <span className="td td-flow">
        <Link to={runsUrl({ flow_id: flow.flow_id })} className="flow-name">
          {flow.flow_id}
        </Link>
      </span>
      <span className="td status-strip" title="Last runs, oldest first">
        {recent.isPending ? <span className="muted">…</span> : null}
        {stats.strip.map((r) => (
          <Link
            key={r.run_id}
            to={runUrl(r.flow_id, r.run_id)}
            className={`strip-cell status-${r.status}`}
            title={`${r.run_id} · ${statusLabel(r.status, r.status_reason)} · ${formatTime(r.started_at, tz)} · ${formatDuration(r.duration_ms)}`}
          />
        ))}
      </span>
      <span className="td td-num">
        {stats.successRate === null ? (
          <span className="muted">—</span>
        ) : (
          `${Math.round(stats.successRate * 100)}%`
        )}
      </span>
      <span className="td td-num">{formatDuration(stats.medianDurationMs)}</span>
      <span className="td">
        {last ? (
          <Link to={runUrl(last.flow_id, last.run_id)} className="last-run">
            <StatusDot status={last.status} /> {last.run_id} ·{' '}
            <Time ms={last.started_at} relative />
          </Link>
        ) : (
          <span className="muted">—</span>
        )}
      </span>
      <span className="td td-num">{formatCount(flow.run_count)}</span>
      <span className="td td-owners" title={stats.owners.join(', ')}>
        {stats.owners.slice(0, 3).join(', ')}
        {stats.owners.length > 3 ? ` +${stats.owners.length - 3}` : ''}
      </span>
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
  return (
    <div className="page page-flows">
      <div className="toolbar">
        <h1>Flows</h1>
        <span className="muted">
          {flows.data ? `${formatCount(list.length)} flows` : ''} · status strip shows the last{' '}
          {RECENT} runs, oldest first; rates over those runs
        </span>
      </div>
      <div className="table flows-table" data-testid="flows-table">
        <div className="thead tr">
          <span className="th">Flow</span>
          <span className="th">Last runs</span>
          <span className="th td-num">Success</span>
          <span className="th td-num">Median</span>
          <span className="th">Last run</span>
          <span className="th td-num">Runs</span>
          <span className="th">Owners</span>
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
                    <FlowRow flow={f} selected={v.index === selected} />
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
