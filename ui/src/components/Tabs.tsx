export interface TabDef<T extends string> {
  id: T;
  label: string;
  badge?: string | number | null;
}

export function Tabs<T extends string>({
  tabs,
  value,
  onChange,
  onHover,
  label,
}: {
  onHover?: (id: T) => void;
  tabs: readonly TabDef<T>[];
  value: T;
  onChange: (id: T) => void;
  label: string;
}) {
  return (
    <div
      className="tabs"
      role="tablist"
      aria-label={label}
      onKeyDown={(e) => {
        // The tab pattern: arrows move between tabs (and choose the one they reach).
        const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        // From the focused tab, not from `value`: focus moves at once, while the chosen
        // tab comes back through the URL in a router transition that React renders later.
        // A second arrow pressed in between would otherwise start again from the tab the
        // first one left (DAG, ArrowRight, ArrowLeft gave Tasks, not DAG).
        const from = (e.target as HTMLElement).closest<HTMLElement>('[data-tab]')?.dataset.tab;
        const i = tabs.findIndex((t) => t.id === (from ?? value));
        const next = tabs[(i + step + tabs.length) % tabs.length];
        if (!next) return;
        e.preventDefault();
        onChange(next.id);
        const el = e.currentTarget.querySelector<HTMLElement>(`[data-tab="${next.id}"]`);
        el?.focus();
      }}
    >
      {tabs.map((t) => (
        <button
          data-tab={t.id}
          key={t.id}
          type="button"
          role="tab"
          aria-selected={t.id === value}
          className={t.id === value ? 'tab active' : 'tab'}
          onClick={() => onChange(t.id)}
          onMouseEnter={onHover ? () => onHover(t.id) : undefined}
          onFocus={onHover ? () => onHover(t.id) : undefined}
        >
          {t.label}
          {t.badge !== undefined && t.badge !== null ? (
            <span className="tab-badge">{t.badge}</span>
          ) : null}
        </button>
      ))}
    </div>
  );
}
