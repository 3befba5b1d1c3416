import { useState } from 'react';
import { Link } from 'react-router';
import type { RunDetail, StepSummary } from '../api/models';
import { CopyButton } from '../components/CopyButton';
import { formatCount, plural } from '../components/format';
import { runsUrl, runUrl } from '../components/paths';
import { caughtText, currentStepsText, StatusBadge } from '../components/Status';
import { Duration, Time } from '../components/Time';
import { clientSnippet, resumeCommand } from './snippets';

/** "4 steps · 1 skipped": steps that never ran are counted apart from the rest. */
export function stepCountsText(c: StepCounts): string {
  const ran = c.pending + c.running + c.completed + c.failed;
  const parts = [plural(ran + c.skipped, 'step')];
  if (c.failed) parts.push(`${formatCount(c.failed)} failed`);
  if (c.running) parts.push(`${formatCount(c.running)} running`);
  if (c.skipped) parts.push(`${formatCount(c.skipped)} skipped`);
  return parts.join(' · ');
}

type StepCounts = RunDetail['step_counts'];

/** The steps' statuses counted, from the live steps list when it is there. */
export function countSteps(steps: readonly StepSummary[]): StepCounts {
  const c: StepCounts = { pending: 0, running: 0, completed: 0, failed: 0, skipped: 0 };
  for (const s of steps) c[s.status] += 1;
  return c;
}

export function RunHeader({ run, steps }: { run: RunDetail; steps?: readonly StepSummary[] }) {
  const [open, setOpen] = useState(false);
  const params = Object.entries(run.parameters ?? {});
  // A few short parameters fit on the tags line; more go in a table that opens on demand.
  const inlineParams = params.length <= 8 && params.every(([k, v]) => k.length + v.length < 48);
  return (
    <section className={`run-header status-edge-${run.status}`} aria-label="Run summary">
      <div className="run-header-grid">
        <div className="field">
          <span className="label">Run</span>
          <span className="value mono">
            {run.flow_id}/{run.run_id}
          </span>
        </div>
        <div className="field">
          <span className="label">Status</span>
          <span className="value">
            <StatusBadge status={run.status} reason={run.status_reason} />
            {run.caught_count ? (
              <span className="badge-note caught-note" data-testid="run-caught">
                , {caughtText(run.caught_count)}
              </span>
            ) : null}
            {run.status === 'running' && run.current_steps.length ? (
              <span className="badge-note" data-testid="run-current-steps">
                {' '}
                {currentStepsText(run.current_steps)}
              </span>
            ) : null}
          </span>
        </div>
        <div className="field">
          <span className="label">User</span>
          <span className="value">
            {run.user ? <Link to={runsUrl({ user: run.user })}>{run.user}</Link> : '—'}
          </span>
        </div>
        <div className="field">
          <span className="label">Started</span>
          <span className="value">
            <Time ms={run.started_at} />
          </span>
        </div>
        <div className="field">
          <span className="label">Finished</span>
          <span className="value">
            {run.status === 'running' ? 'running…' : <Time ms={run.finished_at} />}
          </span>
        </div>
        <div className="field">
          <span className="label">Duration</span>
          <span className="value">
            <Duration
              startedAt={run.started_at}
              finishedAt={run.finished_at}
              durationMs={run.duration_ms}
              running={run.status === 'running'}
            />
          </span>
        </div>
        <div className="field">
          <span className="label">Tasks</span>
          <span className="value">{formatCount(run.task_count)}</span>
        </div>
        <div className="field">
          <span className="label">Steps</span>
          <span className="value" data-testid="run-step-counts">
            {stepCountsText(steps?.length ? countSteps(steps) : run.step_counts)}
          </span>
        </div>
        {run.project ? (
          <div className="field">
            <span className="label">Project / branch</span>
            <span className="value">
              <Link to={runsUrl({ project: run.project })}>{run.project}</Link>
              {run.branch ? (
                <>
                  {' / '}
                  <Link to={runsUrl({ project: run.project, branch: run.branch })}>
                    {run.branch}
                  </Link>
                </>
              ) : null}
            </span>
          </div>
        ) : null}
      </div>
      {run.unreadable_tasks > 0 ? (
        // Some files of these tasks are damaged or cannot be opened: they are shown from
        // the rest, so say so instead of letting them pass for the whole story (issue 12).
        <p className="notice unreadable-notice" role="status">
          {plural(run.unreadable_tasks, 'task')} could not be read: some of{' '}
          {run.unreadable_tasks === 1 ? 'its' : 'their'} files in the datastore are damaged or
          cannot be opened, so {run.unreadable_tasks === 1 ? 'it is' : 'they are'} shown from what
          could be read.
        </p>
      ) : null}
      <div className="run-header-row">
        {params.length && inlineParams ? (
          <div className="params-inline" title="Parameters">
            {params.map(([k, v]) => (
              <span key={k} className="param mono">
                <span className="muted">{k}=</span>
                {v}
              </span>
            ))}
          </div>
        ) : null}
        <div className="tags">
          {run.tags.map((t) => (
            <Link key={t} className="tag" to={runsUrl({ tag: t })} title="Runs with this tag">
              {t}
            </Link>
          ))}
          {run.system_tags.length ? (
            <button type="button" className="linkish muted" onClick={() => setOpen((o) => !o)}>
              {open ? 'hide' : 'show'} {plural(run.system_tags.length, 'system tag')}
            </button>
          ) : null}
          {open
            ? run.system_tags.map((t) => (
                <span key={t} className="tag tag-system">
                  {t}
                </span>
              ))
            : null}
        </div>
        <div className="actions">
          {run.origin_run_id ? (
            <span className="muted">
              resumed from{' '}
              <Link to={runUrl(run.flow_id, run.origin_run_id)}>{run.origin_run_id}</Link>
            </span>
          ) : null}
          <CopyButton text={clientSnippet(run.flow_id, run.run_id)} label="Copy client code" />
          <CopyButton
            text={resumeCommand(run.run_id, run.script_name)}
            label="Copy resume command"
          />
        </div>
      </div>
      {params.length && !inlineParams ? (
        <details className="params">
          <summary>Parameters ({params.length})</summary>
          <table className="kv">
            <tbody>
              {params.map(([k, v]) => (
                <tr key={k}>
                  <th className="mono">{k}</th>
                  <td className="mono">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </section>
  );
}
