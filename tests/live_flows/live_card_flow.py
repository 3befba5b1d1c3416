"""A card that updates while its task runs: `current.card.refresh()` in a loop.

LIVE_CARD_TICKS updates, LIVE_CARD_SLEEP_S apart; each rewrites the Markdown component, so
Metaflow writes new data to `…/runtime/*.data.json` and the card's JavaScript takes it.
"""

from __future__ import annotations

import os
import time

from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown

TICKS = int(os.environ.get("LIVE_CARD_TICKS", "40"))
SLEEP_S = float(os.environ.get("LIVE_CARD_SLEEP_S", "0.5"))


class LiveCardFlow(FlowSpec):
    """start refreshes its card TICKS times, then end."""

    @card(type="blank", id="progress", refresh_interval=1)
    @step
    def start(self) -> None:
        progress = Markdown("# tick 0")
        current.card["progress"].append(progress)
        current.card["progress"].refresh()
        for tick in range(1, TICKS + 1):
            time.sleep(SLEEP_S)
            progress.update(f"# tick {tick}")
            current.card["progress"].refresh()
            print(f"tick {tick}", flush=True)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    LiveCardFlow()
