"""A `Config` beside a `Parameter`: both land in `_graph_info.parameters`."""

from __future__ import annotations

from metaflow import Config, FlowSpec, Parameter, step


class ConfigFlow(FlowSpec):
    """One config (a dict), one parameter."""

    settings = Config("settings", default_value={"learning_rate": 0.1, "layers": [64, 32]})
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self) -> None:
        print(f"lr={self.settings.learning_rate} alpha={self.alpha}")
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    ConfigFlow()
