import { useState } from 'react';
import { resolveServerUrl, type TaskRef } from '../api/client';
import { useCards } from '../api/queries';
import { EmptyState, ErrorState, Loading } from '../components/States';

export function Cards({ task }: { task: TaskRef }) {
  const cards = useCards(task);
  const [selected, setSelected] = useState(0);
  if (cards.isPending) return <Loading what="cards" />;
  if (cards.isError)
    return <ErrorState error={cards.error} what="cards" onRetry={() => void cards.refetch()} />;
  const items = cards.data.items;
  if (!items.length)
    return (
      <EmptyState title="This task has no cards.">
        Add <code>@card</code> to the step to get a report here.
      </EmptyState>
    );
  const card = items[Math.min(selected, items.length - 1)];
  return (
    <div className="cards">
      {items.length > 1 ? (
        <div className="card-picker" role="tablist" aria-label="Cards">
          {items.map((c, i) => (
            <button
              key={`${c.type}-${c.id}`}
              type="button"
              role="tab"
              aria-selected={i === selected}
              className={i === selected ? 'tab active' : 'tab'}
              onClick={() => setSelected(i)}
            >
              {c.id || c.type}
              {c.id && c.type !== 'default' ? <span className="muted"> ({c.type})</span> : null}
            </button>
          ))}
        </div>
      ) : null}
      {card ? (
        <>
          <div className="muted card-meta">
            {card.type} card{card.id ? ` · id ${card.id}` : ''} ·{' '}
            <a href={resolveServerUrl(card.url)} target="_blank" rel="noreferrer">
              open in a new tab
            </a>
          </div>
          {/* The card's own scripts run, sandboxed away from this page (no same-origin). */}
          <iframe
            key={card.url}
            className="card-frame"
            title={`Card ${card.id || card.type}`}
            sandbox="allow-scripts"
            src={resolveServerUrl(card.url)}
          />
        </>
      ) : null}
    </div>
  );
}
