import { Link } from 'react-router';
import type { RunDetail } from '../api/models';
import { useTask } from '../api/queries';
import { taskUrl } from '../components/paths';
import { ExceptionPanel } from '../task/ExceptionPanel';

/** A failed run opens on its first failure: the failing task and its traceback. */
export function FailureBanner({ run }: { run: RunDetail }) {
  const ff = run.first_failure;
  const task = useTask(
    ff ? { flow: run.flow_id, run: run.run_id, step: ff.step_name, task: ff.task_id } : null,
  );
  if (!ff) return null;
  const link = (
    <>
      First failure:{' '}
      <Link to={taskUrl(run.flow_id, run.run_id, ff.step_name, ff.task_id)} className="mono">
        {ff.step_name}/{ff.task_id}
      </Link>
      {task.data?.foreach_label ? (
        <span className="muted"> ({task.data.foreach_label})</span>
      ) : null}
    </>
  );
  if (task.data?.exception)
    return (
      <ExceptionPanel
        exception={task.data.exception}
        label="First failure"
        title={link}
        action={
          <Link
            className="btn btn-small"
            to={taskUrl(run.flow_id, run.run_id, ff.step_name, ff.task_id)}
          >
            Open failing task
          </Link>
        }
      />
    );
  return (
    <section className="exception" aria-label="First failure">
      <div className="exception-title">
        {link}
        {task.isPending ? <span className="muted"> · loading the exception…</span> : null}
        {task.data && !task.data.exception ? (
          <span className="muted">
            {' '}
            · no exception recorded
            {task.data.status_reason === 'killed' ? ': the task was killed' : ''}
            {task.data.status_reason === 'lost' ? ': the task process vanished' : ''}
          </span>
        ) : null}
      </div>
    </section>
  );
}
