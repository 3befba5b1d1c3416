import type { RecordField, RunDetail } from '../api/models';
import { SchedulerBadge } from '../components/SchedulerBadge';

export function FieldsTable({ fields }: { fields: readonly RecordField[] }) {
  return (
    <table className="kv">
      <tbody>
        {fields.map((f) => (
          <tr key={f.name} data-field={f.name}>
            <th className="mono">{f.name}</th>
            <td className="mono">{f.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * What Metaflow recorded about the run beyond its status (issue 9): its configs (apart
 * from its parameters, which the header shows), the scheduler that started it, its code
 * (git and the code package).
 */
export function RunRecords({ run }: { run: RunDetail }) {
  const configs = Object.entries(run.configs ?? {});
  const scheduler = run.scheduler;
  const git = Object.entries(run.git_info ?? {});
  const pkg = run.code_package;
  if (!configs.length && !scheduler && !git.length && !pkg) return null;
  return (
    <section className="run-records" aria-label="Run records">
      {configs.length ? (
        <div className="record-block run-configs">
          <h3>Configs</h3>
          <table className="kv">
            <tbody>
              {configs.map(([k, v]) => (
                <tr key={k} data-config={k}>
                  <th className="mono">{k}</th>
                  <td className="mono">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {scheduler ? (
        <div className="record-block run-scheduler">
          <h3>
            Scheduled <SchedulerBadge systemTags={run.system_tags} />
          </h3>
          <FieldsTable
            fields={[
              ...(scheduler.production_token
                ? [{ name: 'production token', value: scheduler.production_token }]
                : []),
              ...scheduler.details,
            ]}
          />
        </div>
      ) : null}
      {git.length || pkg ? (
        <div className="record-block run-code">
          <h3>Code</h3>
          <FieldsTable
            fields={[
              ...git.map(([k, v]) => ({ name: `git ${k}`, value: String(v) })),
              ...(pkg
                ? Object.entries(pkg)
                    .filter(([, v]) => v)
                    .map(([k, v]) => ({ name: `code package ${k}`, value: String(v) }))
                : []),
            ]}
          />
        </div>
      ) : null}
    </section>
  );
}
