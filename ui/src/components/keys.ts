import { useEffect, useRef } from 'react';

/** True when Enter or Space belongs to the focused control (a button, a link), not the list. */
function activates(target: EventTarget | null): boolean {
  return (
    target instanceof Element && target.closest('a, button, summary, [role="button"]') !== null
  );
}

/** True when a key press belongs to a text field, not to the page's shortcuts. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
}

/**
 * j/k (and arrow keys) move the selection in a list; Enter opens it. The newest list
 * mounted wins, so a table inside a page takes the keys while it is shown.
 */
export function useListKeys(opts: {
  count: number;
  selected: number;
  onSelect: (index: number) => void;
  onOpen: (index: number) => void;
  enabled?: boolean;
}) {
  const ref = useRef(opts);
  ref.current = opts;
  useEffect(() => {
    if (opts.enabled === false) return;
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      const o = ref.current;
      if (!o.count) return;
      if (e.key === 'j' || e.key === 'ArrowDown') {
        e.preventDefault();
        o.onSelect(Math.min(o.count - 1, o.selected + 1));
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        e.preventDefault();
        o.onSelect(Math.max(0, o.selected - 1));
      } else if (e.key === 'Enter' && o.selected >= 0 && !activates(e.target)) {
        e.preventDefault();
        o.onOpen(o.selected);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [opts.enabled]);
}
