"""Artifacts of a task attempt, with previews that never run an untrusted pickle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from flowscope.api.answers import DATASTORE, TASK, answers, merge, ok_links
from flowscope.api.deps import (
    Datastore,
    Run,
    TaskRow,
    pick_attempt,
    task_pathspec,
)
from flowscope.api.models import ArtifactDetail, ArtifactPage
from flowscope.api.responses import FastJSON, page
from flowscope.datastore import DatastoreError, DatastoreUnavailable, DatastoreUnsupported
from flowscope.datastore import preview as previews
from flowscope.datastore.included_file import IncludedFileRef

router = APIRouter(tags=["artifacts"])

TASK_PATH = "/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}"
PREVIEW_MAX_BYTES = 20_000_000


@router.get(
    TASK_PATH + "/artifacts",
    response_model=ArtifactPage,
    responses=merge(
        answers(*DATASTORE),
        ok_links(first=("get_artifact", {**TASK, "name": "$response.body#/items/0/name"})),
    ),
)
def list_artifacts(
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    attempt: Annotated[int | None, Query(ge=0)] = None,
    include_private: bool = False,
) -> FastJSON:
    number = pick_attempt(task, attempt)
    found = datastore.list_artifacts(task_pathspec(ref, task), number)
    items = [
        {"name": a.name, "type": a.type, "size": a.size, "sha": a.sha}
        for a in found
        if include_private or not a.name.startswith("_")
    ]
    return page(items, None)


@router.get(
    TASK_PATH + "/artifacts/{name}", response_model=ArtifactDetail, responses=answers(*DATASTORE)
)
def get_artifact(
    request: Request,
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    name: str,
    attempt: Annotated[int | None, Query(ge=0)] = None,
) -> FastJSON:
    number = pick_attempt(task, attempt)
    pathspec = task_pathspec(ref, task)
    artifact = next((a for a in datastore.list_artifacts(pathspec, number) if a.name == name), None)
    if artifact is None:
        raise HTTPException(404, f"artifact {name} not found")
    body = {
        "name": name,
        "type": artifact.type,
        "size": artifact.size,
        "previewable": False,
        "preview": None,
        "preview_kind": None,
        "preview_data": None,
        "download_url": None,
        "load_snippet": previews.load_snippet(str(pathspec), name, number),
    }
    try:
        data = datastore.artifact_pickle(
            ref.flow_id,
            artifact.sha,
            max_bytes=PREVIEW_MAX_BYTES,
            encoding=artifact.encoding,
            location=artifact.location,
        )
    except (DatastoreUnavailable, DatastoreUnsupported):
        raise  # the storage, not this value: a 503/501 the UI shows in place
    except DatastoreError as exc:
        body["preview"] = str(exc)
        return FastJSON(body)
    try:
        made = previews.preview_pickle(data, max_bytes=PREVIEW_MAX_BYTES)
    except DatastoreError as exc:  # refused, too big or too slow: said in place of a preview
        body["preview"] = str(exc)
        return FastJSON(body)
    if isinstance(made, IncludedFileRef):
        try:
            content = datastore.read_included_file(made, ref.flow_id, max_bytes=PREVIEW_MAX_BYTES)
        except (DatastoreUnavailable, DatastoreUnsupported):
            raise
        except DatastoreError as exc:
            body["preview"] = f"included file: {exc}"
            return FastJSON(body)
        made = previews.included_preview(content)
        body["download_url"] = f"{request.url.path.rstrip('/')}/download?attempt={number}"
    body.update(
        previewable=True,
        preview=made.preview,
        preview_kind=made.preview_kind,
        preview_data=made.preview_data,
    )
    return FastJSON(body)


# An included file is served whole up to this size (Metaflow itself reads it into memory).
DOWNLOAD_MAX_BYTES = 200_000_000


@router.get(
    TASK_PATH + "/artifacts/{name}/download",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, **answers(*DATASTORE)},
)
def download_artifact(
    ref: Run,
    task: TaskRow,
    datastore: Datastore,
    name: str,
    attempt: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The content of an IncludeFile parameter, byte for byte as the client's `.data` (404
    for any other artifact: their values are Python objects, not files)."""
    number = pick_attempt(task, attempt)
    pathspec = task_pathspec(ref, task)
    artifact = next((a for a in datastore.list_artifacts(pathspec, number) if a.name == name), None)
    if artifact is None:
        raise HTTPException(404, f"artifact {name} not found")
    value = datastore.load_artifact(
        ref.flow_id,
        artifact.sha,
        max_bytes=PREVIEW_MAX_BYTES,
        encoding=artifact.encoding,
        location=artifact.location,
    )
    if not isinstance(value, IncludedFileRef):
        raise HTTPException(404, f"artifact {name} is not an included file")
    content = datastore.read_included_file(value, ref.flow_id, max_bytes=DOWNLOAD_MAX_BYTES)
    media = (
        f"text/plain; charset={content.encoding}" if content.is_text else "application/octet-stream"
    )
    return Response(
        content.data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
