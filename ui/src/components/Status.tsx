import type { StatusReason } from '../api/models';

const LABELS: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  pending: 'Pending',
  skipped: 'Skipped',
};

const REASONS: Record<string, string> = { error: 'error', killed: 'killed', lost: 'lost' };

/** "20 failures caught": failures @catch swallowed, which a completed run went on past. */
export function caughtText(caught: number): string {
  return `${caught.toLocaleString('en-US')} ${caught === 1 ? 'failure' : 'failures'} caught`;
}

/** "at train, score": the steps a running run is at. */
export function currentStepsText(steps: readonly string[]): string {
  return steps.length ? `at ${steps.join(', ')}` : '';
}

/** A run's status in words, with what a bare status would hide (issue 9). */
export function runStatusText(run: {
  status: string;
  status_reason?: StatusReason | null;
  caught_count: number;
  current_steps: readonly string[];
}): string {
  const base = statusLabel(run.status, run.status === 'failed' ? run.status_reason : null);
  if (run.status === 'running' && run.current_steps.length)
    return `${base}, ${currentStepsText(run.current_steps)}`;
  if (run.caught_count) return `${base}, ${caughtText(run.caught_count)}`;
  return base;
}

export function statusLabel(status: string, reason?: StatusReason | null): string {
  const base = LABELS[status] ?? status;
  return status === 'failed' && reason && reason !== 'error'
    ? `${base} (${REASONS[reason] ?? reason})`
    : base;
}

/**
 * A status as a shape as well as a colour (issue 11: colour alone fails colour-blind
 * users): a tick in a disc when completed, a cross in a disc when failed, a turning arc
 * when running, a dashed ring while pending, a struck-through ring for a step that never
 * ran (skipped).
 */
function Glyph({ status }: { status: string }) {
  switch (status) {
    case 'completed':
      return (
        <>
          <circle cx="8" cy="8" r="7" fill="currentColor" />
          <path d="M4.6 8.3l2.3 2.3 4.5-4.8" className="glyph-mark" />
        </>
      );
    case 'failed':
      return (
        <>
          <circle cx="8" cy="8" r="7" fill="currentColor" />
          <path d="M5.4 5.4l5.2 5.2M10.6 5.4l-5.2 5.2" className="glyph-mark" />
        </>
      );
    case 'running':
      return (
        <>
          <circle cx="8" cy="8" r="5.8" className="glyph-track" />
          <path d="M8 2.2a5.8 5.8 0 0 1 5.8 5.8" className="glyph-arc" />
        </>
      );
    case 'skipped':
      return (
        <>
          <circle cx="8" cy="8" r="5.8" className="glyph-skipped" />
          <path d="M3.9 12.1l8.2-8.2" className="glyph-skipped" />
        </>
      );
    default:
      return <circle cx="8" cy="8" r="5.8" className="glyph-pending" />;
  }
}

export function StatusIcon({
  status,
  label,
  size = 14,
}: {
  status: string;
  /** Spoken and shown on hover; omit where a text label sits beside the icon. */
  label?: string;
  size?: number;
}) {
  const named = label !== undefined;
  return (
    <svg
      className={`status-icon status-${status}`}
      width={size}
      height={size}
      viewBox="0 0 16 16"
      role={named ? 'img' : undefined}
      aria-label={named ? label : undefined}
      aria-hidden={named ? undefined : true}
      focusable="false"
    >
      {named ? <title>{label}</title> : null}
      <Glyph status={status} />
    </svg>
  );
}

export function StatusBadge({
  status,
  reason,
  caught,
}: {
  status: string;
  reason?: StatusReason | null;
  caught?: boolean;
}) {
  return (
    <span className={`status-badge status-${status}`} data-status={status}>
      <StatusIcon status={status} />
      <span className="status-name">{statusLabel(status, reason)}</span>
      {caught ? <span className="badge-note"> · caught</span> : null}
    </span>
  );
}
