import { useCallback, useEffect, useMemo } from 'react';
import { useParams, useSearchParams } from 'react-router';
import type { StreamSpec } from '../api/events';
import { useClones, useDag, usePrefetchTimeline, useRun, useSteps } from '../api/queries';
import { useLiveStream } from '../api/useLive';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { isTyping } from '../components/keys';
import { useRunFinishedNotice } from '../components/notify';
import { ErrorState, Loading } from '../components/States';
import { type TabDef, Tabs } from '../components/Tabs';
import { DagView } from '../dag/DagView';
import { TimelineView } from '../timeline/TimelineView';
import { ClonesNote, clonedSteps } from './ClonesNote';
import { FailureBanner } from './FailureBanner';
import { RunHeader } from './RunHeader';
import { RunRecords } from './RunRecords';
import { TasksTab } from './TasksTab';

type RunTab = 'dag' | 'timeline' | 'tasks';
const TABS: TabDef<RunTab>[] = [
  { id: 'dag', label: 'DAG' },
  { id: 'timeline', label: 'Timeline' },
  { id: 'tasks', label: 'Tasks' },
];

export function RunPage() {
  const { flow = '', run: runId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const tabParam = params.get('tab');
  const tab: RunTab = tabParam === 'timeline' || tabParam === 'tasks' ? tabParam : 'dag';
  const stream = useMemo((): StreamSpec => ({ kind: 'run', flow, run: runId }), [flow, runId]);
  useLiveStream(stream);
  const run = useRun(flow, runId);
  useRunFinishedNotice(run.data);
  const live = run.data?.status === 'running';
  const dag = useDag(flow, runId);
  const steps = useSteps(flow, runId, live);
  const originRun = run.data?.origin_run_id ?? null;
  const clones = useClones(flow, runId, originRun !== null);
  const cloneItems = clones.data?.items ?? [];

  const setTab = useCallback(
    (t: RunTab, extra: Record<string, string> = {}) => {
      const next = new URLSearchParams(t === 'dag' ? {} : { tab: t });
      for (const [k, v] of Object.entries(extra)) next.set(k, v);
      setParams(next);
    },
    [setParams],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      const t = ({ '1': 'dag', '2': 'timeline', '3': 'tasks' } as const)[e.key as '1' | '2' | '3'];
      if (t) setTab(t);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [setTab]);

  useEffect(() => {
    document.title = `${flow}/${runId} · flowscope`;
  }, [flow, runId]);

  // The timeline is the biggest response: fetch it early for runs of moderate size, and
  // for any run as soon as the pointer reaches its tab.
  const prefetchTimeline = usePrefetchTimeline();
  const taskCount = run.data?.task_count;
  useEffect(() => {
    if (taskCount !== undefined && taskCount <= 20_000) prefetchTimeline(flow, runId);
  }, [taskCount, flow, runId, prefetchTimeline]);

  return (
    <div className="page page-run">
      <Breadcrumbs flow={flow} run={runId} />
      {run.isPending ? (
        <Loading what="the run" />
      ) : run.isError ? (
        <ErrorState
          error={run.error}
          what={`run ${flow}/${runId}`}
          onRetry={() => void run.refetch()}
        />
      ) : (
        <>
          <RunHeader run={run.data} steps={steps.data?.items} />
          <RunRecords run={run.data} />
          {run.data.status === 'failed' ? <FailureBanner run={run.data} /> : null}
          <Tabs
            tabs={TABS}
            value={tab}
            onChange={(t) => setTab(t)}
            onHover={(t) => {
              if (t === 'timeline') prefetchTimeline(flow, runId);
            }}
            label="Run views"
          />
          <div className="tab-panel">
            {originRun && tab !== 'tasks' ? (
              <ClonesNote
                flow={flow}
                originRun={originRun}
                clones={cloneItems}
                truncated={clones.data?.truncated ?? false}
              />
            ) : null}
            {tab === 'dag' ? (
              <DagView
                dag={dag}
                steps={steps}
                failedStep={run.data.first_failure?.step_name ?? null}
                cloned={clonedSteps(cloneItems)}
                onOpenStep={(step) => setTab('tasks', { step })}
              />
            ) : tab === 'timeline' ? (
              <TimelineView flow={flow} run={runId} live={live} dag={dag.data} />
            ) : (
              <TasksTab flow={flow} run={runId} steps={steps.data?.items ?? []} live={live} />
            )}
          </div>
        </>
      )}
    </div>
  );
}
