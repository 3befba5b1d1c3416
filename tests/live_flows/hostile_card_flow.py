"""A flow whose card is hostile: its Markdown carries HTML with a script (Metaflow's card
renders Markdown's raw HTML), as a card built from untrusted text would.

The script tries what a card must never do from flowscope's page: call the API with the
user's session, read the app's cookies, reach into the parent page. It writes what it got
into `#hostile-result` (JSON) for ui/e2e/security.spec.ts to read.
"""

from __future__ import annotations

from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown

PROBE = """
(async () => {
  const out = {};
  const note = (key, fn) => { try { out[key] = String(fn()); } catch (e) { out[key] = 'blocked: ' + e.name; } };
  note('cookie', () => document.cookie);
  note('parent', () => window.parent.document.title);
  note('top', () => window.top.location.href);
  note('storage', () => window.localStorage.length);
  try {
    const r = await fetch('/api/v1/runs', { credentials: 'include' });
    out.fetch = 'status ' + r.status + ': ' + (await r.text()).slice(0, 80);
  } catch (e) { out.fetch = 'blocked: ' + e.name; }
  const el = document.createElement('pre');
  el.id = 'hostile-result';
  el.textContent = JSON.stringify(out);
  document.body.appendChild(el);
})();
""".replace("\n", " ")

HOSTILE = f'Untrusted text <img src="data:," onerror="{PROBE.replace(chr(34), "&quot;")}">'


class HostileCardFlow(FlowSpec):
    @card(type="blank", id="hostile")
    @step
    def start(self) -> None:
        current.card["hostile"].append(Markdown(HOSTILE))
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    HostileCardFlow()
