import type { StatusReason } from '../api/models';

const LABELS: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  pending: 'Pending',
};

const REASONS: Record<string, string> = { error: 'error', killed: 'killed', lost: 'lost' };

export function statusLabel(status: string, reason?: StatusReason | null): string {
  const base = LABELS[status] ?? status;
  return status === 'failed' && reason && reason !== 'error'
    ? `${base} (${REASONS[reason] ?? reason})`
    : base;
}

export function StatusDot({ status, title }: { status: string; title?: string }) {
  return (
    <span
      className={`status-dot status-${status}`}
      title={title ?? LABELS[status] ?? status}
      role="img"
      aria-label={LABELS[status] ?? status}
    />
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
      <span className={`status-dot status-${status}`} aria-hidden />
      {statusLabel(status, reason)}
      {caught ? <span className="badge-note"> · caught</span> : null}
    </span>
  );
}
