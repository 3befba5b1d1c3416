import { useEffect, useRef } from 'react';

const SHORTCUTS: [string, string][] = [
  ['/', 'Search on this page (or the go-to box)'],
  ['g', 'Go to a pathspec'],
  ['?', 'Show this help'],
  ['j / k', 'Next / previous row in a table'],
  ['Enter', 'Open the selected row'],
  ['Esc', 'Close a dialog, leave a text field'],
  ['1 / 2 / 3', 'Run page: DAG / Timeline / Tasks tab'],
  ['f', 'Timeline: fit the whole run'],
  ['+ / -', 'Timeline: zoom in / out'],
  ['Ctrl/⌘ + wheel, pinch', 'Timeline: zoom at the pointer'],
  ['drag, Shift + wheel', 'Timeline: pan'],
  ['t', 'Switch the theme'],
  ['u', 'Switch between local time and UTC'],
];

export function HelpDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" onClose={onClose} aria-label="Keyboard shortcuts">
      <div className="dialog-head">
        <h2>Keyboard shortcuts</h2>
        <button type="button" className="btn btn-small" onClick={onClose}>
          Close
        </button>
      </div>
      <table className="kv">
        <tbody>
          {SHORTCUTS.map(([k, v]) => (
            <tr key={k}>
              <th>
                <kbd>{k}</kbd>
              </th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Paste a pathspec like <code>MyFlow/12/train/345</code> into the go-to box to jump to it.
      </p>
      <p className="muted">
        Pages update as runs change; the dot and word at the top right say whether the live
        connection is up (Live), dropped (Reconnecting…, nothing is missed) or down (Offline).
      </p>
    </dialog>
  );
}
