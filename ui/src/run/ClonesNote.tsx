import { Link } from 'react-router';
import type { Clone } from '../api/models';
import { runUrl, taskUrl } from '../components/paths';

/** Steps whose tasks `resume` cloned, with how many: they did not run again here. */
export function clonedSteps(clones: readonly Clone[]): Map<string, number> {
  const byStep = new Map<string, number>();
  for (const c of clones) byStep.set(c.step_name, (byStep.get(c.step_name) ?? 0) + 1);
  return byStep;
}

/**
 * What `resume` took from the origin run, above the DAG and the timeline: cloned tasks
 * kept their origin's results and did not run again in this run.
 */
export function ClonesNote({
  flow,
  originRun,
  clones,
  truncated,
}: {
  flow: string;
  originRun: string;
  clones: readonly Clone[];
  truncated: boolean;
}) {
  if (!clones.length) return null;
  const steps = [...clonedSteps(clones)];
  const single = clones.length === 1 ? clones[0] : undefined;
  return (
    <div className="notice clones-note" data-testid="clones-note">
      <span className="clone-badge">cloned</span> Resumed from run{' '}
      <Link to={runUrl(flow, originRun)}>{originRun}</Link>:{' '}
      {steps.map(([step, n], i) => (
        <span key={step} className="cloned-step" data-step={step}>
          {i ? ', ' : ''}
          <span className="mono">{step}</span> ({n} {n === 1 ? 'task' : 'tasks'})
        </span>
      ))}{' '}
      reused, not run again{truncated ? ' (first 5,000 tasks checked)' : ''}.
      {single ? (
        <>
          {' '}
          <Link to={taskUrl(flow, single.origin.run_id, single.step_name, single.origin.task_id)}>
            origin task {single.origin.pathspec}
          </Link>
        </>
      ) : null}
    </div>
  );
}
