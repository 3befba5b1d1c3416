import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet } from 'react-router';
import { useHealth } from '../api/queries';
import { useConnectionState } from '../api/useLive';
import { GoToBox } from './GoToBox';
import { HelpDialog } from './HelpDialog';
import { isTyping } from './keys';
import { NotifyToggle } from './notify';
import { type ThemeChoice, usePrefs } from './prefs';

const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = {
  system: 'light',
  light: 'dark',
  dark: 'system',
};
const THEME_LABEL: Record<ThemeChoice, string> = { system: 'Auto', light: 'Light', dark: 'Dark' };

type Indicator = 'up' | 'connecting' | 'reconnecting' | 'down' | 'indexing';

const INDICATOR: Record<Indicator, { label: string; title: string }> = {
  up: { label: 'Live', title: 'Connected: changes appear as they happen' },
  connecting: { label: 'Connecting…', title: 'Connecting to the server' },
  reconnecting: {
    label: 'Reconnecting…',
    title: 'The live connection dropped; reconnecting (nothing is missed)',
  },
  down: {
    label: 'Offline',
    title: 'The server cannot be reached; retrying. Pages show what was last loaded.',
  },
  indexing: { label: 'Indexing…', title: 'The server is still indexing runs' },
};

/** The header's connection indicator: the live stream's state, or the server's health. */
function ConnectionDot() {
  const health = useHealth();
  const stream = useConnectionState();
  let state: Indicator;
  if (stream === 'offline' || (health.isError && stream !== 'open')) state = 'down';
  else if (stream === 'reconnecting') state = 'reconnecting';
  else if (health.data?.ready === false) state = 'indexing';
  else if (stream === 'open' || (stream === 'idle' && health.data)) state = 'up';
  else state = 'connecting';
  const { label, title } = INDICATOR[state];
  return (
    <span className={`health health-${state}`} title={title} role="status" data-state={state}>
      <span className="health-dot" aria-hidden />
      <span className="health-label">{label}</span>
    </span>
  );
}

export function Layout() {
  const { theme, setTheme, tz, setTz } = usePrefs();
  const [help, setHelp] = useState(false);
  const gotoRef = useRef<HTMLInputElement>(null);
  const prefs = useRef({ theme, tz });
  prefs.current = { theme, tz };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && isTyping(e.target)) {
        (e.target as HTMLElement).blur();
        return;
      }
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === '?') {
        e.preventDefault();
        setHelp((h) => !h);
      } else if (e.key === '/') {
        // A page's own search box (runs search, log search) comes first.
        const target =
          document.querySelector<HTMLInputElement>('[data-page-search]') ?? gotoRef.current;
        if (target) {
          e.preventDefault();
          target.focus();
          target.select();
        }
      } else if (e.key === 'g') {
        e.preventDefault();
        gotoRef.current?.focus();
      } else if (e.key === 't') {
        setTheme(NEXT_THEME[prefs.current.theme]);
      } else if (e.key === 'u') {
        setTz(prefs.current.tz === 'utc' ? 'local' : 'utc');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [setTheme, setTz]);

  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="flowscope home">
          <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden>
            <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" strokeWidth="2.5" />
            <circle cx="12" cy="12" r="4" fill="currentColor" />
          </svg>
          flowscope
        </NavLink>
        <nav className="topnav">
          <NavLink to="/" end>
            Runs
          </NavLink>
          <NavLink to="/flows">Flows</NavLink>
        </nav>
        <GoToBox ref={gotoRef} />
        <div className="topbar-tools">
          <fieldset className="segmented" aria-label="Time zone">
            <button type="button" aria-pressed={tz === 'local'} onClick={() => setTz('local')}>
              Local
            </button>
            <button type="button" aria-pressed={tz === 'utc'} onClick={() => setTz('utc')}>
              UTC
            </button>
          </fieldset>
          <button
            type="button"
            className="btn btn-small"
            title="Theme: follows the OS, or light or dark (t)"
            onClick={() => setTheme(NEXT_THEME[theme])}
          >
            Theme: {THEME_LABEL[theme]}
          </button>
          <button
            type="button"
            className="btn btn-small"
            title="Keyboard shortcuts (?)"
            onClick={() => setHelp(true)}
          >
            ?
          </button>
          <NotifyToggle />
          <ConnectionDot />
        </div>
      </header>
      <main className="content">
        <Outlet />
      </main>
      <HelpDialog open={help} onClose={() => setHelp(false)} />
    </div>
  );
}
