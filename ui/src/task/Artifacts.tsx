import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { resolveServerUrl, type TaskRef } from '../api/client';
import type { ArtifactDetail } from '../api/models';
import { useArtifact, useArtifacts } from '../api/queries';
import { CopyButton } from '../components/CopyButton';
import { formatBytes, formatCount, plural } from '../components/format';
import { EmptyState, ErrorState, Loading } from '../components/States';

function isTablePreview(
  v: unknown,
): v is { columns: string[]; rows: unknown[][]; total_rows: number } {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as { columns?: unknown }).columns) &&
    Array.isArray((v as { rows?: unknown }).rows)
  );
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function Preview({ a }: { a: ArtifactDetail }) {
  if (!a.previewable) {
    return (
      <div className="artifact-unpreviewable">
        <p>
          No safe preview for <code>{a.type}</code>
          {a.size !== null ? ` (${formatBytes(a.size)})` : ''}. Load it in Python:
        </p>
      </div>
    );
  }
  if (a.preview_kind === 'table' && isTablePreview(a.preview_data)) {
    const t = a.preview_data;
    return (
      <div className="artifact-table-wrap">
        <div className="muted">
          {formatCount(t.rows.length)} of {plural(t.total_rows, 'row')} ·{' '}
          {plural(t.columns.length, 'column')}
        </div>
        <div className="artifact-table-scroll">
          <table className="data-table">
            <thead>
              <tr>
                {t.columns.map((c) => (
                  <th key={c}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {t.rows.map((r, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: preview rows have no identity
                <tr key={i}>
                  {r.map((v, j) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: cells have no identity
                    <td key={j}>{cell(v)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    );
  }
  if (a.preview_kind === 'text' || a.preview_kind === 'bytes') {
    // An IncludeFile parameter: the included file itself, as the client's `.data` has it.
    return (
      <div className="artifact-included" data-testid="included-file">
        <div className="muted">
          Included file ·{' '}
          {a.preview_kind === 'text'
            ? 'text'
            : `binary, ${formatBytes((a.preview_data as { size?: number } | null)?.size ?? null)}`}
          {a.download_url ? (
            <>
              {' · '}
              <a href={resolveServerUrl(a.download_url)} download={a.name}>
                Download
              </a>
            </>
          ) : null}
        </div>
        {a.preview_kind === 'text' ? <pre className="artifact-pre">{a.preview ?? ''}</pre> : null}
      </div>
    );
  }
  if (a.preview_kind === 'json') {
    return <pre className="artifact-pre">{JSON.stringify(a.preview_data, null, 2)}</pre>;
  }
  return <pre className="artifact-pre">{a.preview ?? ''}</pre>;
}

function ArtifactPanel({ task, attempt, name }: { task: TaskRef; attempt: number; name: string }) {
  const q = useArtifact(task, attempt, name);
  if (q.isPending) return <Loading what={name} />;
  if (q.isError)
    return (
      <ErrorState error={q.error} what={`artifact ${name}`} onRetry={() => void q.refetch()} />
    );
  const a = q.data;
  return (
    <div className="artifact-panel" data-artifact={a.name}>
      <div className="artifact-panel-head">
        <strong className="mono">{a.name}</strong>
        <span className="muted mono">{a.type}</span>
        <span className="muted">{formatBytes(a.size)}</span>
      </div>
      <Preview a={a} />
      <div className="load-snippet">
        <pre className="mono">{a.load_snippet}</pre>
        <CopyButton text={a.load_snippet} label="Copy code" />
      </div>
    </div>
  );
}

export function Artifacts({ task, attempt }: { task: TaskRef; attempt: number }) {
  const [includePrivate, setIncludePrivate] = useState(false);
  // The chosen artifact is in the URL (?artifact=name) so a preview can be shared.
  const [params, setParams] = useSearchParams();
  const selected = params.get('artifact');
  const setSelected = (name: string) =>
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        n.set('artifact', name);
        return n;
      },
      { replace: true },
    );
  const list = useArtifacts(task, attempt, includePrivate);
  const items = list.data?.items ?? [];
  const current = selected ?? items[0]?.name ?? null;
  return (
    <div className="artifacts">
      <div className="artifact-list">
        <div className="toolbar">
          <span className="muted">{list.data ? plural(items.length, 'artifact') : ''}</span>
          <span className="spacer" />
          <label className="chip-check">
            <input
              type="checkbox"
              checked={includePrivate}
              onChange={(e) => setIncludePrivate(e.target.checked)}
            />
            include _private
          </label>
        </div>
        {list.isPending ? (
          <Loading what="artifacts" />
        ) : list.isError ? (
          <ErrorState error={list.error} what="artifacts" onRetry={() => void list.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState title="No artifacts for this attempt.">
            Artifacts are the <code>self.x = …</code> values a step stores; they are saved when the
            step ends.
          </EmptyState>
        ) : (
          <table className="data-table selectable">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th className="num">Size</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr
                  key={a.name}
                  className={a.name === current ? 'selected' : undefined}
                  onClick={() => setSelected(a.name)}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter') setSelected(a.name);
                  }}
                  tabIndex={0}
                >
                  <td className="mono">{a.name}</td>
                  <td className="mono muted ellipsis" title={a.type ?? ''}>
                    {a.type}
                  </td>
                  <td className="num">{formatBytes(a.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="artifact-detail">
        {current ? (
          <ArtifactPanel
            key={`${attempt}/${current}`}
            task={task}
            attempt={attempt}
            name={current}
          />
        ) : null}
      </div>
    </div>
  );
}
