import { useQueries } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { type ReactNode, useEffect, useMemo, useRef, useState } from 'react';
import { api, type LogStream, type TaskRef } from '../api/client';
import { keys } from '../api/keys';
import type { LogLine } from '../api/models';
import { LOG_PAGE, useLogSearch, useLogTail } from '../api/queries';
import { DebouncedInput } from '../components/DebouncedInput';
import { formatBytes, formatClock, formatCount, plural } from '../components/format';
import { usePrefs } from '../components/prefs';
import { ErrorState, Loading } from '../components/States';
import { type AnsiSpan, parseAnsi } from './ansi';
import { pageOffset, pagesForRange } from './pages';
import './logs.css';

const LINE_H = 18;

function highlight(text: string, q: string, keyBase: string): ReactNode {
  if (!q) return text;
  const lower = text.toLowerCase();
  const needle = q.toLowerCase();
  const out: ReactNode[] = [];
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(<mark key={`${keyBase}-${i}`}>{text.slice(i, i + needle.length)}</mark>);
    at = i + needle.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

function spanStyle(s: AnsiSpan['style']): { className?: string; style?: React.CSSProperties } {
  const cls: string[] = [];
  const style: React.CSSProperties = {};
  if (s.fg) {
    if (s.fg.startsWith('ansi-')) cls.push(`fg-${s.fg}`);
    else style.color = s.fg;
  }
  if (s.bg) {
    if (s.bg.startsWith('ansi-')) cls.push(`bg-${s.bg}`);
    else style.backgroundColor = s.bg;
  }
  if (s.bold) cls.push('b');
  if (s.dim) cls.push('dim');
  if (s.italic) cls.push('i');
  if (s.underline) cls.push('u');
  return {
    className: cls.join(' ') || undefined,
    style: Object.keys(style).length ? style : undefined,
  };
}

function LineText({ text, q }: { text: string; q: string }) {
  const spans = parseAnsi(text);
  return (
    <>
      {spans.map((sp, i) => {
        const { className, style } = spanStyle(sp.style);
        const content = highlight(sp.text, q, String(i));
        return className || style ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: spans of one line have no identity
          <span key={i} className={className} style={style}>
            {content}
          </span>
        ) : (
          // biome-ignore lint/suspicious/noArrayIndexKey: spans of one line have no identity
          <span key={i}>{content}</span>
        );
      })}
    </>
  );
}

export function LogView({
  task,
  stream,
  attempt,
  live,
}: {
  task: TaskRef;
  stream: LogStream;
  attempt: number;
  live: boolean;
}) {
  const { tz } = usePrefs();
  const tail = useLogTail(task, stream, attempt, live);
  const total = tail.data?.total ?? 0;
  const tailStart = tail.data ? Math.max(1, total - tail.data.items.length + 1) : 1;
  const [showTs, setShowTs] = useState(false);
  const [follow, setFollow] = useState(true);
  const [q, setQ] = useState('');
  const [matchIdx, setMatchIdx] = useState(0);
  const search = useLogSearch(task, stream, attempt, q);
  const matches = search.data?.items ?? [];
  const currentMatch = matches[matchIdx]?.n ?? -1;

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => LINE_H,
    overscan: 30,
  });
  const items = virtualizer.getVirtualItems();
  const firstLine = (items[0]?.index ?? 0) + 1;
  const lastLine = (items.at(-1)?.index ?? 0) + 1;
  const pages = pagesForRange(firstLine, lastLine, total, tailStart, LOG_PAGE);
  const pageQueries = useQueries({
    queries: pages.map((k) => ({
      queryKey: keys.logPage(task, stream, attempt, pageOffset(k, LOG_PAGE)),
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api.logs(
          task,
          stream,
          { attempt, start: pageOffset(k, LOG_PAGE), limit: LOG_PAGE },
          signal,
        ),
      staleTime: Number.POSITIVE_INFINITY,
    })),
  });
  const lineMap = useMemo(() => {
    const map = new Map<number, LogLine>();
    for (const pq of pageQueries) for (const l of pq.data?.items ?? []) map.set(l.n, l);
    for (const l of tail.data?.items ?? []) map.set(l.n, l);
    return map;
  }, [pageQueries, tail.data]);

  // Follow the end of the log while the task runs, until the user scrolls up.
  useEffect(() => {
    if (follow && total > 0) virtualizer.scrollToIndex(total - 1, { align: 'end' });
  }, [follow, total, virtualizer]);

  const goToMatch = (i: number) => {
    if (!matches.length) return;
    const idx = ((i % matches.length) + matches.length) % matches.length;
    setMatchIdx(idx);
    const n = matches[idx]?.n;
    if (n !== undefined) {
      setFollow(false);
      virtualizer.scrollToIndex(n - 1, { align: 'center' });
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: jump when new results arrive
  useEffect(() => {
    setMatchIdx(0);
    const n = search.data?.items[0]?.n;
    if (n !== undefined) {
      setFollow(false);
      virtualizer.scrollToIndex(n - 1, { align: 'center' });
    }
  }, [search.data]);

  const gutterChars = String(Math.max(total, 1)).length;
  return (
    <section className="log-view" aria-label={`${stream} log`} data-stream={stream}>
      <div className="log-toolbar">
        <strong className="log-title">{stream}</strong>
        <span className="muted">{tail.data ? plural(total, 'line') : ''}</span>
        {tail.data?.omitted_bytes ? (
          <span className="muted" role="note">
            (the first {formatBytes(tail.data.omitted_bytes)} of this log are not shown: it is too
            big to fetch whole from remote storage)
          </span>
        ) : null}
        <DebouncedInput
          className="search log-search"
          type="search"
          placeholder={`Search all of ${stream}`}
          aria-label={`Search ${stream}`}
          data-page-search={stream === 'stdout' ? '' : undefined}
          value={q}
          onCommit={setQ}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && q && matches.length) {
              e.preventDefault();
              goToMatch(matchIdx + (e.shiftKey ? -1 : 1));
            }
          }}
        />
        {q ? (
          <span className="match-count" aria-live="polite">
            {search.isFetching
              ? 'searching…'
              : search.data
                ? search.data.total_matches === 0
                  ? 'no matches'
                  : `${matchIdx + 1} / ${formatCount(search.data.total_matches)}${matches.length < search.data.total_matches ? ` (first ${formatCount(matches.length)})` : ''}`
                : ''}
          </span>
        ) : null}
        {q && matches.length ? (
          <>
            <button
              type="button"
              className="btn btn-small"
              onClick={() => goToMatch(matchIdx - 1)}
              title="Previous match (Shift+Enter)"
            >
              ↑
            </button>
            <button
              type="button"
              className="btn btn-small"
              onClick={() => goToMatch(matchIdx + 1)}
              title="Next match (Enter)"
            >
              ↓
            </button>
          </>
        ) : null}
        <span className="spacer" />
        <label className="chip-check">
          <input type="checkbox" checked={showTs} onChange={(e) => setShowTs(e.target.checked)} />
          timestamps
        </label>
        <label className="chip-check" title="Keep the newest line in view">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          follow{live ? ' (live)' : ''}
        </label>
        <a
          className="btn btn-small"
          href={api.logDownloadUrl(task, stream, attempt)}
          download={`${task.flow}_${task.run}_${task.step}_${task.task}_${attempt}.${stream}.log`}
        >
          Download
        </a>
      </div>
      <div
        className="log-lines"
        ref={scrollRef}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        tabIndex={0}
        role="region"
        aria-label={`${stream} lines`}
        onWheel={(e) => {
          if (e.deltaY < 0) setFollow(false);
        }}
      >
        {tail.isPending ? (
          <Loading what={stream} />
        ) : tail.isError ? (
          <ErrorState error={tail.error} what={stream} onRetry={() => void tail.refetch()} />
        ) : total === 0 ? (
          <div className="log-empty muted">
            {live
              ? `Nothing on ${stream} yet; new lines appear here.`
              : `Nothing was written to ${stream}.`}
          </div>
        ) : (
          <div
            style={{ height: virtualizer.getTotalSize(), position: 'relative', minWidth: '100%' }}
          >
            {items.map((v) => {
              const n = v.index + 1;
              const line = lineMap.get(n);
              return (
                <div
                  key={n}
                  className={n === currentMatch ? 'log-line current-match' : 'log-line'}
                  style={{ transform: `translateY(${v.start}px)`, height: LINE_H }}
                  data-line={n}
                >
                  <span className="ln" style={{ width: `${gutterChars + 1}ch` }}>
                    {n}
                  </span>
                  {showTs ? <span className="ts">{formatClock(line?.ts, tz)}</span> : null}
                  <span className="lt">
                    {line ? <LineText text={line.text} q={q} /> : <span className="muted">…</span>}
                  </span>
                </div>
              );
            })}
          </div>
        )}
      </div>
    </section>
  );
}
