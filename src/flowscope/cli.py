"""The `flowscope` command: serve, index, demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_cache_dir

from flowscope import __version__

if TYPE_CHECKING:
    from flowscope.store import Store

DEFAULT_PORT = 8083
ENV_PREFIX = "FLOWSCOPE_"
AUTH_TOKEN_ENV = "FLOWSCOPE_AUTH_TOKEN"


def default_db_url() -> str:
    # Outside the user's project tree: the index is a cache, never something to commit.
    return f"sqlite:///{Path(user_cache_dir('flowscope')) / 'index.sqlite'}"


def build_parser(environ: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    """The command line; every option of `serve`, `index` and `db upgrade` also comes from
    an environment variable (FLOWSCOPE_<OPTION>), named in `--help`, for containers and
    service managers. The command line wins over the environment."""
    env = _EnvDefaults(environ)
    parser = argparse.ArgumentParser(prog="flowscope", description="A monitoring GUI for Metaflow.")
    parser.add_argument("--version", action="version", version=f"flowscope {__version__}")
    env.flag(parser, "-v", "--verbose", help="log what the indexer does")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="index the datastore, keep it current, serve the UI")
    _source_options(serve, env)
    env.value(serve, "--host", default="127.0.0.1", help="address to listen on")
    env.value(serve, "--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    env.value(serve, "--base-path", default="/", help="serve under a path prefix, e.g. /flowscope")
    env.flag(serve, "--poll", help="poll the file system (network mounts)")
    env.flag(
        serve,
        "--metadata-service",
        help="also be the metadata service: serve metaflow-service's REST API under /metadata, "
        "writing the v3 tables of --db (made by `flowscope db upgrade`)",
    )
    metadata_options(serve, env)
    auth_options(serve, env)

    index = commands.add_parser("index", help="index the datastore once and exit")
    _source_options(index, env)
    env.flag(
        index,
        "--rebuild",
        help="throw the index away and build it again from the datastore (a damaged index, "
        "or one from a newer flowscope)",
    )

    demo = commands.add_parser("demo", help="run bundled example flows and serve them")
    demo.add_argument("--dir", type=Path, default=None, help="scratch folder for the demo runs")
    demo.add_argument(
        "--db", default=None, help="database URL (default: inside the scratch folder)"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT)

    db = commands.add_parser("db", help="set up a database for a team server")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        help="create metaflow-service's v3 tables on an empty database (PostgreSQL or SQLite); "
        "leaves existing ones unchanged",
    )
    env.value(upgrade, "--db", help="database URL")
    return parser


class _EnvDefaults:
    """Adds options whose default comes from FLOWSCOPE_<OPTION>; records the variable on
    the option (`env_var`) and names it in the help."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    @staticmethod
    def name_of(flag: str) -> str:
        return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()

    def value(self, sub: argparse.ArgumentParser, flag: str, help: str, **kwargs: Any) -> None:
        var = self.name_of(flag)
        # argparse converts a string default with `type`, so FLOWSCOPE_PORT=x is an error.
        builtin = kwargs.pop("default", None)
        # Only the built-in default is shown: the environment's value may hold a password
        # (a database URL).
        shown = f" (default {builtin})" if builtin is not None else ""
        default = self.environ.get(var) or builtin
        action = sub.add_argument(flag, default=default, help=f"{help}{shown}; env {var}", **kwargs)
        action.env_var = var  # type: ignore[attr-defined]

    def flag(self, sub: argparse.ArgumentParser, *flags: str, help: str) -> None:
        var = self.name_of(flags[-1])
        raw = self.environ.get(var, "").strip().lower()
        if raw and raw not in _TRUE + _FALSE:
            raise SystemExit(f"flowscope: {var}={raw!r} is not one of {', '.join(_TRUE + _FALSE)}")
        action = sub.add_argument(
            *flags, action="store_true", default=raw in _TRUE, help=f"{help}; env {var}=1"
        )
        action.env_var = var  # type: ignore[attr-defined]

    def repeated(
        self, sub: argparse.ArgumentParser, flag: str, var: str, help: str, metavar: str
    ) -> None:
        """A repeatable option whose environment variable holds a comma-separated list (read
        where the option is used, so that secrets never become argparse defaults shown in
        --help)."""
        action = sub.add_argument(
            flag,
            action="append",
            default=None,
            metavar=metavar,
            help=f"{help}; env {var} (comma-separated)",
        )
        action.env_var = var  # type: ignore[attr-defined]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or sys.argv[1:])])
    if args.command == "index":
        return _index(args)
    if args.command == "db":
        return _db_upgrade(args)
    if args.command == "demo":
        from flowscope.demo.runner import run_demo

        return run_demo(args.dir, args.db, args.host, args.port)
    return _serve(args)


def _source_options(sub: argparse.ArgumentParser, env: _EnvDefaults) -> None:
    env.value(sub, "--root", help="the Metaflow sysroot or its .metaflow folder")
    env.value(
        sub,
        "--db",
        help="index database URL (default: user cache), or a metaflow-service database "
        "(one holding its v3 tables) to follow",
    )
    env.value(
        sub,
        "--index",
        help="with a metaflow-service --db: where to keep flowscope's index (default: a "
        "`flowscope` schema in that database, or the user cache if the role may only read)",
    )


def _index(args: argparse.Namespace) -> int:
    from flowscope.ingest.locate import find_datastore
    from flowscope.service_mode import is_service_database
    from flowscope.store import IndexUnusable, Store
    from flowscope.store.database import discard_index

    if args.db and is_service_database(args.db):
        return _sync_service(args.db, args.index)
    root = find_datastore(args.root)
    if root is None or not root.is_dir():
        print(
            f"flowscope: no Metaflow datastore found{f' at {root}' if root else ''}.",
            file=sys.stderr,
        )
        print("Run a flow first (python myflow.py run) or pass --root.", file=sys.stderr)
        return 2
    url = args.db or default_db_url()
    try:
        if args.rebuild:
            discard_index(url)
        store = Store(url)
        return _index_into(store, root)
    except (IndexUnusable, OSError) as exc:
        # A full disk, a read-only location, a damaged file: say which and what to do,
        # not a traceback (issue 12). The run being written was rolled back.
        print(f"flowscope: {exc}", file=sys.stderr)
        return 3


def _index_into(store: Store, root: Path) -> int:
    from flowscope.ingest.local_indexer import LocalIndexer

    indexer = LocalIndexer(store, root)
    if sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            bar = progress.add_task(f"indexing {root}", total=None)
            stats = indexer.index_once(
                lambda done, total: progress.update(bar, completed=done, total=total)
            )
    else:
        stats = indexer.index_once()
    print(
        f"indexed {root}: {stats.runs_seen} runs ({stats.runs_read} read, {stats.runs_pruned} pruned, "
        f"{stats.tasks_read} tasks read, {stats.errors} errors) in {stats.seconds:.2f}s"
    )
    if stats.unreadable_runs:
        print(
            f"{stats.unreadable_runs} runs could not be read (their records are damaged; "
            "see the warnings above)",
            file=sys.stderr,
        )
    return 1 if stats.errors else 0


def metadata_options(sub: argparse.ArgumentParser, env: _EnvDefaults) -> None:
    """Options of flowscope's /metadata (for `serve`, to be passed to
    `flowscope.api.metadata.create_metadata_app` via `api_keys_from(args.metadata_api_key)`)."""
    from flowscope.api.metadata.auth import KEYS_ENV

    env.repeated(
        sub,
        "--metadata-api-key",
        KEYS_ENV,
        help="require this x-api-key (METAFLOW_SERVICE_AUTH_KEY on the client) on /metadata; "
        "repeat for several (without any, /metadata takes the --auth-token tokens as keys)",
        metavar="KEY",
    )


def auth_options(sub: argparse.ArgumentParser, env: _EnvDefaults) -> None:
    """Who may use the UI, /api/v1 and /metadata (flowscope.api.auth)."""
    env.repeated(
        sub,
        "--auth-token",
        AUTH_TOKEN_ENV,
        help="require this token: `Authorization: Bearer TOKEN`, or signing in at /login "
        "(it is the team's password); repeat for several. Prefer the environment variable: "
        "the command line is visible to every user of the machine",
        metavar="TOKEN",
    )
    env.value(
        sub,
        "--trust-identity-header",
        metavar="NAME",
        help="behind an authenticating proxy: a request is that header's user (e.g. "
        "X-Forwarded-User), and one without it gets 401. Only when the proxy is the one "
        "way in and strips the header from what clients send",
    )


def _db_upgrade(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from flowscope.service import v3_ddl
    from flowscope.store.database import create_engine

    if not args.db:
        print("flowscope: db upgrade needs --db URL (or FLOWSCOPE_DB)", file=sys.stderr)
        return 2
    engine = create_engine(args.db)
    try:
        result = v3_ddl.upgrade(engine)
        print(f"flowscope: {result.describe()}")
        index = _upgrade_index(args.db)
        print(f"flowscope: {index}")
    except v3_ddl.PartialSchemaError as exc:
        print(f"flowscope: {exc}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as exc:
        # One line: the driver's first line says what went wrong (refused, denied, ...).
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"flowscope: db upgrade failed: {reason}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _upgrade_index(db_url: str) -> str:
    """flowscope's own index beside the v3 tables: a `flowscope` schema (PostgreSQL) or
    tables in the same file (SQLite), at the newest revision."""
    from flowscope.index_location import choose_index
    from flowscope.store import Store

    location = choose_index(db_url)
    if location.note:
        return location.note
    Store(location.url).close()  # migrates
    return "flowscope's index is ready" + (
        " in schema flowscope" if db_url.startswith("postgresql") else ""
    )


def _sync_service(db_url: str, index_url: str | None) -> int:
    """One sync of a metaflow-service database into the index, then exit."""
    from flowscope.service_mode import open_service

    mode = open_service(db_url, index_url)
    if sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            bar = progress.add_task(f"syncing {mode.location}", total=None)
            stats = mode.source.sync(
                lambda done, total: progress.update(bar, completed=done, total=total)
            )
    else:
        stats = mode.source.sync()
    print(
        f"synced {mode.location}: {stats.runs_seen} runs ({stats.runs_written} written, "
        f"{stats.tasks_read} tasks read, {stats.errors} errors) in {stats.seconds:.2f}s"
    )
    mode.store.close()
    mode.v3_engine.dispose()
    return 1 if stats.errors else 0


def _serve(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    from flowscope.api.auth import AuthSettings, tokens_from
    from flowscope.api.metadata import api_keys_from
    from flowscope.malloc_arenas import limit_malloc_arenas
    from flowscope.server import MetadataService, serve

    if "MALLOC_ARENA_MAX" not in environ:  # the user's own setting wins
        limit_malloc_arenas()

    metadata = None
    keys = tuple(api_keys_from(args.metadata_api_key, environ))
    if args.metadata_service:
        metadata = MetadataService(keys)
    auth = AuthSettings(
        tokens=tokens_from(args.auth_token, environ.get(AUTH_TOKEN_ENV)),
        identity_header=(args.trust_identity_header or "").strip() or None,
        # Only a mounted /metadata has a guard of its own to leave those requests to.
        metadata_has_keys=bool(keys) and metadata is not None,
    )
    return serve(
        root=args.root,
        db_url=args.db or default_db_url(),
        host=args.host,
        port=args.port,
        base_path=args.base_path,
        poll=args.poll,
        index_url=args.index,
        metadata=metadata,
        auth=auth,
    )


if __name__ == "__main__":
    raise SystemExit(main())
