import { formatDuration, formatRelative, formatTime, liveDuration } from './format';
import { usePrefs } from './prefs';
import { useNow } from './useNow';

export function Time({
  ms,
  relative = false,
}: {
  ms: number | null | undefined;
  relative?: boolean;
}) {
  const { tz } = usePrefs();
  const now = useNow(relative);
  if (ms === null || ms === undefined) return <span className="muted">—</span>;
  const full = formatTime(ms, tz);
  return (
    <time
      dateTime={new Date(ms).toISOString()}
      title={`${full} (${tz === 'utc' ? 'UTC' : 'local'})`}
    >
      {relative ? formatRelative(ms, now) : full}
    </time>
  );
}

/** A duration that ticks every second while the thing runs. */
export function Duration({
  startedAt,
  finishedAt,
  durationMs,
  running,
}: {
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  running: boolean;
}) {
  const now = useNow(running && durationMs === null);
  const d = liveDuration(startedAt, finishedAt, durationMs, running, now);
  return <span className={running ? 'duration ticking' : 'duration'}>{formatDuration(d)}</span>;
}
