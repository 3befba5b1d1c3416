"""`flowscope demo`: a newcomer's first minute.

Runs the bundled example flows with the real `metaflow` package in a scratch folder,
while the server is already up, so the runs appear live in the browser.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path

from platformdirs import user_cache_dir

FLOWS = Path(__file__).parent / "flows"
# (file, extra arguments, whether it is meant to fail)
DEMO_RUNS = [
    ("hello_flow.py", ["--who", "flowscope", "--tag", "demo"], False),
    ("train_flow.py", ["--tag", "demo", "--max-workers", "4"], False),
    ("broken_flow.py", ["--tag", "demo"], True),
]


def run_demo(scratch: Path | None, db_url: str | None, host: str, port: int) -> int:
    if importlib.util.find_spec("metaflow") is None:
        print(
            "flowscope demo needs the metaflow package: pip install 'flowscope[demo]'",
            file=sys.stderr,
        )
        return 2
    scratch = (scratch or Path(user_cache_dir("flowscope")) / "demo").resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / ".metaflow").mkdir(exist_ok=True)
    db_url = db_url or f"sqlite:///{scratch / 'index.sqlite'}"
    threading.Thread(target=run_flows, args=(scratch,), name="demo-flows", daemon=True).start()

    from flowscope.server import serve

    print(f"flowscope demo: running example flows in {scratch}", file=sys.stderr)
    return serve(root=str(scratch), db_url=db_url, host=host, port=port)


def run_flows(scratch: Path) -> None:
    env = {
        **os.environ,
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(scratch),
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "USERNAME": os.environ.get("USERNAME") or os.environ.get("USER") or "demo",
    }
    for name, extra, _may_fail in DEMO_RUNS:
        subprocess.run(
            [sys.executable, str(FLOWS / name), "--no-pylint", "run", *extra],
            cwd=scratch,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
