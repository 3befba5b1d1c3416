import { type ReactNode, useEffect, useRef } from 'react';
import type { TaskException } from '../api/models';
import { CopyButton } from '../components/CopyButton';

export function ExceptionPanel({
  exception,
  title,
  action,
}: {
  exception: TaskException;
  title?: ReactNode;
  action?: ReactNode;
}) {
  // The user's own frame is at the bottom of a Python traceback, under Metaflow's frames.
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (pre.current && exception.traceback) pre.current.scrollTop = pre.current.scrollHeight;
  }, [exception.traceback]);
  return (
    <section className="exception" aria-label="Exception">
      <div className="exception-head">
        <div>
          {title ? <div className="exception-title">{title}</div> : null}
          <strong className="mono">{exception.type}</strong>
          {exception.message ? <span className="mono">: {exception.message}</span> : null}
        </div>
        <div className="actions">
          {action}
          <CopyButton
            text={exception.traceback || `${exception.type}: ${exception.message}`}
            label="Copy traceback"
          />
        </div>
      </div>
      {exception.traceback ? (
        <pre className="traceback" ref={pre}>
          {exception.traceback}
        </pre>
      ) : null}
    </section>
  );
}
