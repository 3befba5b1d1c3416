"""Write (or check) the committed OpenAPI spec, `src/flowscope/api/openapi.json`.

The UI generates its TypeScript types from that file, so CI runs `--check` to make sure
the spec, the server and the UI's types cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

SPEC_PATH = Path(__file__).with_name("openapi.json")


def current_spec() -> dict[str, Any]:
    from flowscope.api.app import create_api
    from flowscope.api.context import AppContext
    from flowscope.store import Store

    with tempfile.TemporaryDirectory() as scratch:
        store = Store(f"sqlite:///{scratch}/spec.sqlite")
        try:
            return create_api(AppContext(store=store)).openapi()
        finally:
            store.close()


def render(spec: dict[str, Any]) -> bytes:
    return orjson.dumps(spec, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed spec is stale")
    args = parser.parse_args()
    fresh = render(current_spec())
    if args.check:
        if not SPEC_PATH.exists() or SPEC_PATH.read_bytes() != fresh:
            print(
                f"{SPEC_PATH} is stale: run python -m flowscope.api.export_openapi", file=sys.stderr
            )
            return 1
        return 0
    SPEC_PATH.write_bytes(fresh)
    print(f"wrote {SPEC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
