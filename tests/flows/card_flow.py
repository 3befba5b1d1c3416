"""Cards: the default card on `start`, and a blank card with an id on `end`."""

from __future__ import annotations

from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown


class CardFlow(FlowSpec):
    """Two steps, each with a card."""

    @card
    @step
    def start(self) -> None:
        self.score = 0.93
        self.labels = ["cat", "dog"]
        self.next(self.end)

    @card(type="blank", id="summary")
    @step
    def end(self) -> None:
        current.card["summary"].append(Markdown(f"# Score\n\n{self.score}"))


if __name__ == "__main__":
    CardFlow()
