import { useMemo, useState } from 'react';
import type { MetadataEntry } from '../api/models';
import { Time } from '../components/Time';

export function MetadataTable({ entries, attempt }: { entries: MetadataEntry[]; attempt: number }) {
  const [filter, setFilter] = useState('');
  const [onlyAttempt, setOnlyAttempt] = useState(true);
  const shown = useMemo(() => {
    const f = filter.toLowerCase();
    return entries.filter(
      (e) =>
        (!onlyAttempt || e.attempt === null || e.attempt === attempt) &&
        (!f || e.field_name.toLowerCase().includes(f) || (e.value ?? '').toLowerCase().includes(f)),
    );
  }, [entries, filter, onlyAttempt, attempt]);
  return (
    <div className="metadata">
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Filter fields and values"
          aria-label="Filter metadata"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        <label className="chip-check">
          <input
            type="checkbox"
            checked={onlyAttempt}
            onChange={(e) => setOnlyAttempt(e.target.checked)}
          />
          only attempt {attempt}
        </label>
        <span className="muted">
          {shown.length} of {entries.length}
        </span>
      </div>
      <table className="data-table">
        <thead>
          <tr>
            <th>Field</th>
            <th>Value</th>
            <th>Type</th>
            <th className="num">Attempt</th>
            <th>Recorded</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a field may repeat
            <tr key={`${e.field_name}-${i}`}>
              <td className="mono">{e.field_name}</td>
              <td className="mono wrap">{e.value}</td>
              <td className="muted">{e.type}</td>
              <td className="num">{e.attempt ?? ''}</td>
              <td>
                <Time ms={e.ts_epoch} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
