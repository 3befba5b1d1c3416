import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
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
const THEMES: [ThemeChoice, string][] = [
  ['system', 'Auto'],
  ['light', 'Light'],
  ['dark', 'Dark'],
];

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

/**
 * The top bar's settings: inline on wide windows; on narrow ones (base.css) behind a
 * menu button, in a panel that drops down under the bar.
 */
function Tools({ onHelp }: { onHelp: () => void }) {
  const { theme, setTheme, tz, setTz } = usePrefs();
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const location = useLocation();
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new page closes the menu
  useEffect(() => setOpen(false), [location]);
  useEffect(() => {
    if (!open) return;
    const away = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!panel.current?.contains(t) && !button.current?.contains(t)) setOpen(false);
    };
    const onEscape = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener('pointerdown', away);
    document.addEventListener('keydown', onEscape);
    return () => {
      document.removeEventListener('pointerdown', away);
      document.removeEventListener('keydown', onEscape);
    };
  }, [open]);
  return (
    <>
      <button
        ref={button}
        type="button"
        className="btn menu-button"
        aria-expanded={open}
        aria-controls="topbar-tools"
        aria-label="Settings and help"
        title="Settings and help"
        onClick={() => setOpen((o) => !o)}
      >
        <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden focusable="false">
          <path d="M2 4h12M2 8h12M2 12h12" stroke="currentColor" strokeWidth="1.8" />
        </svg>
      </button>
      <div id="topbar-tools" ref={panel} className={open ? 'topbar-tools open' : 'topbar-tools'}>
        <div className="tool">
          <span className="tool-label" aria-hidden>
            Times
          </span>
          <fieldset className="segmented" aria-label="Time zone (u)">
            <button type="button" aria-pressed={tz === 'local'} onClick={() => setTz('local')}>
              Local
            </button>
            <button type="button" aria-pressed={tz === 'utc'} onClick={() => setTz('utc')}>
              UTC
            </button>
          </fieldset>
        </div>
        <div className="tool">
          <span className="tool-label" aria-hidden>
            Theme
          </span>
          <fieldset
            className="segmented"
            aria-label="Theme (t)"
            title="Theme: follows the OS, or light or dark (t)"
          >
            {THEMES.map(([value, label]) => (
              <button
                key={value}
                type="button"
                aria-pressed={theme === value}
                onClick={() => setTheme(value)}
              >
                {label}
              </button>
            ))}
          </fieldset>
        </div>
        <NotifyToggle />
        <button
          type="button"
          className="btn btn-small"
          title="Keyboard shortcuts (?)"
          aria-label="Keyboard shortcuts"
          onClick={() => {
            setOpen(false);
            onHelp();
          }}
        >
          <span aria-hidden>?</span>
          <span className="tool-text"> Keyboard shortcuts</span>
        </button>
      </div>
    </>
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
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="flowscope home">
          <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden focusable="false">
            <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" strokeWidth="2.5" />
            <circle cx="12" cy="12" r="4" fill="currentColor" />
          </svg>
          <span className="brand-name">flowscope</span>
        </NavLink>
        <nav className="topnav" aria-label="Main">
          <NavLink to="/" end>
            Runs
          </NavLink>
          <NavLink to="/flows">Flows</NavLink>
        </nav>
        <GoToBox ref={gotoRef} />
        <ConnectionDot />
        <Tools onHelp={() => setHelp(true)} />
      </header>
      <main className="content" id="main" tabIndex={-1}>
        <Outlet />
      </main>
      <HelpDialog open={help} onClose={() => setHelp(false)} />
    </div>
  );
}
