"""A branch, a foreach with a flaky task that @retry saves, and a card."""

import random
import time

from metaflow import FlowSpec, card, current, retry, step


class TrainFlow(FlowSpec):
    """Trains a few toy models in parallel and picks the best."""

    @step
    def start(self):
        """Pick learning rates to try."""
        self.rates = [0.001, 0.01, 0.1, 0.3]
        self.next(self.load_data, self.load_features)

    @step
    def load_data(self):
        """One side of a static branch."""
        self.rows = 1000
        self.next(self.merge)

    @step
    def load_features(self):
        """The other side."""
        self.features = ["age", "height", "\x1b[32mgreen\x1b[0m"]
        print("features:", ", ".join(self.features))
        self.next(self.merge)

    @step
    def merge(self, inputs):
        """Join the branch."""
        self.rows = inputs.load_data.rows
        self.features = inputs.load_features.features
        self.merge_artifacts(inputs, include=["rates"])
        self.next(self.fan_out)

    @step
    def fan_out(self):
        """Fan out over the rates (a join cannot also split: Metaflow 2.19 refuses it)."""
        print(f"training {len(self.rates)} models on {self.rows} rows")
        self.next(self.train, foreach="rates")

    @retry(times=2, minutes_between_retries=0)
    @step
    def train(self):
        """Train one model; the 0.1 model fails on its first attempt."""
        self.rate = self.input
        if self.rate == 0.1 and current.retry_count == 0:
            raise RuntimeError("GPU fell off the bus (this attempt fails on purpose)")
        for epoch in range(5):
            print(
                f"rate={self.rate} epoch={epoch} loss={1 / (epoch + 1) + random.random() / 10:.3f}"
            )
            time.sleep(0.05)
        self.score = 1 - abs(self.rate - 0.01)
        self.next(self.pick)

    @step
    def pick(self, inputs):
        """Keep the best model."""
        self.best = max((i.score, i.rate) for i in inputs)
        self.next(self.end)

    @card
    @step
    def end(self):
        """Report."""
        score, rate = self.best
        print(f"best score {score:.3f} at rate {rate}")


if __name__ == "__main__":
    TrainFlow()
