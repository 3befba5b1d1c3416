"""Unpickle artifacts in worker processes with a memory and a time limit (issue 12).

The allowlist (`safe_pickle.SafeUnpickler`) decides *what* a pickle may build; it cannot
bound *how much*: allowed constructors still allocate what they are told to. numpy's
`_reconstruct(ndarray, (10**9,), dtype('O'))` fills 8 GB with None from a pickle of a
hundred bytes, and a value can be small to hold but huge to preview. So every unpickle
of an artifact, and the preview built from it, runs in a worker process:

- its address space is capped (RLIMIT_AS at what it uses after start-up plus
  `MEMORY_BYTES`): an allocation past it is a MemoryError in the worker, answered as
  `PayloadTooLarge`, and the server's memory is untouched;
- each job has `TIMEOUT_S`: a worker that does not answer by then is killed and
  replaced, and the caller gets `PayloadTooLarge` ("took too long");
- the parent never unpickles what the worker sends except through `SafeUnpickler`, with
  a size cap (the answer is plain data: the value's allowlisted types, or a preview).

Workers are started on first use (spawned, never forked from a threaded server), import
numpy and pandas once when they are installed, and are reused; at most `WORKERS` at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import resource
import threading
from typing import Any

from flowscope.datastore import DatastoreError
from flowscope.datastore.safe_pickle import PayloadTooLarge, UnsafePickle, safe_loads

MEMORY_BYTES = 1 << 30  # what one job may allocate beyond the worker's start-up size
TIMEOUT_S = 20.0  # one job (unpickle and preview), on a loaded machine
START_TIMEOUT_S = 120.0  # a new worker imports numpy and pandas
WORKERS = 2
ANSWER_MAX_BYTES = 64 << 20

_KINDS = {"value", "preview"}


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _serve(conn: multiprocessing.connection.Connection, memory_bytes: int) -> None:
    """The worker's loop: (kind, max_bytes) and pickle bytes in, a pickled answer out."""
    # One thread per math library: their per-thread buffers would use up the budget.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    for library in ("numpy", "pandas"):
        with contextlib.suppress(ImportError):
            __import__(library)
    from flowscope.datastore.included_file import IncludedFileRef
    from flowscope.datastore.preview import make_preview

    limit = _address_space() + memory_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    conn.send_bytes(b"ready")
    while True:
        try:
            header = conn.recv_bytes()
            data = conn.recv_bytes()
        except EOFError:
            return
        kind, _, max_bytes = header.decode().partition(":")
        try:
            value = safe_loads(data, max_bytes=int(max_bytes))
            if kind == "preview" and isinstance(value, IncludedFileRef):
                # An IncludeFile parameter: its content is in the datastore, read by the
                # server; only the plain descriptor crosses back.
                value = ("", "included", dict(value.descriptor))
            elif kind == "preview":
                made = make_preview(value)
                value = (made.preview, made.preview_kind, made.preview_data)
            answer = pickle.dumps(("ok", value), protocol=4)
            if len(answer) > ANSWER_MAX_BYTES:
                answer = pickle.dumps(("PayloadTooLarge", "the unpickled value is too large"))
        except MemoryError:
            value = None
            answer = pickle.dumps(
                ("PayloadTooLarge", f"unpickling needs more than {memory_bytes >> 20} MB")
            )
        except UnsafePickle as error:
            answer = pickle.dumps(("UnsafePickle", error.module, error.name, str(error)))
        except Exception as error:
            answer = pickle.dumps((type(error).__name__, str(error)))
        value = None
        conn.send_bytes(answer)


class _Worker:
    def __init__(self, memory_bytes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, memory_bytes), daemon=True, name="flowscope-unpickle"
        )
        self.process.start()
        child.close()
        if not self.conn.poll(START_TIMEOUT_S) or self.conn.recv_bytes() != b"ready":
            self.kill()
            raise DatastoreError("the artifact reader process did not start")

    def ask(self, kind: str, data: bytes, max_bytes: int, timeout_s: float) -> bytes:
        self.conn.send_bytes(f"{kind}:{max_bytes}".encode())
        self.conn.send_bytes(data)
        if not self.conn.poll(timeout_s):
            raise TimeoutError
        return self.conn.recv_bytes(ANSWER_MAX_BYTES + 1024)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


class WorkerPool:
    """Up to `size` workers; a job waits for a free one."""

    def __init__(self, size: int = WORKERS, memory_bytes: int = MEMORY_BYTES) -> None:
        self.size, self.memory_bytes = size, memory_bytes
        self._idle: list[_Worker] = []
        self._count = 0
        self._free = threading.Condition()

    def _take(self) -> _Worker:
        with self._free:
            while not self._idle and self._count >= self.size:
                self._free.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker(self.memory_bytes)
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        with self._free:
            self._count -= 1
            self._free.notify()

    def run(self, kind: str, data: bytes, *, max_bytes: int, timeout_s: float) -> Any:
        if kind not in _KINDS:
            raise ValueError(kind)
        worker = self._take()
        try:
            raw = worker.ask(kind, data, max_bytes, timeout_s)
        except TimeoutError:
            worker.kill()
            self._drop()
            raise PayloadTooLarge(
                f"unpickling took longer than {timeout_s:g} s and was stopped"
            ) from None
        except (EOFError, OSError) as error:  # the worker died (killed by the OS, say)
            worker.kill()
            self._drop()
            raise PayloadTooLarge("the artifact reader process died unpickling it") from error
        with self._free:
            self._idle.append(worker)
            self._free.notify()
        answer = safe_loads(raw, max_bytes=ANSWER_MAX_BYTES + 1024)
        status = answer[0]
        if status == "ok":
            return answer[1]
        if status == "UnsafePickle":
            refused = UnsafePickle(answer[1], answer[2])
            refused.args = (answer[3],)
            raise refused
        if status == "PayloadTooLarge":
            raise PayloadTooLarge(answer[1])
        raise DatastoreError(answer[1] if status == "DatastoreError" else f"{status}: {answer[1]}")

    def close(self) -> None:
        with self._free:
            workers, self._idle = self._idle, []
            self._count -= len(workers)
        for worker in workers:
            worker.kill()


_pool = WorkerPool()


def bounded_loads(data: bytes, *, max_bytes: int, timeout_s: float = TIMEOUT_S) -> Any:
    """`safe_loads(data)`, in a worker with the memory and time limits above."""
    return _pool.run("value", bytes(data), max_bytes=max_bytes, timeout_s=timeout_s)


def bounded_preview(
    data: bytes, *, max_bytes: int, timeout_s: float = TIMEOUT_S
) -> tuple[str, str, Any]:
    """(preview, preview_kind, preview_data) of the pickled value, all built in a worker."""
    found = _pool.run("preview", bytes(data), max_bytes=max_bytes, timeout_s=timeout_s)
    return found[0], found[1], found[2]
