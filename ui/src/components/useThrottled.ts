import { useEffect, useReducer, useRef } from 'react';

/**
 * `value`, changing at most once per `ms` (the latest value wins, at the end of the wait;
 * 0 passes every change through). For views whose every update costs a pass over a big
 * response.
 */
export function useThrottled<T>(value: T, ms: number): T {
  const shown = useRef(value);
  const last = useRef(0);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const now = Date.now();
  if (!Object.is(value, shown.current) && (ms <= 0 || now - last.current >= ms)) {
    shown.current = value;
    last.current = now;
  }
  const behind = !Object.is(value, shown.current);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a newer value keeps the deadline
  useEffect(() => {
    if (!behind) return;
    const timer = setTimeout(rerender, Math.max(0, last.current + ms - Date.now()));
    return () => clearTimeout(timer);
  }, [behind, value, ms]);
  return shown.current;
}
