import { useEffect, useRef, useState } from 'react';
import { resolveServerUrl, type TaskRef } from '../api/client';
import type { Card } from '../api/models';
import { useCardData, useCards } from '../api/queries';
import { EmptyState, ErrorState, Loading } from '../components/States';

/**
 * One card in its sandboxed frame, kept up to date while the task runs as Metaflow's own
 * card viewer does: new data whose `reload_token` matches the card's goes to the card's
 * `metaflow_card_update`, through the bridge the server adds to the card (the frame has
 * no same origin, so only messages cross); another token reloads the frame.
 */
const MAX_RELOADS_PER_TOKEN = 10;
const MAX_POLLS_AFTER_END = 30;

function CardFrame({ task, card, live }: { task: TaskRef; card: Card; live: boolean }) {
  const frame = useRef<HTMLIFrameElement>(null);
  // undefined until the card says it is ready (and which token it was rendered with).
  const [frameToken, setFrameToken] = useState<string | null | undefined>(undefined);
  const [reloads, setReloads] = useState(0);
  // Reloads for the token the data has now: the card may be rendered a moment after its
  // data, so a reload can still show the older render; try again, a few times.
  const reloadsFor = useRef<{ token: string | null; count: number }>({ token: null, count: 0 });
  const [mismatch, setMismatch] = useState(false);
  useEffect(() => {
    const onMessage = (e: MessageEvent) => {
      if (!frame.current || e.source !== frame.current.contentWindow) return;
      const m = e.data as { type?: string; token?: string | null } | null;
      if (m?.type === 'flowscope-card-ready') setFrameToken(m.token ?? null);
    };
    window.addEventListener('message', onMessage);
    return () => window.removeEventListener('message', onMessage);
  }, []);
  // After the task ends Metaflow still writes the final data and render (`final`): keep
  // looking for a while.
  const [afterEnd, setAfterEnd] = useState(0);
  const data = useCardData(
    task,
    card.id,
    live || mismatch || (afterEnd > 0 && afterEnd < MAX_POLLS_AFTER_END),
    frameToken !== undefined,
  );
  const { refetch } = data;
  const ready = frameToken !== undefined;
  useEffect(() => {
    // The task just ended: one more look, for the final render.
    if (!live && ready) void refetch();
  }, [live, ready, refetch]);
  const updatedAt = data.dataUpdatedAt;
  useEffect(() => {
    // Counts the looks taken since the task ended, until the final data came.
    if (live || updatedAt === 0) return;
    const token = data.data?.reload_token;
    setAfterEnd((n) => (data.data && token !== 'final' ? n + 1 : MAX_POLLS_AFTER_END));
  }, [live, updatedAt, data.data]);
  useEffect(() => {
    const d = data.data;
    if (!d || frameToken === undefined) return;
    if (d.reload_token === frameToken) {
      setMismatch(false);
      frame.current?.contentWindow?.postMessage({ type: 'flowscope-card-data', data: d.data }, '*');
      return;
    }
    // Rendered anew (or final): load the card again.
    const tries = reloadsFor.current;
    if (tries.token !== d.reload_token) reloadsFor.current = { token: d.reload_token, count: 0 };
    if (reloadsFor.current.count >= MAX_RELOADS_PER_TOKEN) {
      setMismatch(false);
      return;
    }
    reloadsFor.current.count += 1;
    setMismatch(true);
    setFrameToken(undefined);
    setReloads((n) => n + 1);
  }, [data.data, frameToken]);
  const src = resolveServerUrl(reloads ? `${card.url}?v=${reloads}` : card.url);
  return (
    // The card's own scripts run, sandboxed away from this page (no same-origin).
    <iframe
      key={src}
      ref={frame}
      className="card-frame"
      title={`Card ${card.id || card.type}`}
      sandbox="allow-scripts"
      src={src}
      data-reloads={reloads}
    />
  );
}

export function Cards({ task, live = false }: { task: TaskRef; live?: boolean }) {
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
          <CardFrame key={card.url} task={task} card={card} live={live} />
        </>
      ) : null}
    </div>
  );
}
