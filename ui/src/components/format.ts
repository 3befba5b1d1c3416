export type TimeZoneMode = 'local' | 'utc';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** "2h 48m 25s", "4m 47s", "20.0s", "350ms"; null or negative shows a dash. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) {
    const s = ms / 1000;
    return s < 10 ? `${s.toFixed(1)}s` : `${Math.floor(s)}s`;
  }
  const totalS = Math.floor(ms / 1000);
  const d = Math.floor(totalS / 86400);
  const h = Math.floor((totalS % 86400) / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  return `${m}m ${s}s`;
}

/** Short form for axis ticks: "0", "500ms", "30s", "5m", "1h 30m". */
export function formatTick(ms: number): string {
  if (ms === 0) return '0';
  const sign = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)}ms`;
  if (a < 60_000) return `${sign}${+(a / 1000).toFixed(1)}s`;
  if (a < 3_600_000) {
    const m = Math.floor(a / 60_000);
    const s = Math.round((a % 60_000) / 1000);
    return s ? `${sign}${m}m ${s}s` : `${sign}${m}m`;
  }
  const h = Math.floor(a / 3_600_000);
  const m = Math.round((a % 3_600_000) / 60_000);
  return m ? `${sign}${h}h ${m}m` : `${sign}${h}h`;
}

interface Parts {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number;
}

function parts(epochMs: number, tz: TimeZoneMode): Parts {
  const t = new Date(epochMs);
  return tz === 'utc'
    ? {
        y: t.getUTCFullYear(),
        mo: t.getUTCMonth() + 1,
        d: t.getUTCDate(),
        h: t.getUTCHours(),
        mi: t.getUTCMinutes(),
        s: t.getUTCSeconds(),
        ms: t.getUTCMilliseconds(),
      }
    : {
        y: t.getFullYear(),
        mo: t.getMonth() + 1,
        d: t.getDate(),
        h: t.getHours(),
        mi: t.getMinutes(),
        s: t.getSeconds(),
        ms: t.getMilliseconds(),
      };
}

/** "2026-11-26 07:00:03" in local time or UTC (UTC gets a "Z" suffix). */
export function formatTime(epochMs: number | null | undefined, tz: TimeZoneMode): string {
  if (epochMs === null || epochMs === undefined || !Number.isFinite(epochMs)) return '—';
  const p = parts(epochMs, tz);
  const text = `${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  return tz === 'utc' ? `${text}Z` : text;
}

/** Time of day with milliseconds, for log lines: "07:00:03.123". */
export function formatClock(epochMs: number | null | undefined, tz: TimeZoneMode): string {
  if (epochMs === null || epochMs === undefined || !Number.isFinite(epochMs)) return '';
  const p = parts(epochMs, tz);
  return `${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}.${pad(p.ms, 3)}`;
}

/** "just now", "5m ago", "3h ago", "2d ago". */
export function formatRelative(epochMs: number | null | undefined, now: number): string {
  if (epochMs === null || epochMs === undefined || !Number.isFinite(epochMs)) return '—';
  const diff = now - epochMs;
  if (diff < 45_000) return 'just now';
  if (diff < 3_600_000) return `${Math.round(diff / 60_000)}m ago`;
  if (diff < 86_400_000) return `${Math.round(diff / 3_600_000)}h ago`;
  return `${Math.round(diff / 86_400_000)}d ago`;
}

const countFormat = new Intl.NumberFormat('en-US');
export function formatCount(n: number): string {
  return countFormat.format(n);
}

/** "1 run", "0 runs", "1,234 runs"; `many` for words that do not just take an s. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** The duration to show for something that may still be running (ticks with `now`). */
export function liveDuration(
  startedAt: number | null,
  finishedAt: number | null,
  durationMs: number | null,
  running: boolean,
  now: number,
): number | null {
  if (durationMs !== null) return durationMs;
  if (startedAt === null) return null;
  if (finishedAt !== null) return finishedAt - startedAt;
  return running ? Math.max(0, now - startedAt) : null;
}
