"""A flow that fails, so the demo shows what a failure looks like."""

from metaflow import FlowSpec, step


class BrokenFlow(FlowSpec):
    """Fails in its middle step."""

    @step
    def start(self):
        """Fine."""
        self.values = {"a": 1}
        self.next(self.explode)

    @step
    def explode(self):
        """Raises a KeyError."""
        print("about to look up a missing key")
        print(self.values["b"])
        self.next(self.end)

    @step
    def end(self):
        """Never reached."""


if __name__ == "__main__":
    BrokenFlow()
