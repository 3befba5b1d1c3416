import { type ReactNode, useId, useState } from 'react';
import type { TaskException } from '../api/models';
import { CopyButton } from '../components/CopyButton';
import { innermostFrame, tracebackParts } from './traceback';

/**
 * An exception as one line (its type, message and where it was raised), with the full
 * traceback a click away. Compact (issue 11): a failed run's banner sits above every tab.
 */
export function ExceptionPanel({
  exception,
  title,
  action,
  label = 'Exception',
}: {
  exception: TaskException;
  title?: ReactNode;
  action?: ReactNode;
  label?: string;
}) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const where = innermostFrame(exception.traceback);
  const parts = tracebackParts(exception.traceback ?? '');
  const userFrame = parts.filter((p) => p.kind === 'user').at(-1);
  const mine = userFrame ? innermostFrame(userFrame.lines.join('\n')) : null;
  const line = `${exception.type}${exception.message ? `: ${exception.message}` : ''}`;
  return (
    <section className={open ? 'exception open' : 'exception'} aria-label={label}>
      <div className="exception-head">
        <div className="exception-summary">
          <div className="exception-first">
            {title ? <span className="exception-title">{title}</span> : null}
            <span className="exception-line mono" title={line}>
              <strong>{exception.type}</strong>
              {exception.message ? `: ${exception.message}` : ''}
            </span>
          </div>
          {where ? (
            <div className="exception-where muted" title={where.path}>
              raised at <span className="mono">{where.file}</span>, line {where.line}, in{' '}
              <span className="mono">{where.fn}</span>
            </div>
          ) : null}
          {mine && where && mine.path !== where.path ? (
            <div className="exception-user muted" title={mine.path}>
              from your code at <span className="mono">{mine.file}</span>, line {mine.line}, in{' '}
              <span className="mono">{mine.fn}</span>
            </div>
          ) : null}
        </div>
        <div className="actions">
          {exception.traceback ? (
            <button
              type="button"
              className="btn btn-small"
              aria-expanded={open}
              aria-controls={id}
              onClick={() => setOpen((o) => !o)}
            >
              {open ? 'Hide traceback' : 'Show traceback'}
            </button>
          ) : null}
          {action}
          <CopyButton text={exception.traceback || line} label="Copy traceback" />
        </div>
      </div>
      {exception.traceback && open ? (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must be reachable by keyboard
        <pre className="traceback" id={id} tabIndex={0}>
          {parts.map((p, i) =>
            p.kind === 'library' ? (
              // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional
              <details key={i} className="tb-library">
                <summary>
                  {p.lines.filter((l) => l.trimStart().startsWith('File ')).length} library frame(s)
                  (Metaflow, Python, packages)
                </summary>
                {`${p.lines.join('\n')}\n`}
              </details>
            ) : (
              // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional
              <span key={i} className={p.kind === 'user' ? 'tb-user' : undefined}>
                {`${p.lines.join('\n')}\n`}
              </span>
            ),
          )}
        </pre>
      ) : null}
    </section>
  );
}
