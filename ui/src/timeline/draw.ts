// Canvas drawing of the timeline. Reads only the typed arrays and draws only the rows and
// times in view, so its cost depends on the screen size, not on the number of tasks
// (the density lane is one pass over the tasks, cached per view by its caller).
import { formatDuration } from '../components/format';
import type { LaneCounts } from './lane';
import { ROW_STEP, type TimelineRows } from './layout';
import { attemptBarEnd, hasAttempts, type TimelineModel, taskBarEnd, taskIdAt } from './model';
import { drawStatusGlyph } from './statusGlyph';
import { niceTicks, type TimeView, tickLabel, timeToX } from './viewport';

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
/** The density lane under the axis. */
export const LANE_H = 26;
/** Where the rows begin. */
export const TOP_H = AXIS_H + LANE_H;
export const GUTTER = 280;

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
  lane: LaneCounts | null;
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
  const last = Math.min(rows.count - 1, Math.ceil((s.scrollTop + height - TOP_H) / rh));
  const x = (t: number) => GUTTER + timeToX(s.view, barsW, t);

  // Grid lines under everything.
  const { step, ticks } = niceTicks(s.view, barsW, s.origin);
  ctx.fillStyle = p.grid;
  for (const t of ticks) ctx.fillRect(Math.round(x(t)), AXIS_H, 1, height - AXIS_H);

  // Bars, clipped to the bar area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(GUTTER, TOP_H, barsW, height - TOP_H);
  ctx.clip();
  for (let r = first; r <= last; r++) {
    const y = TOP_H + r * rh - s.scrollTop;
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
      }
      continue;
    }
    if (r === s.hoverRow) {
      ctx.fillStyle = p.hover;
      ctx.fillRect(GUTTER, y, barsW, rh);
    }
    const dim = s.critical !== null && s.critical[ref] !== 1;
    ctx.globalAlpha = dim ? 0.25 : 1;
    let x0 = Number.NaN;
    let x1 = Number.NaN;
    if (hasAttempts(m, ref)) {
      // One bar per attempt, so retries show side by side.
      for (let k = m.taskAttemptOffset[ref] ?? 0; k < (m.taskAttemptOffset[ref + 1] ?? 0); k++) {
        const a = m.taskAttempts[k] ?? 0;
        const st = m.attemptStart[a] ?? Number.NaN;
        if (Number.isNaN(st)) continue;
        const a0 = x(st);
        const a1 = Math.max(a0 + 2, x(attemptBarEnd(m, a, s.now)));
        if (Number.isNaN(x0)) x0 = a0;
        x1 = Number.isNaN(x1) ? a1 : Math.max(x1, a1);
        if (a1 < GUTTER - 2 || a0 > width) continue;
        ctx.fillStyle = p.status[m.attemptStatus[a] ?? 0] ?? p.muted;
        ctx.fillRect(a0, y + 5, a1 - a0, rh - 10);
      }
    } else {
      // Detail not loaded (yet): the task's whole span in its final colour.
      const st = m.taskStart[ref] ?? Number.NaN;
      if (!Number.isNaN(st)) {
        x0 = x(st);
        x1 = Math.max(x0 + 2, x(taskBarEnd(m, ref, s.now)));
        if (x1 >= GUTTER - 2 && x0 <= width) {
          ctx.fillStyle = p.status[m.taskStatus[ref] ?? 0] ?? p.muted;
          ctx.fillRect(x0, y + 5, x1 - x0, rh - 10);
        }
      }
    }
    if (s.critical && !dim && !Number.isNaN(x0)) {
      ctx.strokeStyle = p.text;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x0 - 1, y + 4, x1 - x0 + 2, rh - 8);
    }
    ctx.globalAlpha = 1;
  }
  ctx.restore();

  drawGutter(ctx, m, rows, s, p, first, last);
  drawLane(ctx, s, p, barsW);

  // Axis on top.
  ctx.fillStyle = p.surface;
  ctx.fillRect(0, 0, width, AXIS_H);
  ctx.fillStyle = p.border;
  ctx.fillRect(0, AXIS_H - 1, width, 1);
  ctx.fillRect(0, TOP_H - 1, width, 1);
  ctx.fillStyle = p.muted;
  ctx.fillText('time since run start', 8, AXIS_H / 2);
  ctx.fillText('tasks running', 8, AXIS_H + LANE_H / 2);
  for (const t of ticks) {
    const tx = x(t);
    if (tx < GUTTER) continue;
    ctx.fillRect(Math.round(tx), AXIS_H - 6, 1, 5);
    ctx.fillText(tickLabel(t - s.origin, step), tx + 3, AXIS_H / 2 - 1);
  }
}

/** Row names and, right-aligned, each row's duration. */
function drawGutter(
  ctx: CanvasRenderingContext2D,
  m: TimelineModel,
  rows: TimelineRows,
  s: DrawState,
  p: Palette,
  first: number,
  last: number,
) {
  const { height, rowHeight: rh } = s;
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, TOP_H, GUTTER, height - TOP_H);
  ctx.clip();
  ctx.fillStyle = p.surface;
  ctx.fillRect(0, TOP_H, GUTTER, height - TOP_H);
  const right = GUTTER - 8;
  for (let r = first; r <= last; r++) {
    const y = TOP_H + r * rh - s.scrollTop;
    const cy = y + rh / 2;
    const ref = rows.ref[r] ?? 0;
    let duration = '';
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
      const s0 = rows.stepStart[ref] ?? Number.NaN;
      const s1 = rows.stepEnd[ref] ?? Number.NaN;
      if (!Number.isNaN(s0) && !Number.isNaN(s1)) duration = formatDuration(s1 - s0);
    } else {
      if (r === s.hoverRow) {
        ctx.fillStyle = p.hover;
        ctx.fillRect(0, y, GUTTER, rh);
      }
      const status = m.taskStatus[ref] ?? 0;
      drawStatusGlyph(ctx, 26, cy, status, p.status[status] ?? p.muted);
      ctx.fillStyle = p.text;
      const id = taskIdAt(m, ref);
      ctx.fillText(id, 38, cy);
      const label = m.taskDetail[ref]?.label;
      if (label) {
        ctx.fillStyle = p.muted;
        ctx.fillText(label, 44 + ctx.measureText(id).width, cy);
      }
      const st = m.taskStart[ref] ?? Number.NaN;
      if (!Number.isNaN(st)) duration = formatDuration(taskBarEnd(m, ref, s.now) - st);
    }
    if (duration) {
      const w = ctx.measureText(duration).width;
      // Over any long label: the duration wins the right edge.
      ctx.fillStyle = rows.kind[r] === ROW_STEP ? p.header : p.surface;
      ctx.fillRect(right - w - 8, y + 1, w + 16, rh - 2);
      if (r === s.hoverRow && rows.kind[r] !== ROW_STEP) {
        ctx.fillStyle = p.hover;
        ctx.fillRect(right - w - 8, y + 1, w + 16, rh - 2);
      }
      ctx.fillStyle = p.muted;
      ctx.textAlign = 'right';
      ctx.fillText(duration, right, cy);
      ctx.textAlign = 'left';
    }
  }
  ctx.restore();
  ctx.fillStyle = p.border;
  ctx.fillRect(GUTTER - 1, AXIS_H, 1, height - AXIS_H);
}

/** Tasks running per pixel column, stacked by outcome; any failure shows, however few. */
function drawLane(ctx: CanvasRenderingContext2D, s: DrawState, p: Palette, barsW: number) {
  ctx.fillStyle = p.surface;
  ctx.fillRect(0, AXIS_H, s.width, LANE_H);
  const lane = s.lane;
  if (!lane || lane.max === 0) return;
  const h = LANE_H - 4;
  const bottom = AXIS_H + LANE_H - 2;
  const scale = h / lane.max;
  const colW = barsW / lane.width;
  for (let c = 0; c < lane.width; c++) {
    const done = lane.completed[c] ?? 0;
    const bad = lane.failed[c] ?? 0;
    const going = lane.running[c] ?? 0;
    if (!done && !bad && !going) continue;
    const x0 = GUTTER + c * colW;
    let y = bottom;
    const part = (count: number, color: string, min: number) => {
      if (!count) return;
      const ph = Math.max(min, count * scale);
      ctx.fillStyle = color;
      ctx.fillRect(x0, y - ph, Math.max(1, colW), ph);
      y -= ph;
    };
    part(done, p.status[2], 1);
    part(going, p.status[1], 1);
    part(bad, p.status[3], 3);
  }
}

/**
 * The whole run in miniature, drawn once per data change into an offscreen canvas of
 * `width` x `height` device pixels. Each pixel counts the tasks whose bars cross it
 * (100,000 rows share 44 pixel rows), written straight into the image: a pixel is red
 * where any task failed, blue where one runs, green where all completed, darker where
 * more tasks pass through it.
 */
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
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round(height));
  ctx.fillStyle = p.header;
  ctx.fillRect(0, 0, w, h);
  if (!rows.count) return;
  const counts = new Uint32Array(w * h * 3); // completed, failed, running
  const span = bounds.end - bounds.start;
  for (let r = 0; r < rows.count; r++) {
    if (rows.kind[r] === ROW_STEP) continue;
    const task = rows.ref[r] ?? 0;
    const st = m.taskStart[task] ?? Number.NaN;
    if (Number.isNaN(st)) continue;
    const code = m.taskStatus[task] ?? 0;
    const lane = code === 3 ? 1 : code === 1 ? 2 : code === 2 ? 0 : -1;
    if (lane < 0) continue;
    const x0 = Math.max(0, Math.min(w - 1, Math.floor(((st - bounds.start) / span) * w)));
    const e = taskBarEnd(m, task, now);
    const x1 = Math.max(x0, Math.min(w - 1, Math.floor(((e - bounds.start) / span) * w)));
    const y0 = Math.floor((r * h) / rows.count);
    const y1 = Math.max(y0, Math.floor(((r + 1) * h) / rows.count) - 1);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const at = (y * w + x) * 3 + lane;
        counts[at] = (counts[at] ?? 0) + 1;
      }
    }
  }
  const image = ctx.getImageData(0, 0, w, h);
  const px = image.data;
  const colors = [rgb(ctx, p.status[2]), rgb(ctx, p.status[3]), rgb(ctx, p.status[1])];
  // Deeper colour for more tasks per pixel, relative to the rows one pixel row holds.
  const full = Math.max(1, rows.count / h);
  for (let c = 0; c < w * h; c++) {
    const done = counts[c * 3] ?? 0;
    const bad = counts[c * 3 + 1] ?? 0;
    const going = counts[c * 3 + 2] ?? 0;
    const total = done + bad + going;
    if (!total) continue;
    const color = bad ? colors[1] : going ? colors[2] : colors[0];
    if (!color) continue;
    const alpha = bad ? 1 : 0.45 + 0.55 * Math.min(1, total / full);
    const o = c * 4;
    px[o] = (px[o] ?? 0) * (1 - alpha) + color[0] * alpha;
    px[o + 1] = (px[o + 1] ?? 0) * (1 - alpha) + color[1] * alpha;
    px[o + 2] = (px[o + 2] ?? 0) * (1 - alpha) + color[2] * alpha;
  }
  ctx.putImageData(image, 0, 0);
}

/** A CSS colour as [r, g, b], read back from the canvas itself. */
function rgb(ctx: CanvasRenderingContext2D, color: string): [number, number, number] {
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const keep = ctx.getImageData(0, 0, 1, 1);
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  ctx.putImageData(keep, 0, 0);
  ctx.restore();
  return [d[0] ?? 0, d[1] ?? 0, d[2] ?? 0];
}
