import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../api/client';

export function Loading({ what, rows = 0 }: { what: string; rows?: number }) {
  return (
    <div className="state state-loading" aria-busy="true">
      <span className="spinner" aria-hidden /> Loading {what}…
      {rows > 0 ? (
        <div className="skeleton">
          {Array.from({ length: rows }, (_, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: placeholders have no identity
            <div key={i} className="skeleton-row" />
          ))}
        </div>
      ) : null}
    </div>
  );
}

function hintFor(err: unknown): ReactNode {
  if (err instanceof ApiError) {
    if (err.status === 0)
      return (
        <>
          Start the server with <code>flowscope serve</code> (or check that it is still running),
          then retry.
        </>
      );
    if (err.status === 404)
      return (
        <>
          Check the pathspec (Flow/Run/Step/Task): names are case-sensitive. Browse the{' '}
          <Link to="/">runs list</Link> to find it.
        </>
      );
    if (err.status === 503)
      return (
        <>
          The run's datastore (where its logs, artifacts and cards are) cannot be reached from the
          flowscope server right now. The run and its tasks are still shown from the index.
        </>
      );
    if (err.status === 501)
      return <>flowscope cannot read this kind of datastore yet; the Metaflow client can.</>;
    if (err.status >= 500) return <>The server failed on this request; its log says why.</>;
  }
  return null;
}

export function ErrorState({
  error,
  what,
  onRetry,
}: {
  error: unknown;
  what: string;
  onRetry?: () => void;
}) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="state state-error" role="alert">
      <strong>Could not load {what}.</strong> <span className="error-message">{message}</span>
      <div className="state-hint">{hintFor(error)}</div>
      {onRetry ? (
        <button type="button" className="btn" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <strong>{title}</strong>
      {children ? <div className="state-hint">{children}</div> : null}
    </div>
  );
}
