import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import type { Dag } from '../api/models';
import { useTimeline } from '../api/queries';
import { formatDuration, formatTime, plural } from '../components/format';
import { isTyping } from '../components/keys';
import { taskUrl } from '../components/paths';
import { useIsDark, usePrefs } from '../components/prefs';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StatusIcon, statusLabel } from '../components/Status';
import { useThrottled } from '../components/useThrottled';
import { criticalPath, parentSteps } from './criticalPath';
import { DetailLoader } from './detailLoader';
import { drawMinimap, drawTimeline, GUTTER, type Palette, readPalette, TOP_H } from './draw';
import { hitTest, rowAt, type TimelineHit } from './hitTest';
import { type LaneCounts, laneCounts } from './lane';
import {
  layoutRows,
  ROW_STEP,
  type TimelineOrder,
  type TimelineRows,
  visibleTaskSpan,
} from './layout';
import {
  attemptBarEnd,
  baseModel,
  modelBounds,
  STATUS_NAMES,
  type TimelineModel,
  taskBarEnd,
  taskIdAt,
  withDetail,
} from './model';
import { clampView, fitView, panView, type TimeView, xToTime, zoomView } from './viewport';
import './timeline.css';

const ROW_H = 22;
const MINIMAP_H = 44;
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

interface Hover {
  hit: TimelineHit;
  x: number;
  y: number;
}

export function TimelineView({
  flow,
  run,
  live,
  dag,
}: {
  flow: string;
  run: string;
  live: boolean;
  dag: Dag | undefined;
}) {
  const query = useTimeline(flow, run, live);
  const navigate = useNavigate();
  const { tz } = usePrefs();
  const dark = useIsDark();

  const [order, setOrder] = useState<TimelineOrder>('start');
  const [statuses, setStatuses] = useState<ReadonlySet<number>>(new Set([0, 1, 2, 3]));
  const [stepFilter, setStepFilter] = useState<number | null>(null);
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const [showCritical, setShowCritical] = useState(false);
  const [hover, setHover] = useState<Hover | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [viewH, setViewH] = useState(0);

  // Bars of running tasks grow: refresh `now` every second while live.
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [live]);

  // Live events change the timeline up to 4 times a second; a big run's overview, layout
  // and picture are rebuilt at most every 2 s (bars still grow with the clock in between).
  // Detail (attempts, labels of the rows on screen) is not throttled: it is small.
  const big = (query.data?.overview.n ?? 0) > 5000;
  const overview = useThrottled(query.data?.overview, big ? 2000 : 0);
  const base = useMemo(() => {
    if (!overview) return null;
    const t0 = performance.now();
    const m = baseModel(overview);
    performance.measure('flowscope:timeline-model', { start: t0 });
    return m;
  }, [overview]);
  const detail = query.data?.detail;
  const model = useMemo(() => (base && detail ? withDetail(base, detail) : base), [base, detail]);
  // Layout, bounds and critical path of a big live run follow the clock in 10 s steps: each
  // costs a pass over every task. Bars are still drawn up to the current second.
  const layoutNow = base && base.nTasks > 5000 ? Math.floor(now / 10_000) * 10_000 : now;
  const rows = useMemo(
    () =>
      base
        ? layoutRows(base, {
            order,
            statuses: statuses.size === 4 ? null : statuses,
            steps: stepFilter === null ? null : new Set([stepFilter]),
            collapsed,
            now: layoutNow,
          })
        : null,
    [base, order, statuses, stepFilter, collapsed, layoutNow],
  );
  const bounds = useMemo(() => (base ? modelBounds(base, layoutNow) : null), [base, layoutNow]);
  const critical = useMemo(() => {
    if (!base || !showCritical) return null;
    const next: Record<string, string[]> = {};
    for (const [name, s] of Object.entries(dag?.steps ?? {})) next[name] = s.next;
    const path = criticalPath(base, dag ? parentSteps(base.steps, next) : null, layoutNow);
    const mask = new Uint8Array(base.nTasks);
    for (const i of path) mask[i] = 1;
    return { mask, path };
  }, [base, showCritical, dag, layoutNow]);

  // The detail of the rows on screen (and a margin), fetched as they come into view.
  const qc = useQueryClient();
  const loader = useMemo(() => new DetailLoader(qc, flow, run), [qc, flow, run]);
  useEffect(() => () => loader.dispose(), [loader]);

  const wrapRef = useRef<HTMLDivElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const miniRef = useRef<HTMLCanvasElement>(null);
  const miniCache = useRef<HTMLCanvasElement | null>(null);
  const viewRef = useRef<TimeView | null>(null);
  const followFit = useRef(true);
  const size = useRef({ w: 0, h: 0 });
  const hoverRow = useRef(-1);
  const palette = useRef<Palette | null>(null);
  const frame = useRef(0);
  const lane = useRef<{ key: string; counts: LaneCounts } | null>(null);

  // Everything the drawing reads, kept in a ref so one requestAnimationFrame callback
  // draws the latest state however many events asked for a redraw in between.
  const latest = useRef({ model, rows, bounds, now, collapsed, critical });
  latest.current = { model, rows, bounds, now, collapsed, critical };
  const laneRows = useRef<TimelineRows | null>(null);

  const draw = useCallback(() => {
    frame.current = 0;
    const { model: m, rows: r, bounds: b, now: n, collapsed: c, critical: cp } = latest.current;
    const canvas = canvasRef.current;
    const scroll = scrollRef.current;
    const view = viewRef.current;
    if (!canvas || !scroll || !m || !r || !b || !view) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    palette.current ??= readPalette(canvas);
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const barsW = Math.max(1, size.current.w - GUTTER);
    // The lane is one pass over the tasks shown: once per view, not once per frame of a
    // hover or a vertical scroll.
    const laneKey = `${view.start}:${view.end}:${barsW}:${Math.floor(n / 1000)}`;
    if (lane.current?.key !== laneKey || laneRows.current !== r) {
      lane.current = { key: laneKey, counts: laneCounts(m, r.tasks, view, barsW, n) };
      laneRows.current = r;
    }
    drawTimeline(
      ctx,
      m,
      r,
      {
        width: size.current.w,
        height: size.current.h,
        rowHeight: ROW_H,
        scrollTop: scroll.scrollTop,
        view,
        origin: b.start,
        now: n,
        hoverRow: hoverRow.current,
        collapsed: c,
        critical: cp?.mask ?? null,
        font: FONT,
        lane: lane.current.counts,
      },
      palette.current,
    );
    // What the view shows, for tests and the scale benchmark (one attribute per frame).
    canvas.dataset.span = String(Math.round(view.end - view.start));
    const firstRow = Math.floor(scroll.scrollTop / ROW_H);
    const lastRow = Math.ceil((scroll.scrollTop + size.current.h - TOP_H) / ROW_H);
    loader.want(m, r, firstRow, lastRow);
    // For the scale benchmark (e2e/timeline.perf.ts): when the first picture was drawn.
    if (!performance.getEntriesByName('flowscope:timeline-drawn').length) {
      performance.mark('flowscope:timeline-drawn');
    }
    // Minimap: cached picture plus the window in view.
    const mini = miniRef.current;
    const mctx = mini?.getContext('2d');
    if (mini && mctx) {
      const mw = Math.max(1, size.current.w - GUTTER);
      const full = fitView(b);
      if (!miniCache.current) {
        const off = document.createElement('canvas');
        off.width = Math.round(mw * dpr);
        off.height = Math.round(MINIMAP_H * dpr);
        const octx = off.getContext('2d', { willReadFrequently: true });
        if (octx) drawMinimap(octx, m, r, full, off.width, off.height, n, palette.current);
        miniCache.current = off;
      }
      mctx.setTransform(1, 0, 0, 1, 0, 0);
      mctx.clearRect(0, 0, mini.width, mini.height);
      mctx.drawImage(miniCache.current, 0, 0);
      mctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const span = full.end - full.start;
      const vx0 = ((view.start - full.start) / span) * mw;
      const vx1 = ((view.end - full.start) / span) * mw;
      const total = r.count * ROW_H;
      const visH = size.current.h - TOP_H;
      const vy0 = total > 0 ? (scroll.scrollTop / total) * MINIMAP_H : 0;
      const vy1 =
        total > 0
          ? Math.min(MINIMAP_H, ((scroll.scrollTop + visH) / total) * MINIMAP_H)
          : MINIMAP_H;
      mctx.fillStyle = 'rgba(127,127,127,0.18)';
      mctx.fillRect(0, 0, Math.max(0, vx0), MINIMAP_H);
      mctx.fillRect(vx1, 0, mw - vx1, MINIMAP_H);
      mctx.strokeStyle = palette.current.accent;
      mctx.lineWidth = 1.5;
      mctx.strokeRect(vx0, vy0 + 0.75, Math.max(2, vx1 - vx0), Math.max(2, vy1 - vy0 - 1.5));
    }
  }, [loader]);

  const schedule = useCallback(() => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  }, [draw]);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  // New data, filters or theme: refresh the palette and minimap, keep a fitted view fitted.
  // biome-ignore lint/correctness/useExhaustiveDependencies: rows, theme and critical path change what is drawn
  useEffect(() => {
    palette.current = null;
    miniCache.current = null;
    if (bounds && (followFit.current || !viewRef.current)) viewRef.current = fitView(bounds);
    schedule();
  }, [bounds, rows, dark, critical, schedule]);

  // Detail that arrived changes only the bars it covers: redraw, nothing else.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the model carries the detail
  useEffect(() => schedule(), [model, schedule]);

  // Running bars grow every second (drawing reads `now` from `latest`).
  // biome-ignore lint/correctness/useExhaustiveDependencies: redraw on each tick of the clock
  useEffect(() => {
    if (live) schedule();
  }, [now, live, schedule]);

  // Canvas size follows its box (the box exists once the model has loaded).
  const hasModel = model !== null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-attach when the canvas first appears
  useLayoutEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const resize = () => {
      const canvas = canvasRef.current;
      const mini = miniRef.current;
      const scroll = scrollRef.current;
      if (!canvas || !scroll) return;
      const w = scroll.clientWidth;
      const h = scroll.clientHeight;
      const dpr = window.devicePixelRatio || 1;
      size.current = { w, h };
      setViewH(h);
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
      if (mini) {
        const mw = Math.max(1, w - GUTTER);
        mini.width = Math.round(mw * dpr);
        mini.height = Math.round(MINIMAP_H * dpr);
        mini.style.width = `${mw}px`;
        mini.style.height = `${MINIMAP_H}px`;
      }
      miniCache.current = null;
      schedule();
    };
    const ro = new ResizeObserver(resize);
    ro.observe(wrap);
    resize();
    return () => ro.disconnect();
  }, [schedule, hasModel]);

  const setView = useCallback(
    (v: TimeView) => {
      viewRef.current = v;
      followFit.current = false;
      schedule();
    },
    [schedule],
  );
  const zoomBy = useCallback(
    (factor: number, anchorX?: number) => {
      const v = viewRef.current;
      const b = latest.current.bounds;
      if (!v || !b) return;
      const barsW = size.current.w - GUTTER;
      if (anchorX !== undefined) {
        // At the pointer: the time under it stays under it.
        setView(zoomView(v, factor, xToTime(v, barsW, anchorX), b));
        return;
      }
      // From the keyboard or the buttons: toward the rows on screen, so that zooming in on
      // a run of 100,000 tasks lands on the bars being looked at, not the run's middle.
      const { model: m, rows: r, now: n } = latest.current;
      const scroll = scrollRef.current;
      const first = Math.floor((scroll?.scrollTop ?? 0) / ROW_H);
      const last = Math.ceil(((scroll?.scrollTop ?? 0) + size.current.h - TOP_H) / ROW_H);
      const focus = m && r ? visibleTaskSpan(m, r, first, last, n) : null;
      const center = focus ? (focus.start + focus.end) / 2 : (v.start + v.end) / 2;
      const span = Math.max(v.end - v.start, 1) * factor;
      setView(clampView({ start: center - span / 2, end: center + span / 2 }, b));
    },
    [setView],
  );
  const fitAll = useCallback(() => {
    const b = latest.current.bounds;
    if (!b) return;
    viewRef.current = fitView(b);
    followFit.current = true;
    schedule();
  }, [schedule]);

  // Wheel: vertical scroll is native; ctrl/⌘ + wheel and trackpad pinch zoom; sideways pans.
  // biome-ignore lint/correctness/useExhaustiveDependencies: hasModel says when the box exists
  useEffect(() => {
    const scroll = scrollRef.current;
    if (!scroll) return;
    const onWheel = (e: WheelEvent) => {
      const rect = scroll.getBoundingClientRect();
      const x = e.clientX - rect.left - GUTTER;
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        zoomBy(Math.exp(e.deltaY * 0.01), Math.max(0, x));
      } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
        e.preventDefault();
        const v = viewRef.current;
        const b = latest.current.bounds;
        if (!v || !b) return;
        const d = e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX;
        setView(panView(v, (d / Math.max(1, size.current.w - GUTTER)) * (v.end - v.start), b));
      }
    };
    scroll.addEventListener('wheel', onWheel, { passive: false });
    return () => scroll.removeEventListener('wheel', onWheel);
    // The scroll box exists only once the timeline has loaded: attach then, or Ctrl+wheel
    // would zoom the page instead of the timeline on a cold load.
  }, [zoomBy, setView, hasModel]);

  // Keys: f fits, + and - zoom.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === 'f') fitAll();
      else if (e.key === '+' || e.key === '=') zoomBy(0.6);
      else if (e.key === '-') zoomBy(1 / 0.6);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [fitAll, zoomBy]);

  // Pointer: drag pans (both axes), two fingers pinch-zoom, a click opens a task.
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const drag = useRef<{
    x: number;
    y: number;
    moved: boolean;
    view: TimeView;
    top: number;
    pinch: number;
  } | null>(null);
  const local = (e: React.PointerEvent) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };
  const hitAt = (x: number, y: number): TimelineHit | null => {
    const { model: m, rows: r, now: n } = latest.current;
    const v = viewRef.current;
    const scroll = scrollRef.current;
    if (!m || !r || !v || !scroll || y < TOP_H) return null;
    const g = {
      rowHeight: ROW_H,
      scrollTop: scroll.scrollTop,
      width: size.current.w - GUTTER,
      view: v,
      now: n,
      slopPx: 3,
    };
    if (x < GUTTER) {
      const row = rowAt(r, g, y - TOP_H);
      if (row < 0) return null;
      const ref = r.ref[row] ?? 0;
      if (r.kind[row] === ROW_STEP) return { kind: 'step', row, step: ref };
      const to = m.taskAttemptOffset[ref + 1] ?? 0;
      const a = to > (m.taskAttemptOffset[ref] ?? 0) ? (m.taskAttempts[to - 1] ?? -1) : -1;
      return Number.isNaN(m.taskStart[ref] ?? Number.NaN) && a < 0
        ? null
        : { kind: 'attempt', row, task: ref, attempt: a };
    }
    return hitTest(m, r, g, x - GUTTER, y - TOP_H);
  };
  const onPointerDown = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const p = local(e);
    pointers.current.set(e.pointerId, p);
    e.currentTarget.setPointerCapture(e.pointerId);
    const v = viewRef.current;
    const scroll = scrollRef.current;
    if (!v || !scroll) return;
    const pts = [...pointers.current.values()];
    const pinch = pts.length === 2 && pts[0] && pts[1] ? Math.abs(pts[0].x - pts[1].x) : 0;
    drag.current = { x: p.x, y: p.y, moved: pinch > 0, view: v, top: scroll.scrollTop, pinch };
  };
  const onPointerMove = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const p = local(e);
    const d = drag.current;
    const b = latest.current.bounds;
    const scroll = scrollRef.current;
    if (d && b && scroll && pointers.current.has(e.pointerId)) {
      pointers.current.set(e.pointerId, p);
      const pts = [...pointers.current.values()];
      const barsW = Math.max(1, size.current.w - GUTTER);
      if (pts.length === 2 && pts[0] && pts[1] && d.pinch > 0) {
        const dist = Math.max(10, Math.abs(pts[0].x - pts[1].x));
        const mid = (pts[0].x + pts[1].x) / 2 - GUTTER;
        setView(zoomView(d.view, d.pinch / dist, xToTime(d.view, barsW, mid), b));
        return;
      }
      const dx = p.x - d.x;
      const dy = p.y - d.y;
      if (!d.moved && Math.abs(dx) + Math.abs(dy) > 4) d.moved = true;
      if (d.moved) {
        setView(panView(d.view, (-dx / barsW) * (d.view.end - d.view.start), b));
        scroll.scrollTop = d.top - dy;
        setHover(null);
        return;
      }
    }
    const hit = hitAt(p.x, p.y);
    const row = hit?.row ?? -1;
    if (row !== hoverRow.current) {
      hoverRow.current = row;
      schedule();
    }
    setHover(hit?.kind === 'attempt' ? { hit, x: p.x, y: p.y } : null);
  };
  const onPointerUp = (e: React.PointerEvent<HTMLCanvasElement>) => {
    pointers.current.delete(e.pointerId);
    const d = drag.current;
    drag.current = null;
    if (!d || d.moved || pointers.current.size > 0) return;
    const p = local(e);
    const hit = hitAt(p.x, p.y);
    const m = latest.current.model;
    if (!hit || !m) return;
    if (hit.kind === 'step') {
      setCollapsed((c) => {
        const n = new Set(c);
        if (n.has(hit.step)) n.delete(hit.step);
        else n.add(hit.step);
        return n;
      });
    } else {
      const step = m.steps[m.taskStep[hit.task] ?? 0] ?? '';
      const attempt =
        hit.attempt >= 0
          ? (m.attemptNumber[hit.attempt] ?? 0)
          : Math.max(0, (m.taskAttemptCount[hit.task] ?? 1) - 1);
      const url = taskUrl(flow, run, step, taskIdAt(m, hit.task), attempt);
      if (e.metaKey || e.ctrlKey) window.open(`.${url}`, '_blank');
      else navigate(url);
    }
  };
  const onMinimap = (e: React.PointerEvent<HTMLCanvasElement>) => {
    if (e.type === 'pointermove' && e.buttons !== 1) return;
    if (e.type === 'pointerdown') e.currentTarget.setPointerCapture(e.pointerId);
    const { bounds: b, rows: r } = latest.current;
    const v = viewRef.current;
    const scroll = scrollRef.current;
    if (!b || !v || !r || !scroll) return;
    const rect = e.currentTarget.getBoundingClientRect();
    const full = fitView(b);
    const t = full.start + ((e.clientX - rect.left) / rect.width) * (full.end - full.start);
    const span = v.end - v.start;
    setView(panView({ start: t - span / 2, end: t + span / 2 }, 0, b));
    const frac = (e.clientY - rect.top) / rect.height;
    scroll.scrollTop = frac * r.count * ROW_H - (size.current.h - TOP_H) / 2;
  };

  if (query.isPending) return <Loading what="the timeline" />;
  if (query.isError)
    return (
      <ErrorState error={query.error} what="the timeline" onRetry={() => void query.refetch()} />
    );
  if (!model || !rows) return null;
  if (model.nTasks === 0) return <EmptyState title="No tasks have started in this run yet." />;

  const toggleStatus = (s: number) =>
    setStatuses((cur) => {
      const n = new Set(cur);
      if (n.has(s)) n.delete(s);
      else n.add(s);
      return n;
    });
  const allCollapsed = collapsed.size >= model.steps.length;
  const totalH = rows.count * ROW_H + TOP_H;

  return (
    <div className="timeline">
      <div className="toolbar timeline-toolbar">
        <button
          type="button"
          className="btn btn-small"
          onClick={() =>
            setCollapsed(allCollapsed ? new Set() : new Set(model.steps.map((_, i) => i)))
          }
        >
          {allCollapsed ? 'Expand all' : 'Collapse all'}
        </button>
        <fieldset className="status-toggles" aria-label="Show tasks by status">
          {STATUS_NAMES.map((name, i) => (
            <label key={name} className="chip-check">
              <input type="checkbox" checked={statuses.has(i)} onChange={() => toggleStatus(i)} />
              <StatusIcon status={name} />
              {name}
            </label>
          ))}
        </fieldset>
        <label className="inline">
          Step{' '}
          <select
            value={stepFilter ?? ''}
            onChange={(e) => setStepFilter(e.target.value === '' ? null : Number(e.target.value))}
          >
            <option value="">all</option>
            {model.steps.map((s, i) => (
              <option key={s} value={i}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Order{' '}
          <select value={order} onChange={(e) => setOrder(e.target.value as TimelineOrder)}>
            <option value="start">start</option>
            <option value="end">end</option>
            <option value="duration">duration</option>
          </select>
        </label>
        <label className="chip-check" title="The chain of tasks that decided the run's duration">
          <input
            type="checkbox"
            checked={showCritical}
            onChange={(e) => setShowCritical(e.target.checked)}
          />
          critical path
        </label>
        <span className="spacer" />
        <span className="muted">
          {plural(model.nTasks, 'task')} · {plural(attemptTotal(model), 'attempt')}
          {critical ? ` · critical path: ${plural(critical.path.length, 'task')}` : ''}
        </span>
        <fieldset className="segmented" aria-label="Zoom">
          <button type="button" onClick={fitAll} title="Fit the whole run (f)">
            Fit
          </button>
          <button
            type="button"
            onClick={() => zoomBy(1 / 0.6)}
            title="Zoom out (-)"
            aria-label="Zoom out"
          >
            −
          </button>
          <button
            type="button"
            onClick={() => zoomBy(0.6)}
            title="Zoom in (+)"
            aria-label="Zoom in"
          >
            +
          </button>
        </fieldset>
      </div>
      <div className="timeline-body" ref={wrapRef}>
        {/* Focusable, so the rows scroll with the keyboard too (the canvas itself cannot). */}
        <div
          className="timeline-scroll"
          ref={scrollRef}
          onScroll={schedule}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
          tabIndex={0}
          role="region"
          aria-label="Timeline rows"
        >
          <canvas
            ref={canvasRef}
            className="timeline-canvas"
            data-testid="timeline-canvas"
            role="img"
            aria-label="Timeline of every task attempt by step; the Tasks tab lists the same tasks as a table"
            onPointerDown={onPointerDown}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
            onPointerCancel={onPointerUp}
            onPointerLeave={() => {
              hoverRow.current = -1;
              setHover(null);
              schedule();
            }}
          />
          <div style={{ height: Math.max(0, totalH - viewH) }} aria-hidden />
        </div>
        {hover && hover.hit.kind === 'attempt' ? (
          <HoverCard
            x={hover.x}
            y={hover.y}
            task={hover.hit.task}
            attempt={hover.hit.attempt}
            model={model}
            now={now}
            tz={tz}
            areaW={size.current.w}
            areaH={viewH}
          />
        ) : null}
      </div>
      <div className="minimap-row">
        <span className="muted minimap-label">Overview · drag to move</span>
        <canvas
          ref={miniRef}
          className="minimap"
          onPointerDown={onMinimap}
          onPointerMove={onMinimap}
          role="img"
          aria-label="Overview of the whole run"
        />
      </div>
    </div>
  );
}

function attemptTotal(m: TimelineModel): number {
  let n = 0;
  for (let i = 0; i < m.nTasks; i++) n += m.taskAttemptCount[i] ?? 0;
  return n;
}

function HoverCard({
  x,
  y,
  task,
  attempt,
  model,
  now,
  tz,
  areaW,
  areaH,
}: {
  areaW: number;
  areaH: number;
  x: number;
  y: number;
  task: number;
  /** The attempt's index in the model, or -1 (its attempts are not loaded yet). */
  attempt: number;
  model: TimelineModel;
  now: number;
  tz: 'local' | 'utc';
}) {
  const whole = attempt < 0;
  const start = whole
    ? (model.taskStart[task] ?? Number.NaN)
    : (model.attemptStart[attempt] ?? Number.NaN);
  const endRaw = whole
    ? (model.taskEnd[task] ?? Number.NaN)
    : (model.attemptEnd[attempt] ?? Number.NaN);
  const code = whole ? (model.taskStatus[task] ?? 0) : (model.attemptStatus[attempt] ?? 0);
  const status = STATUS_NAMES[code] ?? 'pending';
  const nAttempts = model.taskAttemptCount[task] ?? 0;
  const label = model.taskDetail[task]?.label;
  const end = whole ? taskBarEnd(model, task, now) : attemptBarEnd(model, attempt, now);
  return (
    <div
      className="hover-card"
      // Keep the card on screen: flip it to the left of / above the pointer near the edges.
      style={{
        left: x + 270 > areaW ? Math.max(0, x - 254) : x + 14,
        top: y + 160 > areaH ? Math.max(0, y - 150) : y + 14,
      }}
      role="tooltip"
    >
      <div className="mono strong">
        {model.steps[model.taskStep[task] ?? 0]}/{taskIdAt(model, task)}
      </div>
      {label ? <div className="mono">{label}</div> : null}
      <div>
        {whole
          ? `${nAttempts} attempt${nAttempts === 1 ? '' : 's'}`
          : `attempt ${model.attemptNumber[attempt]}${nAttempts > 1 ? ` of ${nAttempts}` : ''}`}{' '}
        · <span className={`status-text status-${status}`}>{statusLabel(status)}</span>
      </div>
      {/* Over an attempt's bar, its own times, named as the attempt's (docs/API.md). */}
      <div>
        {whole ? 'started' : 'attempt started'} {formatTime(start, tz)}
      </div>
      <div>
        {Number.isNaN(endRaw)
          ? status === 'running'
            ? 'still running'
            : 'no end recorded'
          : `${whole ? 'finished' : 'attempt finished'} ${formatTime(endRaw, tz)}`}
      </div>
      <div>
        {whole ? 'duration' : 'attempt duration'} {formatDuration(end - start)}
      </div>
      <div className="muted">click to open</div>
    </div>
  );
}
