"""A plain two-step flow that the fixtures run as if a scheduler had started it.

The fixtures launch it with the environment the Argo Workflows and Step Functions
compilers give their tasks (METAFLOW_RUNTIME_NAME, METAFLOW_PRODUCTION_TOKEN, the code
package) so Metaflow itself writes the system tags and metadata those runs carry; what
only the remote decorators write is added afterwards (see tests/fixtures_runs.py).
"""

from __future__ import annotations

from metaflow import FlowSpec, step


class ScheduledFlow(FlowSpec):
    """start, end."""

    @step
    def start(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    ScheduledFlow()
