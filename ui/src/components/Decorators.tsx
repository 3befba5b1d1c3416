import type { StepDecorator } from '../api/models';

// `@timeout(seconds=2, minutes=0)`: a decorator as the user wrote it, values in JSON.
export function decoratorText(d: StepDecorator): string {
  const args = Object.entries(d.attributes)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `@${d.name}${args.length ? `(${args.join(', ')})` : ''}`;
}

export function Decorators({ decorators }: { decorators: readonly StepDecorator[] }) {
  if (!decorators.length) return <span className="muted">none</span>;
  return (
    <span className="decorators">
      {decorators.map((d, i) => (
        <code
          // A step may carry the same decorator twice (e.g. two @card).
          // biome-ignore lint/suspicious/noArrayIndexKey: order is the identity here
          key={`${d.name}${i}`}
          className="decorator"
          data-decorator={d.name}
          title={d.inserted_by ? `added by ${String(d.inserted_by)}` : undefined}
        >
          {decoratorText(d)}
        </code>
      ))}
    </span>
  );
}
