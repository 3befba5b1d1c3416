import { useEffect, useId, useRef, useState } from 'react';
import { useFlows } from '../api/queries';
import { DebouncedInput } from '../components/DebouncedInput';
import { StatusIcon } from '../components/Status';
import {
  activeFilterCount,
  RANGES,
  type RangePreset,
  RUN_STATUSES,
  type RunFilters,
} from './filters';

const STATUS_LABEL: Record<string, string> = {
  '': 'All',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
};

/**
 * The runs list's filters: a sidebar on wide screens; on narrow ones (runs.css) a panel
 * that slides over the list when the toolbar's Filters button opens it.
 */
export function RunsFilters({
  filters,
  update,
  reset,
  open,
  onClose,
  listSettled,
}: {
  filters: RunFilters;
  update: (patch: Partial<RunFilters>) => void;
  reset: () => void;
  open: boolean;
  onClose: () => void;
  /** The runs list has its first answer. */
  listSettled: boolean;
}) {
  // The flows for the Flow filter once the rows are in: every flow with its recent runs
  // is a far costlier answer than a page of runs, and should not compete with it. Until
  // then the filter shows all flows, or the one chosen.
  const flows = useFlows(listSettled);
  const statusName = useId();
  const panel = useRef<HTMLElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    if (!open) return;
    panel.current?.querySelector<HTMLElement>('input, select, button')?.focus();
    const onEscape = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close.current();
    };
    document.addEventListener('keydown', onEscape);
    return () => document.removeEventListener('keydown', onEscape);
  }, [open]);
  const [tagText, setTagText] = useState('');
  const [customChosen, setCustom] = useState(false);
  const custom = customChosen || Boolean(filters.from || filters.to);
  const addTag = () => {
    const t = tagText.trim();
    if (t && !filters.tag.includes(t)) update({ tag: [...filters.tag, t] });
    setTagText('');
  };
  return (
    <>
      {open ? <div className="filters-backdrop" onClick={onClose} aria-hidden /> : null}
      <aside
        id="run-filters"
        ref={panel}
        className={open ? 'filters open' : 'filters'}
        aria-label="Filters"
      >
        <div className="filters-head">
          <h2>Filters</h2>
          <button type="button" className="btn btn-small" onClick={onClose}>
            Done
          </button>
        </div>
        <fieldset className="filter">
          <legend>Status</legend>
          <div className="status-filter">
            {(['', ...RUN_STATUSES] as const).map((s) => (
              <label key={s || 'all'} className="status-choice">
                <input
                  type="radio"
                  className="sr-only"
                  name={statusName}
                  checked={filters.status === s}
                  onChange={() => update({ status: s })}
                />
                {s ? <StatusIcon status={s} /> : <span className="status-all" aria-hidden />}
                {STATUS_LABEL[s]}
              </label>
            ))}
          </div>
        </fieldset>
        <label className="filter">
          <span>Flow</span>
          <select value={filters.flow_id} onChange={(e) => update({ flow_id: e.target.value })}>
            <option value="">All flows</option>
            {filters.flow_id && !flows.data?.some((f) => f.flow_id === filters.flow_id) ? (
              <option value={filters.flow_id}>{filters.flow_id}</option>
            ) : null}
            {(flows.data ?? []).map((f) => (
              <option key={f.flow_id} value={f.flow_id}>
                {f.flow_id}
              </option>
            ))}
          </select>
        </label>
        <div className="filter">
          <span>User</span>
          <DebouncedInput
            value={filters.user}
            aria-label="User filter"
            onCommit={(user) => update({ user })}
            placeholder="any user"
            spellCheck={false}
          />
        </div>
        <div className="filter">
          <span>Tags (all must match)</span>
          <div className="tag-editor">
            {filters.tag.map((t) => (
              <button
                key={t}
                type="button"
                className="tag removable"
                title="Remove this tag filter"
                onClick={() => update({ tag: filters.tag.filter((x) => x !== t) })}
              >
                {t} ×
              </button>
            ))}
            <input
              value={tagText}
              placeholder="add tag, Enter"
              aria-label="Add tag filter"
              spellCheck={false}
              onChange={(e) => setTagText(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  addTag();
                }
              }}
              onBlur={addTag}
            />
          </div>
        </div>
        <label className="filter">
          <span>Started</span>
          <select
            value={filters.range || (custom ? 'custom' : '')}
            onChange={(e) => {
              const v = e.target.value;
              setCustom(v === 'custom');
              if (v === 'custom') update({ range: '', from: filters.from, to: filters.to });
              else update({ range: v as RangePreset | '', from: '', to: '' });
            }}
          >
            <option value="">Any time</option>
            {Object.keys(RANGES).map((r) => (
              <option key={r} value={r}>
                Last {r}
              </option>
            ))}
            <option value="custom">Between dates…</option>
          </select>
        </label>
        {custom && !filters.range ? (
          <div className="filter filter-dates">
            <input
              type="date"
              aria-label="Started on or after"
              value={filters.from}
              onChange={(e) => update({ from: e.target.value })}
            />
            <input
              type="date"
              aria-label="Started on or before"
              value={filters.to}
              onChange={(e) => update({ to: e.target.value })}
            />
          </div>
        ) : null}
        <div className="filter">
          <span>Project</span>
          <DebouncedInput
            value={filters.project}
            aria-label="Project filter"
            onCommit={(project) => update({ project })}
            placeholder="@project name"
            spellCheck={false}
          />
        </div>
        <div className="filter">
          <span>Branch</span>
          <DebouncedInput
            value={filters.branch}
            aria-label="Branch filter"
            onCommit={(branch) => update({ branch })}
            placeholder="e.g. prod, user.ann"
            spellCheck={false}
          />
        </div>
        <button
          type="button"
          className="btn btn-block"
          onClick={reset}
          disabled={activeFilterCount(filters) === 0}
        >
          Reset filters
        </button>
      </aside>
    </>
  );
}
