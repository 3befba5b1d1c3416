"""`Config`s apart from `Parameter`s: both are listed in `_graph_info.parameters`, each
with its class name as `type` (metaflow/flowspec.py `_set_constants`); a config's value is
stored as a dict (`ConfigValue.to_dict()`)."""

from __future__ import annotations

from typing import Any

CONFIG_TYPES = frozenset({"Config"})


def split_configs(
    graph: dict[str, Any] | None, values: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(parameters, configs), each name -> repr of its value."""
    declared = (graph or {}).get("parameters") or []
    config_names = {
        p.get("name")
        for p in declared
        if isinstance(p, dict) and str(p.get("type")) in CONFIG_TYPES
    }
    parameters = {k: v for k, v in values.items() if k not in config_names}
    configs = {k: v for k, v in values.items() if k in config_names}
    return parameters, configs
