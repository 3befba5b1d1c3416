import type { TaskException } from '../api/models';
import { CopyButton } from '../components/CopyButton';

export function ExceptionPanel({
  exception,
  title,
}: {
  exception: TaskException;
  title?: React.ReactNode;
}) {
  return (
    <section className="exception" aria-label="Exception">
      <div className="exception-head">
        <div>
          {title ? <div className="exception-title">{title}</div> : null}
          <strong className="mono">{exception.type}</strong>
          {exception.message ? <span className="mono">: {exception.message}</span> : null}
        </div>
        <CopyButton
          text={exception.traceback || `${exception.type}: ${exception.message}`}
          label="Copy traceback"
        />
      </div>
      {exception.traceback ? <pre className="traceback">{exception.traceback}</pre> : null}
    </section>
  );
}
