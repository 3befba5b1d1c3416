"""A card refreshed while its task runs: `current.card.refresh()` three times.

Metaflow writes the card's data to `…/runtime/<type>-<id>-<hash>.data.json` at each
refresh and the final data (`reload_token: final`) when the task ends.
"""

from __future__ import annotations

import time

from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown


class RefreshingCardFlow(FlowSpec):
    """start refreshes its `progress` card, then end."""

    @card(type="blank", id="progress", refresh_interval=1)
    @step
    def start(self) -> None:
        progress = Markdown("# tick 0")
        current.card["progress"].append(progress)
        current.card["progress"].refresh()
        for tick in range(1, 4):
            time.sleep(0.3)
            progress.update(f"# tick {tick}")
            current.card["progress"].refresh()
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    RefreshingCardFlow()
