import { Fragment } from 'react';
import { Link } from 'react-router';
import { runsUrl, runUrl } from './paths';

/** Flow / Run / Step / Task, each a link to its page. */
export function Breadcrumbs({
  flow,
  run,
  step,
  task,
}: {
  flow: string;
  run?: string;
  step?: string;
  task?: string;
}) {
  const crumbs: { label: string; to: string | null }[] = [
    { label: 'Runs', to: '/' },
    { label: flow, to: runsUrl({ flow_id: flow }) },
  ];
  if (run) crumbs.push({ label: run, to: step ? runUrl(flow, run) : null });
  if (run && step)
    crumbs.push({ label: step, to: task ? runUrl(flow, run, { tab: 'tasks', step }) : null });
  if (task) crumbs.push({ label: task, to: null });
  return (
    <nav className="breadcrumbs" aria-label="Breadcrumbs">
      {crumbs.map((c, i) => (
        <Fragment key={c.to ?? 'current'}>
          {i > 0 ? <span className="crumb-sep">/</span> : null}
          {c.to ? (
            <Link to={c.to}>{c.label}</Link>
          ) : (
            <span className="crumb-current" aria-current="page">
              {c.label}
            </span>
          )}
        </Fragment>
      ))}
    </nav>
  );
}
