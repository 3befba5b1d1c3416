"""Real Metaflow runs for the test suite.

`run_fixture_flows(sysroot)` runs every flow in `tests/flows/` with the `metaflow` package's
own CLI, into `<sysroot>/.metaflow`, and returns fixture name -> run pathspec. Nothing is
faked: the files flowscope reads are the files Metaflow wrote, and `tests/oracle.py` asks the
Metaflow client about the same runs.

A sysroot whose manifest (written last, with a hash of the flow sources, this file and the
metaflow version) matches is reused as it is. Set FLOWSCOPE_FIXTURE_CACHE=/some/dir and
`fixture_sysroot()` returns that directory, so the flows run once there and later sessions
reuse them until a source changes. Tests must not change those runs (no tag edits, no new
runs into that sysroot), or the sysroot no longer matches a fresh build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

FLOWS_DIR = Path(__file__).resolve().parent / "flows"
CACHE_ENV = "FLOWSCOPE_FIXTURE_CACHE"
MANIFEST_NAME = "fixture-manifest.json"
MANIFEST_VERSION = 1
USERNAME = "tester"
# Two flows at a time keeps both cores of the CI machine busy; each flow runs up to four
# tasks at once so foreach fan-outs do not serialise.
PARALLEL_FLOWS = 2
MAX_WORKERS = 4
COMMAND_TIMEOUT_S = 180

# Fixture name -> what the run is there to show.
FIXTURES = {
    "linear": "int/float/str/bool/JSON parameters, launch tags, unicode and ANSI logs on "
    "stdout and stderr (start), a 300-line log (middle)",
    "branch": "static split into two branches and their join",
    "foreach": "foreach over 4 floats: labels items[0]=1.0 … items[3]=0.125",
    "nested_foreach": "foreach inside a foreach (2 x 2 inner tasks), two joins",
    "switch": "conditional step that takes one of two paths; the other step never runs",
    "recursive_switch": "switch step looping to itself 3 times: one step, 3 tasks",
    "retry": "@retry task failing on attempt 0, succeeding on attempt 1",
    "catch": "@catch task: not successful, yet the run completes",
    "failing": "run failing with an exception in its middle step",
    "resumed": "resume of `failing` that succeeds; start is cloned",
    "card": "default card (start) and a blank card with id `summary` (end)",
    "project": "@project run on the default branch user.tester",
    "project_branch": "@project run with --branch (test.feature_x)",
    "tags": "launch tags edited afterwards with add_tag, remove_tag, replace_tag",
    "include": "IncludeFile parameters: UTF-8 text (`notes`) and binary (`blob`)",
    "timeout": "@timeout cuts `slow` short on both attempts (TimeoutException), @catch keeps "
    "the last; start has @resources, @environment and @card",
    "config": "a Config (dict) beside a Parameter",
    "refreshing_card": "a blank card `progress` refreshed 3 times while start runs",
    "parallel": "@parallel gang of 3: control task 2, workers 2_node_1 and 2_node_2",
    "argo": "as started by Argo Workflows on Kubernetes, triggered by the `parallel` run's end",
    "sfn": "as started by Step Functions on AWS Batch, one task told of a spot termination",
}

# What the fixtures are launched with, for tests that check the results.
LINEAR_PARAMS = {"count": "7", "label": "héllo wörld", "verbose": "True"}
LINEAR_TAGS = ("alpha", "beta")
TAGS_AT_LAUNCH = ("alpha", "to_remove", "to_replace")
TAGS_AFTER_EDITS = ("added", "alpha", "replaced")
PROJECT_NAME = "flowscope_demo"
PROJECT_BRANCH = "feature_x"
HEAL_ENV = "FLOWSCOPE_FIXTURE_HEAL"
INCLUDED_TEXT = "héllo wörld\nsecond line ✓\n"
INCLUDED_BINARY = bytes(range(256)) * 4

# Runs in a fresh interpreter so that the mutation uses the fixture's sysroot whatever the
# calling process has already imported and configured.
_TAG_MUTATION_SCRIPT = """
import sys
from metaflow import Run, namespace

namespace(None)
run = Run(sys.argv[1])
run.add_tag("added")
run.remove_tag("to_remove")
run.replace_tag("to_replace", "replaced")
"""


class FixtureRunError(RuntimeError):
    """A fixture command exited with an unexpected code."""


@dataclass(frozen=True)
class Launch:
    """One `metaflow` command: `python <flow> --no-pylint <top_args> <command> ...`."""

    fixture: str
    flow_file: str
    command: str = "run"
    args: tuple[str, ...] = ()
    top_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    should_fail: bool = False


@dataclass
class _Context:
    sysroot: Path
    scratch: Path
    env: dict[str, str]


def fixture_sysroot(scratch: Path) -> Path:
    """The sysroot a session should use: the cache directory when FLOWSCOPE_FIXTURE_CACHE is
    set (so its runs can be reused), else `scratch`."""
    cache = os.environ.get(CACHE_ENV)
    return Path(cache).resolve() if cache else scratch


def run_fixture_flows(sysroot: Path) -> dict[str, str]:
    """Run every fixture flow into `sysroot` and return fixture name -> `Flow/run_id`.

    When `sysroot` already holds a manifest for the current sources (a cache directory,
    or a second call in one session), its runs are returned without running anything.
    Otherwise any previous `.metaflow` there is removed first, so the sysroot holds exactly
    these runs.
    """
    sysroot = sysroot.resolve()
    sysroot.mkdir(parents=True, exist_ok=True)
    sources_hash = _sources_hash()
    manifest_path = sysroot / MANIFEST_NAME
    cached = _read_manifest(manifest_path, sources_hash)
    if cached is not None:
        return cached

    # The manifest goes first and comes back last: a half-built sysroot is never reused.
    manifest_path.unlink(missing_ok=True)
    shutil.rmtree(sysroot / ".metaflow", ignore_errors=True)
    # Made up front so that the card writers' upward search (see _check_call) finds it.
    (sysroot / ".metaflow").mkdir()

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flowscope-fixtures-") as scratch_dir:
        scratch = Path(scratch_dir)
        context = _Context(sysroot=sysroot, scratch=scratch, env=_base_env(sysroot, scratch))
        runs: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=PARALLEL_FLOWS) as pool:
            for result in pool.map(lambda chain: chain(context), _chains()):
                runs.update(result)
    wall_seconds = round(time.monotonic() - started, 1)

    runs = dict(sorted(runs.items()))
    manifest = {
        "version": MANIFEST_VERSION,
        "sources_hash": sources_hash,
        "wall_seconds": wall_seconds,
        "runs": runs,
    }
    temporary = manifest_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    temporary.replace(manifest_path)
    return runs


def _chains() -> list[Callable[[_Context], dict[str, str]]]:
    """Independent groups of commands, longest first so that the two workers finish at
    about the same time. Commands inside a group run in order."""

    def single(launch: Launch) -> Callable[[_Context], dict[str, str]]:
        return lambda context: {launch.fixture: _launch(context, launch)}

    return [
        single(Launch("nested_foreach", "nested_foreach_flow.py")),
        single(Launch("foreach", "foreach_flow.py")),
        single(Launch("card", "card_flow.py")),
        _failing_then_resumed,
        single(Launch("branch", "branch_flow.py")),
        _tags_then_edits,
        single(Launch("linear", "linear_flow.py", args=_linear_args())),
        single(Launch("recursive_switch", "recursive_switch_flow.py")),
        single(Launch("retry", "retry_flow.py")),
        single(Launch("switch", "switch_flow.py")),
        single(Launch("catch", "catch_flow.py")),
        single(Launch("project", "project_flow.py")),
        _include,
        single(Launch("project_branch", "project_flow.py", top_args=("--branch", PROJECT_BRANCH))),
        single(Launch("timeout", "timeout_flow.py")),
        single(Launch("config", "config_flow.py")),
        single(Launch("refreshing_card", "refreshing_card_flow.py")),
        _parallel_then_scheduled,
    ]


def _linear_args() -> tuple[str, ...]:
    args: list[str] = []
    for name, value in LINEAR_PARAMS.items():
        args += [f"--{name}", value]
    for tag in LINEAR_TAGS:
        args += ["--tag", tag]
    return tuple(args)


def _tags_then_edits(context: _Context) -> dict[str, str]:
    # A run of its own: in local metadata a tag edit rewrites the run's `_self.json`,
    # `ts_epoch` included, so the client's `Run.created_at` becomes the edit time.
    args = tuple(arg for tag in TAGS_AT_LAUNCH for arg in ("--tag", tag))
    pathspec = _launch(context, Launch("tags", "tags_flow.py", args=args))
    _check_call(
        context,
        [sys.executable, "-c", _TAG_MUTATION_SCRIPT, pathspec],
        log_name="tags-edit",
        should_fail=False,
    )
    return {"tags": pathspec}


def _include(context: _Context) -> dict[str, str]:
    notes, blob = context.scratch / "notes.txt", context.scratch / "blob.bin"
    notes.write_text(INCLUDED_TEXT, encoding="utf-8")
    blob.write_bytes(INCLUDED_BINARY)
    args = ("--notes", str(notes), "--blob", str(blob))
    return {"include": _launch(context, Launch("include", "include_flow.py", args=args))}


def _failing_then_resumed(context: _Context) -> dict[str, str]:
    failing = _launch(context, Launch("failing", "failing_flow.py", should_fail=True))
    origin_run_id = failing.split("/")[1]
    resumed = _launch(
        context,
        Launch(
            "resumed",
            "failing_flow.py",
            command="resume",
            args=("--origin-run-id", origin_run_id),
            env={HEAL_ENV: "1"},
        ),
    )
    return {"failing": failing, "resumed": resumed}


# What the Argo Workflows and Step Functions compilers put in every task's environment
# (metaflow/plugins/argo/argo_workflows.py, aws/step_functions/step_functions.py): the
# runtime name and the production token become the run's system tags `runtime:…` and
# `production:…`, the code package becomes `code-package` metadata, all written by
# Metaflow itself on this local run.
SCHEDULED_ENV = {
    "argo": {
        "METAFLOW_RUNTIME_NAME": "argo-workflows",
        "METAFLOW_PRODUCTION_TOKEN": "scheduledflow-0-abcd",
        "METAFLOW_CODE_SHA": "c0de5a1e",
        "METAFLOW_CODE_URL": "s3://bucket/ScheduledFlow/data/c0/c0de5a1e",
        "METAFLOW_CODE_DS": "s3",
    },
    "sfn": {
        "METAFLOW_RUNTIME_NAME": "step-functions",
        "METAFLOW_PRODUCTION_TOKEN": "scheduledflow-1-efgh",
    },
}

# What only the remote decorators write, registered afterwards through Metaflow's own
# local metadata provider (the same `register_metadata` call they make), on every task:
# - argo: ArgoWorkflowsInternalDecorator.task_pre_step (argo-workflow-*, and on the start
#   step `execution-triggers`, here the event @trigger_on_finish gets from the `parallel`
#   run), and KubernetesDecorator.task_pre_step (kubernetes-pod-*).
# - sfn: StepFunctionsInternalDecorator.task_pre_step (aws-step-functions-*),
#   BatchDecorator.task_pre_step (aws-batch-*), and on `end` the spot monitor's
#   `spot-termination-*` (kubernetes/spot_metadata_cli.py, used by Batch too).
_SCHEDULER_METADATA_SCRIPT = """
import json, sys
from metaflow import Run, namespace
from metaflow.metadata_provider import MetaDatum
from metaflow.metaflow_environment import MetaflowEnvironment
from metaflow.plugins.metadata_providers.local import LocalMetadataProvider

kind, pathspec, trigger_task = sys.argv[1], sys.argv[2], sys.argv[3]
namespace(None)
run = Run(pathspec)
flow_name, run_id = pathspec.split("/")

class _Flow:
    name = flow_name

provider = LocalMetadataProvider(MetaflowEnvironment(_Flow()), _Flow(), None, None)
for step in run:
    for task in step:
        meta = {}
        if kind == "argo":
            meta = {
                "argo-workflow-template": "scheduledflow",
                "argo-workflow-name": "scheduledflow-x7k2p",
                "argo-workflow-namespace": "mf-prod",
                "auto-emit-argo-events": "True",
                "argo-workflow-template-owner": "tester",
                "kubernetes-pod-name": f"scheduledflow-x7k2p-{step.id}-{task.id}",
                "kubernetes-pod-namespace": "mf-prod",
                "kubernetes-pod-id": f"0f1e2d3c-{task.id}",
                "kubernetes-pod-service-account-name": "metaflow",
                "kubernetes-node-ip": "10.0.3.17",
            }
            if step.id == "start":
                meta["execution-triggers"] = json.dumps([{
                    "timestamp": 1796128800,
                    "id": trigger_task,
                    "name": "metaflow." + trigger_task.split("/")[0] + ".end",
                    "type": "run",
                }])
        else:
            meta = {
                "aws-step-functions-execution": "arn:aws:states:us-east-1:1:execution:sf:e1",
                "aws-step-functions-state-machine": "ScheduledFlow",
                "aws-batch-job-id": f"5b0f7c1e-{task.id}",
                "aws-batch-job-attempt": "1",
                "aws-batch-ce-name": "spot-ce",
                "aws-batch-jq-name": "mf-queue",
                "aws-batch-execution-env": "AWS_ECS_EC2",
                "aws-batch-awslogs-group": "/aws/batch/job",
                "aws-batch-awslogs-region": "us-east-1",
                "aws-batch-awslogs-stream": f"metaflow/default/{task.id}",
            }
            if step.id == "end":
                meta["spot-termination-received-at"] = "2026-12-01T10:00:00Z"
                meta["spot-termination-time"] = "2026-12-01T10:02:00Z"
        provider.register_metadata(run_id, step.id, task.id, [
            MetaDatum(field=k, value=v, type=k, tags=["attempt_id:0"]) for k, v in meta.items()
        ])
"""


def _parallel_then_scheduled(context: _Context) -> dict[str, str]:
    parallel = _launch(context, Launch("parallel", "parallel_flow.py"))
    from_client = [sys.executable, "-c", _SCHEDULER_METADATA_SCRIPT]
    runs = {"parallel": parallel}
    end_task = _end_task_of(context, parallel)
    for kind, env in SCHEDULED_ENV.items():
        pathspec = _launch(context, Launch(kind, "scheduled_flow.py", env=env))
        _check_call(
            context,
            [*from_client, kind, pathspec, end_task],
            log_name=f"{kind}-metadata",
            should_fail=False,
        )
        runs[kind] = pathspec
    return runs


def _end_task_of(context: _Context, pathspec: str) -> str:
    flow, run_id = pathspec.split("/")
    end = context.sysroot / ".metaflow" / flow / run_id / "end"
    tasks = [p.name for p in end.iterdir() if p.name != "_meta"]
    return f"{pathspec}/end/{tasks[0]}"


def _launch(context: _Context, launch: Launch) -> str:
    """Run one metaflow command and return the pathspec of the run it made."""
    flow_path = FLOWS_DIR / launch.flow_file
    run_id_file = context.scratch / f"{launch.fixture}.run-id"
    command = [
        sys.executable,
        str(flow_path),
        "--no-pylint",
        *launch.top_args,
        launch.command,
        "--max-workers",
        str(MAX_WORKERS),
        "--run-id-file",
        str(run_id_file),
        *launch.args,
    ]
    _check_call(
        context,
        command,
        log_name=launch.fixture,
        should_fail=launch.should_fail,
        extra_env=launch.env,
    )
    run_id = run_id_file.read_text(encoding="utf-8").strip()
    return f"{_flow_class_name(flow_path)}/{run_id}"


def _check_call(
    context: _Context,
    command: Sequence[str],
    *,
    log_name: str,
    should_fail: bool,
    extra_env: dict[str, str] | None = None,
) -> None:
    log_path = context.scratch / f"{log_name}.log"
    env = {**context.env, **(extra_env or {})}
    with log_path.open("wb") as log:
        completed = subprocess.run(
            command,
            # Cards ignore the sysroot setting: they go to the `.metaflow` found from the
            # working directory upwards, and the client looks for them under the task's
            # ds-root. Running in the sysroot makes the two agree. (METAFLOW_CARD_LOCALROOT
            # does not help: in 2.19.39 setting it makes cards land without `mf.cards`.)
            cwd=context.sysroot,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    failed = completed.returncode != 0
    if failed != should_fail:
        expectation = "fail" if should_fail else "succeed"
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise FixtureRunError(
            f"fixture {log_name!r} should {expectation} but exited with "
            f"{completed.returncode}: {' '.join(command)}\n--- output (tail) ---\n{tail}"
        )


def _base_env(sysroot: Path, scratch: Path) -> dict[str, str]:
    # Drop the developer's own Metaflow settings (a service URL, an S3 datastore, a
    # profile) so that the runs only ever touch `sysroot`.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("METAFLOW_") and key not in {"SUDO_USER", HEAL_ENV}
    }
    home = scratch / "metaflow-home"
    home.mkdir()
    env.update(
        {
            # get_username() prefers SUDO_USER, then USERNAME, then USER.
            "USERNAME": USERNAME,
            "METAFLOW_HOME": str(home),
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            # Keep the repository free of __pycache__ next to the flow files.
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            # @parallel starts its gang with the `python` on PATH: this interpreter's.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def _flow_class_name(flow_path: Path) -> str:
    # The run id file holds only the id; the flow name is the FlowSpec subclass's name,
    # which each fixture file defines exactly once.
    for line in flow_path.read_text(encoding="utf-8").splitlines():
        if line.startswith("class ") and "(FlowSpec)" in line:
            return line.removeprefix("class ").split("(", 1)[0].strip()
    raise FixtureRunError(f"no FlowSpec subclass in {flow_path}")


def _sources_hash() -> str:
    from importlib.metadata import version

    digest = hashlib.sha256()
    digest.update(f"metaflow {version('metaflow')}\n".encode())
    digest.update(f"python {sys.version_info[:2]}\n".encode())
    for path in [Path(__file__).resolve(), *sorted(FLOWS_DIR.glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_manifest(path: Path, sources_hash: str) -> dict[str, str] | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        manifest.get("version") != MANIFEST_VERSION
        or manifest.get("sources_hash") != sources_hash
        or not (path.parent / ".metaflow").is_dir()
    ):
        return None
    return dict(manifest["runs"])
