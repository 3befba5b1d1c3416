// The visible time window and its mapping to pixels: pure, so zoom and pan are testable.

export interface TimeView {
  start: number;
  end: number;
}

export const MIN_SPAN_MS = 10;

export function timeToX(v: TimeView, width: number, t: number): number {
  return ((t - v.start) / (v.end - v.start)) * width;
}

export function xToTime(v: TimeView, width: number, x: number): number {
  return v.start + (x / Math.max(1, width)) * (v.end - v.start);
}

/** The whole run with a little air: 2% before, 6% after for the last bar's duration label. */
export function fitView(bounds: TimeView): TimeView {
  const span = Math.max(bounds.end - bounds.start, MIN_SPAN_MS);
  return { start: bounds.start - span * 0.02, end: bounds.start + span * 1.06 };
}

/** Keeps a view inside the run (with the fit padding) without changing its span if it fits. */
export function clampView(v: TimeView, bounds: TimeView): TimeView {
  const outer = fitView(bounds);
  const span = Math.min(Math.max(v.end - v.start, MIN_SPAN_MS), outer.end - outer.start);
  let start = v.start;
  if (start < outer.start) start = outer.start;
  if (start + span > outer.end) start = outer.end - span;
  return { start, end: start + span };
}

/** Zoom by `factor` (< 1 zooms in) keeping time `anchor` at the same pixel. */
export function zoomView(v: TimeView, factor: number, anchor: number, bounds: TimeView): TimeView {
  const span = v.end - v.start;
  const next = Math.max(span * factor, MIN_SPAN_MS);
  const frac = span > 0 ? (anchor - v.start) / span : 0.5;
  const start = anchor - frac * next;
  return clampView({ start, end: start + next }, bounds);
}

export function panView(v: TimeView, deltaMs: number, bounds: TimeView): TimeView {
  return clampView({ start: v.start + deltaMs, end: v.end + deltaMs }, bounds);
}

const NICE_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000,
  300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
  86_400_000, 172_800_000, 604_800_000,
];

/**
 * Axis ticks, relative to `origin` (the run start), at a round step that leaves at least
 * `minPx` pixels between labels.
 */
export function niceTicks(
  v: TimeView,
  width: number,
  origin: number,
  minPx = 80,
): { step: number; ticks: number[] } {
  const span = v.end - v.start;
  const wanted = (span * minPx) / Math.max(1, width);
  const step = NICE_STEPS.find((s) => s >= wanted) ?? Math.ceil(wanted / 604_800_000) * 604_800_000;
  const first = Math.ceil((v.start - origin) / step) * step + origin;
  const ticks: number[] = [];
  for (let t = first; t <= v.end && ticks.length < 1000; t += step) ticks.push(t);
  return { step, ticks };
}

/**
 * An axis label for `ms` after the run start, as precise as the tick `step`: whole hours
 * or minutes when zoomed out, seconds and then milliseconds as the zoom deepens, so that
 * neighbouring labels always differ ("1:02:03.250" at 10 ms ticks two hours in).
 */
export function tickLabel(ms: number, step: number): string {
  const sign = ms < 0 ? '-' : '';
  let a = Math.abs(Math.round(ms));
  const decimals = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
  const h = Math.floor(a / 3_600_000);
  a -= h * 3_600_000;
  const m = Math.floor(a / 60_000);
  a -= m * 60_000;
  const s = a / 1000;
  const sec = decimals
    ? s.toFixed(decimals).padStart(decimals + 3, '0')
    : String(Math.round(s)).padStart(2, '0');
  if (step >= 3_600_000 && m === 0 && s === 0) return `${sign}${h}h`;
  if (step >= 60_000 && s === 0)
    return h ? `${sign}${h}:${String(m).padStart(2, '0')}` : `${sign}${m}m`;
  if (h) return `${sign}${h}:${String(m).padStart(2, '0')}:${sec}`;
  if (m) return `${sign}${m}:${sec}`;
  return `${sign}${decimals ? s.toFixed(decimals) : Math.round(s)}s`;
}
