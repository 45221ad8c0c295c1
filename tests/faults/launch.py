"""Start worker processes (:func:`tests.faults.worker.run_case`) and wait for them.

Workers are forked from a forkserver that preloaded the worker module and its SDKs, so a case
costs a fork rather than an interpreter start. :class:`WorkerHandle` lets a fake's hook SIGKILL
a running worker at an exact point of a request; :func:`run_workers` starts several at once
behind a gate (duplicate deliveries racing for the claim).
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.faults.worker import WorkerSpec, run_case

#: Bound on waiting for a worker process (a hung one fails the case instead of the suite).
WORKER_WAIT = 60.0

_forkserver: list[Any] = []


def _context() -> Any:
    if not _forkserver:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["tests.faults.worker"])
        _forkserver.append(context)
    return _forkserver[0]


class WorkerHandle:
    """A running worker's pid, for a fake's hook to SIGKILL it at an exact point."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._ready = threading.Event()

    def started(self, pid: int) -> None:
        self._pid = pid
        self._ready.set()

    def kill(self) -> None:
        """SIGKILL the worker and return once it is dead (bounded waits, no sleeps)."""
        if not self._ready.wait(WORKER_WAIT) or self._pid is None:
            raise RuntimeError("worker never started")
        pidfd = os.pidfd_open(self._pid)
        try:
            os.kill(self._pid, signal.SIGKILL)
            readable, _, _ = select.select([pidfd], [], [], WORKER_WAIT)
            if not readable:
                raise RuntimeError(f"worker {self._pid} survived SIGKILL")
        finally:
            os.close(pidfd)


@dataclass(frozen=True)
class WorkerOutcome:
    code: int  # exit code; -9 when SIGKILLed
    result: str  # what the worker wrote to its result file (JSON), if anything
    log_tail: str


def run_workers(
    specs: list[WorkerSpec], *, handle: WorkerHandle | None = None
) -> list[WorkerOutcome]:
    """Start one worker per spec (all released together), wait for each; ``handle`` gets the
    first worker's pid."""
    context = _context()
    gate = context.Event()
    processes = [context.Process(target=run_case, args=(spec, gate), daemon=True) for spec in specs]
    for process in processes:
        process.start()
    if handle is not None:
        handle.started(processes[0].pid)
    gate.set()
    outcomes = []
    for process, spec in zip(processes, specs, strict=True):
        process.join(WORKER_WAIT)
        if process.is_alive():
            process.kill()
            process.join(WORKER_WAIT)
        result, log = Path(spec.result_path), Path(spec.log_path)
        outcomes.append(
            WorkerOutcome(
                code=int(process.exitcode if process.exitcode is not None else -1),
                result=result.read_text() if result.exists() else "",
                log_tail=_tail(log),
            )
        )
    return outcomes


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
