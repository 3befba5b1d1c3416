"""Every metadata entry of a local task, read on demand (the index keeps only statuses).

The local source's answer to `ingest.sources.TaskDetails.task_metadata`."""

from __future__ import annotations

from pathlib import Path

from flowscope.ingest.local_reader import META, SYSMETA
from flowscope.ingest.sources import MetadataEntry
from flowscope.local_files import attempt_of, json_text, read_json, scandir, to_int


def read_task_metadata(task_dir: Path) -> list[MetadataEntry]:
    """Every metadata entry of a task, oldest first, as the client's `Task.metadata`."""
    entries: list[MetadataEntry] = []
    for entry in scandir(task_dir / META):
        if not SYSMETA.match(entry.name):
            continue
        record = read_json(Path(entry.path))
        if not isinstance(record, dict):
            continue
        value = record.get("value")
        entries.append(
            MetadataEntry(
                field_name=str(record.get("field_name")),
                value=value if isinstance(value, str) or value is None else json_text(value),
                type=record.get("type"),
                attempt=attempt_of(record),
                ts_epoch=to_int(record.get("ts_epoch")),
            )
        )
    entries.sort(key=lambda e: (e.ts_epoch or 0, e.field_name))
    return entries
