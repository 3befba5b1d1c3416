"""IncludeFile parameters: a UTF-8 text file and a binary file, included at launch."""

from __future__ import annotations

from metaflow import FlowSpec, IncludeFile, step


class IncludeFlow(FlowSpec):
    """start reads both included files; end prints their sizes."""

    notes = IncludeFile("notes", help="a text file", encoding="utf-8")
    blob = IncludeFile("blob", is_text=False, help="a binary file")

    @step
    def start(self) -> None:
        self.lines = len(self.notes.splitlines())
        self.next(self.end)

    @step
    def end(self) -> None:
        print(f"notes: {self.lines} lines, blob: {len(self.blob)} bytes")


if __name__ == "__main__":
    IncludeFlow()
