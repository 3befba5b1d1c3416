import { useEffect, useMemo, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import type { TaskRef } from '../api/client';
import type { StreamSpec } from '../api/events';
import type { Attempt, TaskDetail } from '../api/models';
import { useTask } from '../api/queries';
import { useLiveStream } from '../api/useLive';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { CopyButton } from '../components/CopyButton';
import { Decorators } from '../components/Decorators';
import { runUrl, taskUrl } from '../components/paths';
import { ErrorState, Loading } from '../components/States';
import { StatusBadge, StatusIcon, statusLabel } from '../components/Status';
import { type TabDef, Tabs } from '../components/Tabs';
import { Duration, Time } from '../components/Time';
import { useMediaQuery } from '../components/useWidth';
import { LogView } from '../logs/LogView';
import { FieldsTable } from '../run/RunRecords';
import { Artifacts } from './Artifacts';
import { Cards } from './Cards';
import { ExceptionPanel } from './ExceptionPanel';
import { MetadataTable } from './MetadataTable';
import './task.css';

type Section = 'logs' | 'artifacts' | 'metadata' | 'cards';
const SECTIONS: TabDef<Section>[] = [
  { id: 'logs', label: 'Logs' },
  { id: 'artifacts', label: 'Artifacts' },
  { id: 'metadata', label: 'Metadata' },
  { id: 'cards', label: 'Cards' },
];

function AttemptTabs({
  attempts,
  current,
  onChange,
}: {
  attempts: Attempt[];
  current: number;
  onChange: (a: number) => void;
}) {
  if (attempts.length <= 1) return null;
  return (
    <div className="attempt-tabs" role="tablist" aria-label="Attempts">
      {attempts.map((a) => (
        <button
          key={a.attempt}
          type="button"
          role="tab"
          aria-selected={a.attempt === current}
          className={a.attempt === current ? 'tab active' : 'tab'}
          onClick={() => onChange(a.attempt)}
        >
          <StatusIcon status={a.status} label={statusLabel(a.status, a.status_reason)} /> Attempt{' '}
          {a.attempt}
        </button>
      ))}
    </div>
  );
}

/**
 * The task's own facts: its status, and its times as every view defines them (docs/API.md:
 * from the task's registration to its last attempt's end), the same as the Tasks tab and
 * the timeline's rows. The selected attempt's own times sit below, labelled as the
 * attempt's, so that the two are never mistaken for each other.
 */
function TaskSummary({ task, attempt }: { task: TaskDetail; attempt: Attempt | undefined }) {
  // The task's status, as in the Tasks tab: a task whose exception @catch swallowed is
  // failed (caught) although its attempt ended fine; the attempt's own status is below.
  const status = task.status;
  const running = task.status === 'running';
  const pathspec = `${task.flow_id}/${task.run_id}/${task.step_name}/${task.task_id}`;
  return (
    <section className={`run-header status-edge-${status}`} aria-label="Task summary">
      <div className="run-header-grid">
        <div className="field">
          <span className="label">Task</span>
          <span className="value mono">
            {pathspec} <CopyButton text={pathspec} label="Copy" title="Copy the pathspec" />
          </span>
        </div>
        <div className="field">
          <span className="label">Status</span>
          <span className="value">
            <StatusBadge status={status} reason={task.status_reason} caught={task.caught} />
          </span>
        </div>
        {task.origin ? (
          <div className="field task-origin">
            <span className="label">Cloned from</span>
            <span className="value mono">
              <Link
                to={taskUrl(task.flow_id, task.origin.run_id, task.step_name, task.origin.task_id)}
              >
                {task.origin.pathspec}
              </Link>{' '}
              <span className="clone-badge">cloned by resume</span>
            </span>
          </div>
        ) : null}
        {task.parallel ? (
          <div className="field task-gang">
            <span className="label">@parallel gang</span>
            <span className="value">
              {task.parallel.role} · node {task.parallel.node_index ?? '?'}
              {task.parallel.num_parallel ? ` of ${task.parallel.num_parallel}` : ''}
            </span>
          </div>
        ) : null}
        {task.foreach_label ? (
          <div className="field">
            <span className="label">Foreach</span>
            <span className="value mono">{task.foreach_label}</span>
          </div>
        ) : null}
        <div className="field" data-testid="task-started">
          <span className="label">Started</span>
          <span className="value">
            <Time ms={task.started_at} />
          </span>
        </div>
        <div className="field" data-testid="task-finished">
          <span className="label">Finished</span>
          <span className="value">{running ? 'running…' : <Time ms={task.finished_at} />}</span>
        </div>
        <div className="field" data-testid="task-duration">
          <span className="label">Duration</span>
          <span className="value">
            <Duration
              startedAt={task.started_at}
              finishedAt={task.finished_at}
              durationMs={task.duration_ms}
              running={running}
            />
          </span>
        </div>
        <div className="field">
          <span className="label">Attempts</span>
          <span className="value">{task.attempts.length || 1}</span>
        </div>
        {task.decorators.length ? (
          <div className="field field-wide task-decorators">
            <span className="label">Decorators</span>
            <span className="value">
              <Decorators decorators={task.decorators} />
            </span>
          </div>
        ) : null}
      </div>
      {attempt ? (
        <AttemptSummary
          attempt={attempt}
          caught={task.caught && attempt.attempt === task.attempt}
        />
      ) : null}
    </section>
  );
}

/** One attempt's own status and times, named as the attempt's. */
function AttemptSummary({ attempt, caught }: { attempt: Attempt; caught: boolean }) {
  const running = attempt.status === 'running';
  const n = attempt.attempt;
  return (
    <div className="attempt-summary" data-testid="attempt-summary">
      <span className="attempt-name">Attempt {n}</span>
      {/* Not a .status-badge: the header's one badge is the task's. */}
      <span
        className={`attempt-field attempt-status status-text status-${attempt.status}`}
        data-testid="attempt-status"
      >
        <StatusIcon status={attempt.status} /> {statusLabel(attempt.status, attempt.status_reason)}
      </span>
      {caught ? (
        <span className="attempt-field muted" data-testid="attempt-caught">
          its exception was caught by @catch, so the task failed and the run went on
        </span>
      ) : null}
      <span className="attempt-field" data-testid="attempt-started">
        <span className="label">attempt started</span> <Time ms={attempt.started_at} />
      </span>
      <span className="attempt-field" data-testid="attempt-finished">
        <span className="label">attempt finished</span>{' '}
        {running ? 'running…' : <Time ms={attempt.finished_at} />}
      </span>
      <span className="attempt-field" data-testid="attempt-duration">
        <span className="label">attempt duration</span>{' '}
        <Duration
          startedAt={attempt.started_at}
          finishedAt={attempt.finished_at}
          durationMs={null}
          running={running}
        />
      </span>
    </div>
  );
}

export function TaskPage() {
  const { flow = '', run = '', step = '', task: taskId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const ref: TaskRef = useMemo(
    () => ({ flow, run, step, task: taskId }),
    [flow, run, step, taskId],
  );
  const liveStream = useMemo(
    (): StreamSpec => ({ kind: 'task', flow, run, step, task: taskId }),
    [flow, run, step, taskId],
  );
  // The task's own stream: its status, attempts and new log lines (and its run's status).
  useLiveStream(liveStream);
  const task = useTask(ref);
  const attemptParam = params.get('attempt');
  const attemptNum =
    attemptParam !== null && /^\d+$/.test(attemptParam)
      ? Number(attemptParam)
      : (task.data?.attempt ?? 0);
  const sectionParam = params.get('section');
  const section: Section = SECTIONS.some((s) => s.id === sectionParam)
    ? (sectionParam as Section)
    : 'logs';
  const [layoutChoice, setLayout] = useState<'tabs' | 'split'>('split');
  // Two logs side by side need room: narrow windows show one at a time.
  const roomy = useMediaQuery('(min-width: 960px)');
  const layout = roomy ? layoutChoice : 'tabs';
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');
  const set = (k: string, v: string | null) =>
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        if (v === null) n.delete(k);
        else n.set(k, v);
        return n;
      },
      { replace: true },
    );
  useEffect(() => {
    document.title = `${flow}/${run}/${step}/${taskId} · flowscope`;
  }, [flow, run, step, taskId]);

  const attempt = task.data?.attempts.find((a) => a.attempt === attemptNum);
  const live = (attempt?.status ?? task.data?.status) === 'running';
  // Every failed attempt's exception, each naming its attempt.
  const attemptException = task.data?.exceptions.find((e) => e.attempt === attemptNum);
  const showException = attemptException !== undefined;

  return (
    <div className="page page-task">
      <Breadcrumbs flow={flow} run={run} step={step} task={taskId} />
      {task.isPending ? (
        <Loading what="the task" />
      ) : task.isError ? (
        <ErrorState
          error={task.error}
          what={`task ${flow}/${run}/${step}/${taskId}`}
          onRetry={() => void task.refetch()}
        />
      ) : (
        <>
          <TaskSummary task={task.data} attempt={attempt} />
          {task.data.compute ? (
            <details className="task-compute" open>
              <summary>
                Ran on {task.data.compute.platform === 'kubernetes' ? 'Kubernetes' : 'AWS Batch'}
                {task.data.compute.spot_termination ? (
                  <span className="spot-warning">
                    {' '}
                    · spot termination notice at{' '}
                    {task.data.compute.spot_termination.received_at ?? '?'} (terminating{' '}
                    {task.data.compute.spot_termination.termination_time ?? '?'})
                  </span>
                ) : null}
              </summary>
              <FieldsTable fields={task.data.compute.details} />
            </details>
          ) : null}
          <AttemptTabs
            attempts={task.data.attempts}
            current={attemptNum}
            onChange={(a) => set('attempt', String(a))}
          />
          {attemptException ? (
            <ExceptionPanel
              exception={attemptException}
              title={`Attempt ${attemptNum}${attemptException.caught ? ' · caught by @catch' : ''}`}
            />
          ) : null}
          {attempt?.status === 'failed' && !showException ? (
            <div className="notice">
              Attempt {attemptNum} failed
              {attempt.status_reason && attempt.status_reason !== 'error'
                ? ` (${attempt.status_reason})`
                : ''}
              ; see its stderr below.
              {task.data.attempts.length > attemptNum + 1 ? ' It was retried.' : ''}
            </div>
          ) : null}
          <div className="section-bar">
            <Tabs
              tabs={SECTIONS}
              value={section}
              onChange={(s) => set('section', s === 'logs' ? null : s)}
              label="Task views"
            />
            {section === 'logs' && roomy ? (
              <fieldset className="segmented" aria-label="Log layout">
                <button
                  type="button"
                  aria-pressed={layout === 'split'}
                  onClick={() => setLayout('split')}
                >
                  Side by side
                </button>
                <button
                  type="button"
                  aria-pressed={layout === 'tabs'}
                  onClick={() => setLayout('tabs')}
                >
                  Tabbed
                </button>
              </fieldset>
            ) : null}
            <Link className="muted back-link" to={runUrl(flow, run, { tab: 'tasks', step })}>
              all tasks of {step}
            </Link>
          </div>
          <div className="tab-panel">
            {section === 'logs' ? (
              layout === 'split' ? (
                <div className="logs-split">
                  <LogView
                    key={`o${attemptNum}`}
                    task={ref}
                    stream="stdout"
                    attempt={attemptNum}
                    live={live}
                  />
                  <LogView
                    key={`e${attemptNum}`}
                    task={ref}
                    stream="stderr"
                    attempt={attemptNum}
                    live={live}
                  />
                </div>
              ) : (
                <div className="logs-tabbed">
                  <Tabs
                    tabs={[
                      { id: 'stdout', label: 'stdout' },
                      { id: 'stderr', label: 'stderr' },
                    ]}
                    value={stream}
                    onChange={setStream}
                    label="Log stream"
                  />
                  <LogView
                    key={`${stream}${attemptNum}`}
                    task={ref}
                    stream={stream}
                    attempt={attemptNum}
                    live={live}
                  />
                </div>
              )
            ) : section === 'artifacts' ? (
              <Artifacts task={ref} attempt={attemptNum} />
            ) : section === 'metadata' ? (
              <MetadataTable entries={task.data.metadata} attempt={attemptNum} />
            ) : (
              <Cards task={ref} live={live} />
            )}
          </div>
        </>
      )}
    </div>
  );
}
