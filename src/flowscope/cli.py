"""The `flowscope` command: serve, index, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from platformdirs import user_cache_dir

from flowscope import __version__

DEFAULT_PORT = 8083


def default_db_url() -> str:
    # Outside the user's project tree: the index is a cache, never something to commit.
    return f"sqlite:///{Path(user_cache_dir('flowscope')) / 'index.sqlite'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flowscope", description="A monitoring GUI for Metaflow.")
    parser.add_argument("--version", action="version", version=f"flowscope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the indexer does")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="index the datastore, keep it current, serve the UI")
    _source_options(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--base-path", default="/", help="serve under a path prefix, e.g. /flowscope"
    )
    serve.add_argument("--poll", action="store_true", help="poll the file system (network mounts)")

    index = commands.add_parser("index", help="index the datastore once and exit")
    _source_options(index)

    demo = commands.add_parser("demo", help="run bundled example flows and serve them")
    demo.add_argument("--dir", type=Path, default=None, help="scratch folder for the demo runs")
    demo.add_argument(
        "--db", default=None, help="database URL (default: inside the scratch folder)"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or sys.argv[1:])])
    if args.command == "index":
        return _index(args)
    if args.command == "demo":
        from flowscope.demo.runner import run_demo

        return run_demo(args.dir, args.db, args.host, args.port)
    return _serve(args)


def _source_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--root", default=None, help="the Metaflow sysroot or its .metaflow folder")
    sub.add_argument(
        "--db",
        default=None,
        help="index database URL (default: user cache), or a metaflow-service database "
        "(one holding its v3 tables) to follow",
    )
    sub.add_argument(
        "--index",
        default=None,
        help="with a metaflow-service --db: where to keep flowscope's index (default: a "
        "`flowscope` schema in that database, or the user cache if the role may only read)",
    )


def _index(args: argparse.Namespace) -> int:
    from flowscope.ingest.local_indexer import LocalIndexer
    from flowscope.ingest.locate import find_datastore
    from flowscope.service_mode import is_service_database
    from flowscope.store import Store

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
    store = Store(args.db or default_db_url())
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
    return 1 if stats.errors else 0


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


def _serve(args: argparse.Namespace) -> int:
    from flowscope.server import serve

    return serve(
        root=args.root,
        db_url=args.db or default_db_url(),
        host=args.host,
        port=args.port,
        base_path=args.base_path,
        poll=args.poll,
        index_url=args.index,
    )


if __name__ == "__main__":
    raise SystemExit(main())
