import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from 'react';
import type { TimeZoneMode } from './format';

export type ThemeChoice = 'system' | 'light' | 'dark';

interface Prefs {
  theme: ThemeChoice;
  setTheme: (t: ThemeChoice) => void;
  tz: TimeZoneMode;
  setTz: (tz: TimeZoneMode) => void;
}

const PrefsContext = createContext<Prefs | null>(null);

function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key: string, value: string | null) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // storage may be disabled: the choice then lasts for this page only
  }
}

export function PrefsProvider({ children }: { children: ReactNode }) {
  const [theme, setThemeState] = useState<ThemeChoice>(() => {
    const t = load('flowscope.theme');
    return t === 'light' || t === 'dark' ? t : 'system';
  });
  const [tz, setTzState] = useState<TimeZoneMode>(() =>
    load('flowscope.tz') === 'utc' ? 'utc' : 'local',
  );
  useEffect(() => {
    // No data-theme attribute means "follow the OS" (CSS prefers-color-scheme).
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
  }, [theme]);
  const setTheme = useCallback((t: ThemeChoice) => {
    setThemeState(t);
    save('flowscope.theme', t === 'system' ? null : t);
  }, []);
  const setTz = useCallback((v: TimeZoneMode) => {
    setTzState(v);
    save('flowscope.tz', v);
  }, []);
  const value = useMemo(() => ({ theme, setTheme, tz, setTz }), [theme, setTheme, tz, setTz]);
  return <PrefsContext.Provider value={value}>{children}</PrefsContext.Provider>;
}

export function usePrefs(): Prefs {
  const p = useContext(PrefsContext);
  if (!p) throw new Error('usePrefs outside PrefsProvider');
  return p;
}

/** Whether the page is dark right now (for canvas drawing, which cannot use CSS). */
export function useIsDark(): boolean {
  const { theme } = usePrefs();
  const query = '(prefers-color-scheme: dark)';
  const [osDark, setOsDark] = useState(() => window.matchMedia?.(query).matches ?? false);
  useEffect(() => {
    const mq = window.matchMedia?.(query);
    if (!mq) return;
    const on = () => setOsDark(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return theme === 'dark' || (theme === 'system' && osDark);
}
