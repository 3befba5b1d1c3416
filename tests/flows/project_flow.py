"""A flow under @project, run once on the user's branch and once with --branch."""

from __future__ import annotations

from metaflow import FlowSpec, current, project, step


@project(name="flowscope_demo")
class ProjectFlow(FlowSpec):
    """Two steps; the interesting part is the project/branch system tags."""

    @step
    def start(self) -> None:
        self.branch = current.branch_name
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"project branch {self.branch}")


if __name__ == "__main__":
    ProjectFlow()
