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
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((t) => (
        <button
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
