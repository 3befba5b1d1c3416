"""A straight line of steps: parameters of every kind, user tags, and logs that are
awkward to render (unicode, ANSI colours, both streams, a long log)."""

from __future__ import annotations

import sys

from metaflow import FlowSpec, JSONType, Parameter, step

# Lines a log viewer must render as-is: non-ASCII text and raw ANSI escapes.
UNICODE_LINE = "héllo wörld — ünïcode ✓ 日本語 🚀"
ANSI_LINE = "\x1b[31mred\x1b[0m \x1b[1;32mbold green\x1b[0m plain"
LONG_LOG_LINES = 300


class LinearFlow(FlowSpec):
    """Start, middle, end; no splits."""

    count = Parameter("count", type=int, default=3, help="an int")
    ratio = Parameter("ratio", type=float, default=0.5, help="a float")
    label = Parameter("label", type=str, default="plain", help="a str")
    verbose = Parameter("verbose", type=bool, default=False, help="a bool")
    settings = Parameter(
        "settings", type=JSONType, default='{"depth": 2, "names": ["a", "b"]}', help="JSON"
    )

    @step
    def start(self) -> None:
        """Writes the awkward lines to stdout and stderr."""
        print(UNICODE_LINE)
        print(ANSI_LINE)
        print("")
        print("tab\there")
        print(UNICODE_LINE, file=sys.stderr)
        print(ANSI_LINE, file=sys.stderr)
        self.total = self.count * self.ratio
        self.next(self.middle)

    @step
    def middle(self) -> None:
        """Writes a long log."""
        for n in range(1, LONG_LOG_LINES + 1):
            print(f"line {n:03d} of {LONG_LOG_LINES}")
        self.doubled = self.total * 2
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"label={self.label} verbose={self.verbose} doubled={self.doubled}")


if __name__ == "__main__":
    LinearFlow()
