// Canvas drawing of the timeline. Reads only the typed arrays and draws only the rows and
// times in view, so its cost depends on the screen size, not on the number of tasks.
import { formatDuration, formatTick } from '../components/format';
import { ROW_STEP, type TimelineRows } from './layout';
import { attemptBarEnd, type TimelineModel } from './model';
import { drawStatusGlyph } from './statusGlyph';
import { niceTicks, type TimeView, timeToX } from './viewport';

export interface Palette {
  bg: string;
  surface: string;
  header: string;
  grid: string;
  text: string;
  muted: string;
  border: string;
  hover: string;
  accent: string;
  status: [string, string, string, string];
}

export function readPalette(el: Element): Palette {
  const cs = getComputedStyle(el);
  const v = (name: string, fallback: string) => cs.getPropertyValue(name).trim() || fallback;
  return {
    bg: v('--surface', '#fff'),
    surface: v('--surface', '#fff'),
    header: v('--surface-2', '#f3f4f6'),
    grid: v('--grid', '#eceef1'),
    text: v('--text', '#1f2328'),
    muted: v('--text-muted', '#6b7280'),
    border: v('--border', '#d8dce1'),
    hover: v('--hover', 'rgba(47,125,225,0.08)'),
    accent: v('--accent', '#2f7de1'),
    status: [
      v('--st-pending', '#a0a7b1'),
      v('--st-running', '#2f7de1'),
      v('--st-completed', '#2e9e5b'),
      v('--st-failed', '#d9443a'),
    ],
  };
}

export const AXIS_H = 26;
export const GUTTER = 240;

export interface DrawState {
  width: number;
  height: number;
  rowHeight: number;
  scrollTop: number;
  view: TimeView;
  origin: number;
  now: number;
  hoverRow: number;
  collapsed: ReadonlySet<number>;
  /** 1 for tasks on the critical path, when it is shown. */
  critical: Uint8Array | null;
  font: string;
}

export function drawTimeline(
  ctx: CanvasRenderingContext2D,
  m: TimelineModel,
  rows: TimelineRows,
  s: DrawState,
  p: Palette,
) {
  const { width, height, rowHeight: rh } = s;
  const barsW = Math.max(1, width - GUTTER);
  ctx.fillStyle = p.bg;
  ctx.fillRect(0, 0, width, height);
  ctx.font = s.font;
  ctx.textBaseline = 'middle';

  const first = Math.max(0, Math.floor(s.scrollTop / rh));
  const last = Math.min(rows.count - 1, Math.ceil((s.scrollTop + height - AXIS_H) / rh));
  const x = (t: number) => GUTTER + timeToX(s.view, barsW, t);

  // Grid lines under everything.
  const { ticks } = niceTicks(s.view, barsW, s.origin);
  ctx.fillStyle = p.grid;
  for (const t of ticks) ctx.fillRect(Math.round(x(t)), AXIS_H, 1, height - AXIS_H);

  // Bars, clipped to the bar area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(GUTTER, AXIS_H, barsW, height - AXIS_H);
  ctx.clip();
  for (let r = first; r <= last; r++) {
    const y = AXIS_H + r * rh - s.scrollTop;
    const ref = rows.ref[r] ?? 0;
    if (rows.kind[r] === ROW_STEP) {
      ctx.fillStyle = p.header;
      ctx.fillRect(GUTTER, y, barsW, rh);
      const s0 = rows.stepStart[ref] ?? Number.NaN;
      const s1 = rows.stepEnd[ref] ?? Number.NaN;
      if (!Number.isNaN(s0) && !Number.isNaN(s1)) {
        const x0 = x(s0);
        const x1 = Math.max(x0 + 2, x(s1));
        ctx.fillStyle = p.border;
        ctx.fillRect(x0, y + rh / 2 - 3, x1 - x0, 6);
        if (x1 + 6 < width) {
          ctx.fillStyle = p.muted;
          ctx.fillText(formatDuration(s1 - s0), x1 + 6, y + rh / 2);
        }
      }
      continue;
    }
    if (r === s.hoverRow) {
      ctx.fillStyle = p.hover;
      ctx.fillRect(GUTTER, y, barsW, rh);
    }
    const from = m.taskAttemptOffset[ref] ?? 0;
    const to = m.taskAttemptOffset[ref + 1] ?? 0;
    const dim = s.critical !== null && s.critical[ref] !== 1;
    ctx.globalAlpha = dim ? 0.25 : 1;
    let endX = Number.NEGATIVE_INFINITY;
    let first0 = Number.NaN;
    for (let k = from; k < to; k++) {
      const a = m.taskAttempts[k] ?? 0;
      const st = m.attemptStart[a] ?? Number.NaN;
      if (Number.isNaN(st)) continue;
      if (Number.isNaN(first0)) first0 = st;
      const x0 = x(st);
      const x1 = Math.max(x0 + 2, x(attemptBarEnd(m, a, s.now)));
      if (x1 < GUTTER - 2 || x0 > width) continue;
      ctx.fillStyle = p.status[m.attemptStatus[a] ?? 0] ?? p.muted;
      ctx.fillRect(x0, y + 5, x1 - x0, rh - 10);
      if (x1 > endX) endX = x1;
    }
    if (s.critical && !dim && endX > Number.NEGATIVE_INFINITY) {
      ctx.strokeStyle = p.text;
      ctx.lineWidth = 1.5;
      const a0 = m.taskAttempts[from] ?? 0;
      const x0 = x(m.attemptStart[a0] ?? 0);
      ctx.strokeRect(x0 - 1, y + 4, endX - x0 + 2, rh - 8);
    }
    ctx.globalAlpha = 1;
    if (endX > Number.NEGATIVE_INFINITY && endX + 60 < width && !Number.isNaN(first0)) {
      const lastA = m.taskAttempts[to - 1] ?? 0;
      ctx.fillStyle = p.muted;
      ctx.fillText(formatDuration(attemptBarEnd(m, lastA, s.now) - first0), endX + 5, y + rh / 2);
    }
  }
  ctx.restore();

  // Gutter: step headers and task labels.
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, AXIS_H, GUTTER, height - AXIS_H);
  ctx.clip();
  ctx.fillStyle = p.surface;
  ctx.fillRect(0, AXIS_H, GUTTER, height - AXIS_H);
  for (let r = first; r <= last; r++) {
    const y = AXIS_H + r * rh - s.scrollTop;
    const cy = y + rh / 2;
    const ref = rows.ref[r] ?? 0;
    if (rows.kind[r] === ROW_STEP) {
      ctx.fillStyle = p.header;
      ctx.fillRect(0, y, GUTTER, rh);
      ctx.fillStyle = p.muted;
      ctx.fillText(s.collapsed.has(ref) ? '▸' : '▾', 8, cy);
      ctx.fillStyle = p.text;
      ctx.font = `600 ${s.font}`;
      const name = m.steps[ref] ?? '?';
      ctx.fillText(name, 22, cy);
      const nameW = ctx.measureText(name).width;
      ctx.font = s.font;
      ctx.fillStyle = p.muted;
      ctx.fillText(`(${rows.stepTasks[ref] ?? 0})`, 26 + nameW, cy);
      continue;
    }
    if (r === s.hoverRow) {
      ctx.fillStyle = p.hover;
      ctx.fillRect(0, y, GUTTER, rh);
    }
    const status = m.taskStatus[ref] ?? 0;
    drawStatusGlyph(ctx, 26, cy, status, p.status[status] ?? p.muted);
    ctx.fillStyle = p.text;
    const id = m.taskId[ref] ?? '';
    ctx.fillText(id, 38, cy);
    const label = m.taskLabel[ref];
    if (label) {
      ctx.fillStyle = p.muted;
      ctx.fillText(label, 44 + ctx.measureText(id).width, cy);
    }
  }
  ctx.restore();
  ctx.fillStyle = p.border;
  ctx.fillRect(GUTTER - 1, AXIS_H, 1, height - AXIS_H);

  // Axis on top.
  ctx.fillStyle = p.surface;
  ctx.fillRect(0, 0, width, AXIS_H);
  ctx.fillStyle = p.border;
  ctx.fillRect(0, AXIS_H - 1, width, 1);
  ctx.fillStyle = p.muted;
  ctx.fillText('time since run start', 8, AXIS_H / 2);
  for (const t of ticks) {
    const tx = x(t);
    if (tx < GUTTER) continue;
    ctx.fillRect(Math.round(tx), AXIS_H - 6, 1, 5);
    ctx.fillText(formatTick(t - s.origin), tx + 3, AXIS_H / 2 - 1);
  }
}

/** The whole run in miniature: drawn once per data change into an offscreen canvas. */
export function drawMinimap(
  ctx: CanvasRenderingContext2D,
  m: TimelineModel,
  rows: TimelineRows,
  bounds: TimeView,
  width: number,
  height: number,
  now: number,
  p: Palette,
) {
  ctx.fillStyle = p.header;
  ctx.fillRect(0, 0, width, height);
  if (!rows.count) return;
  const yScale = height / rows.count;
  const h = Math.max(1, yScale);
  for (let r = 0; r < rows.count; r++) {
    if (rows.kind[r] === ROW_STEP) continue;
    const task = rows.ref[r] ?? 0;
    const y = r * yScale;
    for (let k = m.taskAttemptOffset[task] ?? 0; k < (m.taskAttemptOffset[task + 1] ?? 0); k++) {
      const a = m.taskAttempts[k] ?? 0;
      const st = m.attemptStart[a] ?? Number.NaN;
      if (Number.isNaN(st)) continue;
      const x0 = timeToX(bounds, width, st);
      const x1 = Math.max(x0 + 1, timeToX(bounds, width, attemptBarEnd(m, a, now)));
      ctx.fillStyle = p.status[m.attemptStatus[a] ?? 0] ?? p.muted;
      ctx.fillRect(x0, y, x1 - x0, h);
    }
  }
}
