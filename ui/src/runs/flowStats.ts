import type { Run } from '../api/models';

export interface FlowStats {
  /** Completed share of finished runs (0..1), null when none finished. */
  successRate: number | null;
  /** Median duration of completed runs. */
  medianDurationMs: number | null;
  /** Users by number of runs, most first. */
  owners: string[];
  /** Statuses oldest to newest, for the status strip. */
  strip: Run[];
}

export function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const hi = s[mid] ?? 0;
  return s.length % 2 ? hi : ((s[mid - 1] ?? 0) + hi) / 2;
}

/** Stats over a flow's recent runs (given newest first, as the API lists them). */
export function flowStats(recent: readonly Run[]): FlowStats {
  const finished = recent.filter((r) => r.status !== 'running');
  const completed = finished.filter((r) => r.status === 'completed');
  const counts = new Map<string, number>();
  for (const r of recent) if (r.user) counts.set(r.user, (counts.get(r.user) ?? 0) + 1);
  return {
    successRate: finished.length ? completed.length / finished.length : null,
    medianDurationMs: median(
      completed.map((r) => r.duration_ms).filter((d): d is number => d !== null),
    ),
    owners: [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([u]) => u),
    strip: [...recent].reverse(),
  };
}
