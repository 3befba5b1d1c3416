"""Each fixture run has the property it exists for, as the Metaflow client sees it.

If one of these fails, the fixtures (or Metaflow) changed, and every flowscope test that
compares against the oracle is suspect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import fixtures_runs, oracle


@pytest.fixture(autouse=True)
def _client_reads_fixture_root(fixture_root: Path) -> None:
    # `fixture_root` and `fixture_runs` (conftest) build the runs once per session.
    oracle.configure(fixture_root)


def _task(run: str, step: str) -> str:
    """Pathspec of the only task of a step."""
    (task,) = [t for t in oracle.oracle_tasks(run) if t["step_name"] == step]
    return f"{run}/{step}/{task['task_id']}"


def test_every_fixture_has_a_run(fixture_runs: dict[str, str]) -> None:
    assert set(fixture_runs) == set(fixtures_runs.FIXTURES)
    # Every fixture is a run of its own, even where two share a flow.
    assert len(set(fixture_runs.values())) == len(fixture_runs)


def test_only_the_failing_run_fails(fixture_runs: dict[str, str]) -> None:
    statuses = {name: oracle.oracle_run(run)["status"] for name, run in fixture_runs.items()}
    assert statuses == {name: "failed" if name == "failing" else "completed" for name in statuses}


def test_runs_belong_to_the_fixture_user(fixture_runs: dict[str, str]) -> None:
    for name, run in fixture_runs.items():
        # A scheduler's run has a production token instead of a user (no `user:` tag).
        expected = None if name in fixtures_runs.SCHEDULED_ENV else fixtures_runs.USERNAME
        assert oracle.oracle_run(run)["user"] == expected, name


def test_linear_parameters_are_reprs_of_their_typed_values(fixture_runs: dict[str, str]) -> None:
    run = oracle.oracle_run(fixture_runs["linear"])
    assert run["parameters"] == {
        "count": "7",
        "ratio": "0.5",
        "label": "'héllo wörld'",
        "verbose": "True",
        "settings": "{'depth': 2, 'names': ['a', 'b']}",
    }
    assert oracle.oracle_steps(fixture_runs["linear"]) == ["start", "middle", "end"]


def test_linear_has_its_launch_tags(fixture_runs: dict[str, str]) -> None:
    run = oracle.oracle_run(fixture_runs["linear"])
    assert run["tags"] == sorted(fixtures_runs.LINEAR_TAGS)
    assert "user:tester" in run["system_tags"]
    assert not set(run["tags"]) & set(run["system_tags"])


def test_tags_show_the_client_edits(fixture_runs: dict[str, str]) -> None:
    run = oracle.oracle_run(fixture_runs["tags"])
    assert run["tags"] == sorted(fixtures_runs.TAGS_AFTER_EDITS)
    assert not set(run["tags"]) & set(run["system_tags"])


def test_local_tag_edit_moves_the_run_creation_time(fixture_runs: dict[str, str]) -> None:
    # A Metaflow quirk flowscope must live with: the local metadata provider rewrites the
    # run's _self.json on a tag edit, ts_epoch included, so the client's Run.created_at
    # is the time of the edit, after the run ended. If this starts failing, Metaflow
    # fixed it and the "tags" fixture no longer needs to be a run of its own.
    run = oracle.oracle_run(fixture_runs["tags"])
    assert run["finished_at"] < run["started_at"]


def test_linear_logs_keep_unicode_and_ansi_on_both_streams(fixture_runs: dict[str, str]) -> None:
    start = _task(fixture_runs["linear"], "start")
    unicode_line = "héllo wörld — ünïcode ✓ 日本語 🚀"
    ansi_line = "\x1b[31mred\x1b[0m \x1b[1;32mbold green\x1b[0m plain"
    assert oracle.oracle_log(start, 0, "stdout") == f"{unicode_line}\n{ansi_line}\n\ntab\there\n"
    assert oracle.oracle_log(start, 0, "stderr") == f"{unicode_line}\n{ansi_line}\n"


def test_linear_middle_logs_300_lines(fixture_runs: dict[str, str]) -> None:
    middle = _task(fixture_runs["linear"], "middle")
    lines = oracle.oracle_log(middle, 0, "stdout").splitlines()
    assert len(lines) == 300
    assert lines[0] == "line 001 of 300"
    assert lines[-1] == "line 300 of 300"
    assert oracle.oracle_log(middle, 0, "stderr") == ""


def test_branch_runs_both_sides_of_the_static_split(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["branch"]
    assert oracle.oracle_steps(run) == ["start", "left", "right", "join", "end"]
    dag = oracle.oracle_dag(run)
    assert dag["steps"]["start"]["type"] == "split-static"
    assert dag["steps"]["start"]["matching_join"] == "join"
    assert dag["steps"]["join"]["type"] == "join"


def test_foreach_tasks_are_labelled_by_item(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["foreach"]
    labels = sorted(
        t["foreach_label"] for t in oracle.oracle_tasks(run) if t["step_name"] == "square"
    )
    assert labels == ["items[0]=1.0", "items[1]=0.5", "items[2]=0.25", "items[3]=0.125"]
    others = [t for t in oracle.oracle_tasks(run) if t["step_name"] != "square"]
    assert all(t["foreach_label"] is None for t in others)
    assert oracle.oracle_dag(run)["steps"]["start"]["foreach_artifact"] == "items"


def test_nested_foreach_labels_name_the_full_path(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["nested_foreach"]
    tasks = oracle.oracle_tasks(run)
    # Task ids follow scheduling order, which parallel workers make vary: sort.
    inner = sorted(t["foreach_label"] for t in tasks if t["step_name"] == "inner")
    assert inner == [
        "letters[0]=a › numbers[0]=1",
        "letters[0]=a › numbers[1]=2",
        "letters[1]=b › numbers[0]=1",
        "letters[1]=b › numbers[1]=2",
    ]
    # The inner joins are still inside the outer foreach.
    inner_join = sorted(t["foreach_label"] for t in tasks if t["step_name"] == "inner_join")
    assert inner_join == ["letters[0]=a", "letters[1]=b"]
    counts = oracle.oracle_step_task_counts(run)
    assert {step: c["completed"] for step, c in counts.items()} == {
        "start": 1,
        "outer": 2,
        "inner": 4,
        "inner_join": 2,
        "outer_join": 1,
        "end": 1,
    }


def test_switch_takes_one_path_and_skips_the_other(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["switch"]
    dag = oracle.oracle_dag(run)
    assert dag["steps"]["start"]["type"] == "split-switch"
    assert dag["steps"]["start"]["next"] == ["big", "small"]
    assert oracle.oracle_steps(run) == ["start", "big", "end"]


def test_recursive_switch_repeats_its_step(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["recursive_switch"]
    dag = oracle.oracle_dag(run)
    assert dag["steps"]["count_up"]["type"] == "split-switch"
    assert "count_up" in dag["steps"]["count_up"]["next"]
    steps = [t["step_name"] for t in oracle.oracle_tasks(run)]
    assert steps == ["start", "count_up", "count_up", "count_up", "end"]
    assert oracle.oracle_steps(run) == ["start", "count_up", "end"]


def test_retry_task_fails_once_then_succeeds(fixture_runs: dict[str, str]) -> None:
    task = oracle.oracle_task(_task(fixture_runs["retry"], "flaky"))
    assert task["status"] == "completed"
    assert task["attempt"] == 1
    assert [(a["attempt"], a["status"]) for a in task["attempts"]] == [
        (0, "failed"),
        (1, "completed"),
    ]
    assert task["attempts"][0]["status_reason"] == "error"
    first, second = task["attempts"]
    assert first["finished_at"] <= second["started_at"]
    flaky = _task(fixture_runs["retry"], "flaky")
    assert oracle.oracle_log(flaky, 0, "stdout") == "attempt 0\n"
    assert oracle.oracle_log(flaky, 1, "stdout") == "attempt 1\n"
    assert oracle.oracle_artifact_names(flaky, 1) == ["name", "recovered_on"]


def test_caught_task_is_not_successful_but_the_run_is(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["catch"]
    task = oracle.oracle_task(_task(run, "risky"))
    assert task["status"] == "completed"
    assert task["caught"] is True
    assert task["exception"] is None
    assert oracle.oracle_run(run)["status"] == "completed"
    assert "failure" in oracle.oracle_artifact_names(_task(run, "risky"), 0)


def test_failing_run_stops_at_the_raising_step(fixture_runs: dict[str, str]) -> None:
    run_id = fixture_runs["failing"]
    run = oracle.oracle_run(run_id)
    assert run["status"] == "failed"
    assert run["status_reason"] == "error"
    assert run["finished_at"] is None
    middle = _task(run_id, "middle")
    assert run["first_failure"] == {"step_name": "middle", "task_id": middle.split("/")[-1]}
    assert oracle.oracle_steps(run_id) == ["start", "middle"]
    task = oracle.oracle_task(middle)
    assert task["status"] == "failed"
    assert task["exception"]["type"] == "builtins.RuntimeError"
    assert task["exception"]["message"] == "middle step failed on purpose"
    assert task["finished_at"] is not None


def test_resumed_run_points_to_its_origin_and_succeeds(fixture_runs: dict[str, str]) -> None:
    resumed = oracle.oracle_run(fixture_runs["resumed"])
    assert resumed["status"] == "completed"
    assert resumed["origin_run_id"] == fixture_runs["failing"].split("/")[1]
    assert oracle.oracle_run(fixture_runs["failing"])["origin_run_id"] is None
    assert oracle.oracle_steps(fixture_runs["resumed"]) == ["start", "middle", "end"]


def test_card_tasks_have_their_cards(fixture_runs: dict[str, str]) -> None:
    run = fixture_runs["card"]
    start_cards = oracle.oracle_cards(_task(run, "start"))
    assert [(c["type"], c["id"]) for c in start_cards] == [("default", None)]
    assert "<html" in start_cards[0]["html"]
    end_cards = oracle.oracle_cards(_task(run, "end"))
    assert [(c["type"], c["id"]) for c in end_cards] == [("blank", "summary")]
    assert oracle.oracle_cards(_task(fixture_runs["linear"], "start")) == []


def test_project_runs_carry_project_and_branch(fixture_runs: dict[str, str]) -> None:
    user_branch = oracle.oracle_run(fixture_runs["project"])
    named_branch = oracle.oracle_run(fixture_runs["project_branch"])
    assert (user_branch["project"], user_branch["branch"]) == (
        fixtures_runs.PROJECT_NAME,
        f"user.{fixtures_runs.USERNAME}",
    )
    assert (named_branch["project"], named_branch["branch"]) == (
        fixtures_runs.PROJECT_NAME,
        f"test.{fixtures_runs.PROJECT_BRANCH}",
    )
    assert oracle.oracle_run(fixture_runs["linear"])["project"] is None


def test_times_are_ordered(fixture_runs: dict[str, str]) -> None:
    for name, run_id in fixture_runs.items():
        run = oracle.oracle_run(run_id)
        for task in oracle.oracle_tasks(run_id):
            assert task["started_at"] <= task["finished_at"]
            if name != "tags":
                assert run["started_at"] <= task["started_at"]
            if run["finished_at"] is not None:
                assert task["finished_at"] <= run["finished_at"]


def test_a_built_sysroot_is_reused_not_rebuilt(
    fixture_root: Path, fixture_runs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (fixture_root / fixtures_runs.MANIFEST_NAME).is_file()

    def must_not_run(*args: object, **kwargs: object) -> str:
        raise AssertionError("a sysroot with a matching manifest was rebuilt")

    monkeypatch.setattr(fixtures_runs, "_launch", must_not_run)
    assert fixtures_runs.run_fixture_flows(fixture_root) == fixture_runs


def test_the_cache_variable_names_the_sysroot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(fixtures_runs.CACHE_ENV, raising=False)
    assert fixtures_runs.fixture_sysroot(tmp_path) == tmp_path
    monkeypatch.setenv(fixtures_runs.CACHE_ENV, str(tmp_path / "cache"))
    assert fixtures_runs.fixture_sysroot(tmp_path) == (tmp_path / "cache").resolve()
