import { Link } from 'react-router';
import type { RecordField, RunDetail } from '../api/models';
import { runUrl } from '../components/paths';
import { SchedulerBadge } from '../components/SchedulerBadge';
import { Time } from '../components/Time';

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
  const triggers = run.triggers ?? [];
  if (!configs.length && !scheduler && !git.length && !pkg && !triggers.length) return null;
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
      {triggers.length ? (
        <div className="record-block run-triggers">
          <h3>Triggered by</h3>
          <ul className="plain">
            {triggers.map((e) => (
              <li key={`${e.type}:${e.id ?? e.name}`} className="trigger" data-type={e.type}>
                <span className="mono">{e.name}</span>{' '}
                {e.run ? (
                  e.run.known ? (
                    <Link className="trigger-run" to={runUrl(e.run.flow_id, e.run.run_id)}>
                      run {e.run.flow_id}/{e.run.run_id}
                    </Link>
                  ) : (
                    <span className="muted">
                      run {e.run.flow_id}/{e.run.run_id} (not indexed here)
                    </span>
                  )
                ) : e.id ? (
                  <span className="muted mono">{e.id}</span>
                ) : null}
                {e.timestamp ? (
                  <span className="muted">
                    {' '}
                    at <Time ms={Math.round(e.timestamp * 1000)} />
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
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
