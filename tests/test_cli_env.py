"""Every option of `flowscope serve` (and of `index` and `db upgrade`) also comes from an
environment variable, named in `--help` (issue 8 §4); the command line wins."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.metadata_service import free_port
from tests.serve_process import ServeProcess

from flowscope.api.auth import tokens_from
from flowscope.api.metadata import api_keys_from
from flowscope.cli import build_parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _commands(sub).items()})
    return found


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction | argparse._VersionAction)
    ]


@pytest.mark.parametrize("command", ["serve", "index", "db upgrade"])
def test_every_option_has_an_environment_variable_shown_in_help(command: str) -> None:
    sub = _commands(build_parser({}))[command]
    help_text = " ".join(sub.format_help().split())  # argparse wraps lines
    options = _options(sub)
    assert options
    for action in options:
        var = getattr(action, "env_var", None)
        assert var and var.startswith("FLOWSCOPE_"), action.option_strings
        assert var in help_text, (command, var)


def test_the_serve_options_and_their_variables() -> None:
    serve = _commands(build_parser({}))["serve"]
    names = {a.option_strings[-1]: getattr(a, "env_var", None) for a in _options(serve)}
    assert names == {
        "--root": "FLOWSCOPE_ROOT",
        "--db": "FLOWSCOPE_DB",
        "--index": "FLOWSCOPE_INDEX",
        "--host": "FLOWSCOPE_HOST",
        "--port": "FLOWSCOPE_PORT",
        "--base-path": "FLOWSCOPE_BASE_PATH",
        "--poll": "FLOWSCOPE_POLL",
        "--metadata-service": "FLOWSCOPE_METADATA_SERVICE",
        "--metadata-api-key": "FLOWSCOPE_METADATA_API_KEYS",
        "--auth-token": "FLOWSCOPE_AUTH_TOKEN",
        "--trust-identity-header": "FLOWSCOPE_TRUST_IDENTITY_HEADER",
    }


def test_each_variable_sets_its_option_and_the_command_line_wins() -> None:
    environ = {
        "FLOWSCOPE_ROOT": "/data/mf",
        "FLOWSCOPE_DB": "postgresql://flowscope@db/metaflow",
        "FLOWSCOPE_INDEX": "sqlite:////var/cache/index.sqlite",
        "FLOWSCOPE_HOST": "0.0.0.0",
        "FLOWSCOPE_PORT": "9090",
        "FLOWSCOPE_BASE_PATH": "/flowscope",
        "FLOWSCOPE_POLL": "true",
        "FLOWSCOPE_METADATA_SERVICE": "1",
        "FLOWSCOPE_TRUST_IDENTITY_HEADER": "X-Forwarded-User",
        "FLOWSCOPE_VERBOSE": "yes",
    }
    args = build_parser(environ).parse_args(["serve"])
    assert (args.root, args.db, args.index) == (
        "/data/mf",
        environ["FLOWSCOPE_DB"],
        environ["FLOWSCOPE_INDEX"],
    )
    assert (args.host, args.port, args.base_path) == ("0.0.0.0", 9090, "/flowscope")
    assert args.poll and args.metadata_service and args.verbose
    assert args.trust_identity_header == "X-Forwarded-User"
    given = build_parser(environ).parse_args(["serve", "--port", "8100", "--host", "127.0.0.1"])
    assert (given.host, given.port) == ("127.0.0.1", 8100)
    defaults = build_parser({}).parse_args(["serve"])
    assert (defaults.host, defaults.port, defaults.poll, defaults.db) == (
        "127.0.0.1",
        8083,
        False,
        None,
    )
    off = build_parser({"FLOWSCOPE_POLL": "0"}).parse_args(["serve"])
    assert off.poll is False
    index = build_parser(environ).parse_args(["index"])
    assert (index.root, index.db) == ("/data/mf", environ["FLOWSCOPE_DB"])
    upgrade = build_parser(environ).parse_args(["db", "upgrade"])
    assert upgrade.db == environ["FLOWSCOPE_DB"]


def test_lists_come_comma_separated_and_add_to_the_command_line() -> None:
    assert tokens_from(["one"], " two, ,three ") == ("one", "two", "three")
    assert tokens_from(None, None) == ()
    env = {"FLOWSCOPE_METADATA_API_KEYS": "k2,k3"}
    assert api_keys_from(["k1"], env) == ("k1", "k2", "k3")


def test_bad_values_are_refused_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser({"FLOWSCOPE_POLL": "maybe"})
    with pytest.raises(SystemExit):
        build_parser({"FLOWSCOPE_PORT": "eighty"}).parse_args(["serve"])
    assert "invalid int value: 'eighty'" in capsys.readouterr().err


def test_serve_configured_by_environment_alone(tmp_path: Path) -> None:
    """A real `flowscope` with no arguments at all, as a container would start it."""
    port = free_port()
    (tmp_path / "sysroot" / ".metaflow").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSCOPE_")}
    env.update(
        {
            "FLOWSCOPE_HOST": "127.0.0.1",
            "FLOWSCOPE_PORT": str(port),
            "FLOWSCOPE_ROOT": str(tmp_path / "sysroot"),
            "FLOWSCOPE_DB": f"sqlite:///{tmp_path / 'env-index.sqlite'}",
            "FLOWSCOPE_BASE_PATH": "/fs",
            "FLOWSCOPE_AUTH_TOKEN": "env-token-123456",
        }
    )
    output = tmp_path / "serve.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowscope.cli"], stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    served = ServeProcess(process, f"http://127.0.0.1:{port}/fs", output)
    try:
        served.wait_ready()
        health = httpx.get(
            f"{served.url}/api/v1/health",
            headers={"Authorization": "Bearer env-token-123456"},
            timeout=30,
        ).json()
        assert health["root"] == str(tmp_path / "sysroot" / ".metaflow")
        assert httpx.get(f"{served.url}/api/v1/health", timeout=30).status_code == 401
        assert (tmp_path / "env-index.sqlite").is_file()
    finally:
        assert served.stop() == 0
