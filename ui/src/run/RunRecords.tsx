import type { RunDetail } from '../api/models';

/**
 * What Metaflow recorded about the run beyond its status (issue 9): its configs (apart
 * from its parameters, which the header shows).
 */
export function RunRecords({ run }: { run: RunDetail }) {
  const configs = Object.entries(run.configs ?? {});
  if (!configs.length) return null;
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
    </section>
  );
}
