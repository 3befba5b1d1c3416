"""Build the web UI into the wheel when the build is missing.

`pip install .` from a clean clone then serves the UI; Node.js 20+ is needed at build
time only. An existing build (src/flowscope/web/dist/index.html) is reused, and editable
installs skip this: developers build the UI with npm themselves.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class UIBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "flowscope-ui"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        ui = root / "ui"
        built = root / "src" / "flowscope" / "web" / "dist" / "index.html"
        if built.is_file() or not (ui / "package.json").is_file():
            return
        npm = shutil.which("npm")
        if npm is None:
            self.app.display_warning(
                "flowscope: npm not found; building the wheel without the web UI "
                "(the server will say how to build it)"
            )
            return
        self.app.display_info("flowscope: building the web UI (npm ci && npm run build)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ui, check=True)
        subprocess.run([npm, "run", "build"], cwd=ui, check=True)
