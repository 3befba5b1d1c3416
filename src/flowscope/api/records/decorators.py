"""A step's decorators, as `_graph_info` lists them (`steps.<name>.decorators`)."""

from __future__ import annotations

from typing import Any


def step_decorators(graph: dict[str, Any] | None, step_name: str) -> list[dict[str, Any]]:
    """[{name, attributes, inserted_by}] in the order Metaflow recorded them (innermost
    first, as `graph.output_steps` lists `node.decorators`). Internal decorators whose name
    starts with `_` are Metaflow's bookkeeping, not the user's, and are left out."""
    steps = (graph or {}).get("steps")
    info = steps.get(step_name) if isinstance(steps, dict) else None
    if not isinstance(info, dict):
        return []
    found = []
    for deco in info.get("decorators") or []:
        if not isinstance(deco, dict) or not isinstance(deco.get("name"), str):
            continue
        if deco["name"].startswith("_"):
            continue
        attributes = deco.get("attributes")
        inserted_by = deco.get("inserted_by")
        found.append(
            {
                "name": deco["name"],
                "attributes": attributes if isinstance(attributes, dict) else {},
                # A decorator added by a mutator or `--with`, not written on the step.
                "inserted_by": [str(x) for x in inserted_by]
                if isinstance(inserted_by, list)
                else (str(inserted_by) if inserted_by else None),
            }
        )
    return found
