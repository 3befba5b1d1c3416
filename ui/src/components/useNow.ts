import { useSyncExternalStore } from 'react';

// One shared clock for every ticking duration on the page, so a table of running runs
// re-renders once a second, not once per row per second.
let now = Date.now();
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void) {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

const noSubscription = () => () => {};
const snapshot = () => now;

/** The current time, ticking every second while `live` (otherwise as of the last tick). */
export function useNow(live = true): number {
  return useSyncExternalStore(live ? subscribe : noSubscription, snapshot);
}
