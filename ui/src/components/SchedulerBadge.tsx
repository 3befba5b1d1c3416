// The scheduler that started a run, from its system tags: `runtime:<name>` (`dev` for a
// run started by hand) and `production:<token>` for a deployed flow.
const NAMES: Record<string, string> = {
  'argo-workflows': 'Argo Workflows',
  'step-functions': 'Step Functions',
  airflow: 'Airflow',
};

export function schedulerOf(systemTags: readonly string[]): string | null {
  const runtime = systemTags.find((t) => t.startsWith('runtime:'))?.slice('runtime:'.length);
  if (runtime && runtime !== 'dev') return runtime;
  return systemTags.some((t) => t.startsWith('production:')) ? 'production' : null;
}

export function SchedulerBadge({ systemTags }: { systemTags: readonly string[] }) {
  const name = schedulerOf(systemTags);
  if (!name) return null;
  const token = systemTags.find((t) => t.startsWith('production:'));
  return (
    <span
      className="scheduler-badge"
      data-scheduler={name}
      title={`Started by ${NAMES[name] ?? name}${token ? ` (${token})` : ''}`}
    >
      {NAMES[name] ?? name}
    </span>
  );
}
