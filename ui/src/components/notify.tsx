// Optional browser notifications: off until the user turns them on (which asks the
// browser's permission, once); then a run page that is open says when its run finishes.
import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { RunDetail } from '../api/models';

const STORAGE_KEY = 'flowscope.notify';

function supported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

function stored(): boolean {
  try {
    return localStorage.getItem(STORAGE_KEY) === '1';
  } catch {
    return false;
  }
}

let enabled = supported() && stored() && Notification.permission === 'granted';
const listeners = new Set<() => void>();

function set(on: boolean) {
  enabled = on;
  try {
    if (on) localStorage.setItem(STORAGE_KEY, '1');
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage may be disabled: the choice then lasts for this page only
  }
  for (const l of listeners) l();
}

async function toggle() {
  if (enabled) return set(false);
  if (!supported()) return;
  let permission = Notification.permission;
  if (permission === 'default') permission = await Notification.requestPermission();
  set(permission === 'granted');
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => {
    listeners.delete(l);
  };
}

const snapshot = () => enabled;

export function NotifyToggle() {
  const on = useSyncExternalStore(subscribe, snapshot);
  if (!supported()) return null;
  const blocked = Notification.permission === 'denied';
  return (
    <button
      type="button"
      className="btn btn-small"
      aria-pressed={on}
      disabled={blocked && !on}
      title={
        blocked
          ? "Notifications are blocked for this site in the browser's settings"
          : 'Browser notification when the run of an open run page finishes or fails'
      }
      onClick={() => void toggle()}
    >
      Notify: {on ? 'on' : 'off'}
    </button>
  );
}

/** Notifies when this run stops running, if notifications are on. */
export function useRunFinishedNotice(run: RunDetail | undefined) {
  const seen = useRef<{ key: string; status: string } | null>(null);
  const key = run ? `${run.flow_id}/${run.run_id}` : '';
  const status = run?.status;
  const reason = run?.status_reason;
  useEffect(() => {
    if (!status) return;
    const before = seen.current?.key === key ? seen.current.status : null;
    seen.current = { key, status };
    if (before !== 'running' || status === 'running' || !enabled) return;
    const failed = status === 'failed';
    const n = new Notification(`${key} ${failed ? 'failed' : 'completed'}`, {
      body:
        failed && reason === 'killed'
          ? 'The run was killed.'
          : failed && reason === 'lost'
            ? "The run's process vanished."
            : undefined,
      tag: key,
    });
    n.onclick = () => {
      window.focus();
      n.close();
    };
  }, [key, status, reason]);
}
