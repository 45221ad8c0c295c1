"""Lambda cold start: the cyclic garbage collector waits for the end of the first invocation.

A cold start imports the handler's modules and serves one request: tens of thousands of objects
(pydantic's schemas, botocore's service models, the SDKs' modules) that all stay alive. CPython
walks the young objects each time 700 new ones are tracked, and the older ones every tenth walk,
so a cold start of the prep trigger spent about 60 ms of CPU collecting and found almost nothing
to free (issue 16, measured: docs/benchmarks.md, "Cold start (figure 1) after the collector
pause").

When Lambda runs one of this package's handlers (its ``_HANDLER``, the handler location
configured on the function, names an ``exec_assistant.`` function) the package's ``__init__``
calls :func:`pause`, the first thing any handler module runs — never in a process whose entry
point is someone else's (a developer's own function that imports the library would never
resume): the first threshold becomes :data:`PAUSED_THRESHOLD`,
so no collection runs during the cold start. :func:`resume` puts the thresholds back once the
first invocation has ended (:func:`lambda_entry` wraps every Lambda entry function) or before a
SnapStart snapshot; it first moves every object then alive to the permanent generation
(``gc.freeze``, as CPython's documentation advises before sharing a process image), so later
full collections do not walk them again. The cyclic garbage the cold start made stays with them:
measured, 768 objects (about 0.24 MB) for the prep trigger's cold start.

The threshold is raised, the collector not disabled: if a process never resumes, a collection
still runs every :data:`PAUSED_THRESHOLD` new objects, so garbage cannot pile up unbounded.
Outside Lambda nothing is paused, and :func:`resume` does nothing.
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "HANDLER_PREFIX",
    "PAUSED_THRESHOLD",
    "is_entry",
    "lambda_entry",
    "pause",
    "paused",
    "resume",
]

#: The first generation's threshold during a cold start: well above the ~100,000 objects the
#: largest handler's cold start leaves alive, so no collection runs before :func:`resume`.
PAUSED_THRESHOLD = 1_000_000

_lock = threading.Lock()
_saved: list[tuple[int, int, int]] = []  # the thresholds before pause(), while paused
_entries: set[Callable[..., Any]] = set()

R = TypeVar("R")


def pause() -> bool:
    """Raise the collector's first threshold until :func:`resume`; False if already paused."""
    with _lock:
        if _saved:
            return False
        threshold = gc.get_threshold()
        _saved.append(threshold)
        gc.set_threshold(max(threshold[0], PAUSED_THRESHOLD), threshold[1], threshold[2])
        return True


#: Lambda's ``_HANDLER`` of this package's own entry points starts with this.
HANDLER_PREFIX = "exec_assistant."


def pause_on_lambda() -> bool:
    """:func:`pause` when Lambda runs one of this package's handlers (``AWS_LAMBDA_FUNCTION_NAME``
    set, ``_HANDLER`` under :data:`HANDLER_PREFIX`); elsewhere nothing."""
    on_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    ours = os.environ.get("_HANDLER", "").startswith(HANDLER_PREFIX)
    return on_lambda and ours and pause()


def paused() -> bool:
    with _lock:
        return bool(_saved)


def resume() -> bool:
    """End a :func:`pause`: freeze what is alive, restore the thresholds. False (and nothing
    done) when nothing is paused, so every invocation may call it."""
    with _lock:
        if not _saved:
            return False
        threshold = _saved.pop()
        gc.freeze()
        gc.set_threshold(*threshold)
        return True


def lambda_entry(handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """Wrap a Lambda entry function: :func:`resume` once its invocation ends, however it ends."""

    @functools.wraps(handler)
    def entry(event: Any, context: Any) -> R:
        try:
            return handler(event, context)
        finally:
            if _saved:  # read without the lock: only the first invocation finds it set
                resume()

    _entries.add(entry)
    return entry


def is_entry(function: object) -> bool:
    """Whether ``function`` was wrapped by :func:`lambda_entry` (the tests check every handler)."""
    return any(function is entry for entry in _entries)
