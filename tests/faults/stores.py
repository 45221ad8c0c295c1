"""A Store proxy that acts at a named point of the ledger's writes (in the process under test).

:class:`FaultyStore` wraps any real :class:`~exec_assistant.store.base.Store` and forwards every
call. At one :class:`StorePoint` — before or after the N-th call of a named method — it runs an
action: in a worker process, ``os.kill(os.getpid(), SIGKILL)`` (a crash exactly there). It also
names the call in progress (``"record_attempt#2"``) for :mod:`tests.faults.dynamo_proxy`, which
can then lose the response of exactly that call's write.

``attempt_started`` is not a Store method: it stands for "the write that recorded an attempt
STARTED" — ``record_attempt`` of a STARTED attempt, or a claim that carries the first attempt —
so the point "right before the provider request" is the same whichever write records it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from exec_assistant.models import AttemptStatus, DeliveryAttempt
from exec_assistant.store.base import Store

#: The ledger and meeting writes a point can name.
WRITES = (
    "claim_notification",
    "record_attempt",
    "complete_attempt",
    "finish_notification",
    "record_meeting_notification",
    "transition_meeting",
)
STARTED = "attempt_started"


@dataclass(frozen=True)
class StorePoint:
    """Before or after the ``nth`` call of ``method`` (a Store write or ``attempt_started``)."""

    method: str
    when: Literal["before", "after"]
    nth: int = 1

    def __str__(self) -> str:
        return f"{self.when}-{self.method}#{self.nth}"


def _records_started(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if name == "claim_notification":
        return kwargs.get("first_attempt") is not None
    if name == "record_attempt":
        attempt = kwargs.get("attempt", args[-1] if args else None)
        return isinstance(attempt, DeliveryAttempt) and attempt.status == AttemptStatus.STARTED
    return False


class FaultyStore:
    """Forwards to ``inner``; runs ``action`` at ``point`` (see the module docstring)."""

    def __init__(
        self,
        inner: Store,
        point: StorePoint | None = None,
        action: Callable[[], None] | None = None,
    ) -> None:
        self._inner = inner
        self._point = point
        self._action = action
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        #: Set once the point was reached (the action ran).
        self.fired = threading.Event()

    def current_call(self) -> str | None:
        """``"method#n"`` of the Store call running on this thread, if any."""
        name: str | None = getattr(self._local, "call", None)
        return name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._counts[name] += 1
                number = self._counts[name]
                if _records_started(name, args, kwargs):
                    self._counts[STARTED] += 1
                    started: int | None = self._counts[STARTED]
                else:
                    started = None
            point = self._point
            hit = point is not None and (
                (point.method == name and point.nth == number)
                or (point.method == STARTED and point.nth == started)
            )
            if hit and point is not None and point.when == "before":
                self._fire()
            self._local.call = f"{name}#{number}"
            try:
                result = attr(*args, **kwargs)
            finally:
                self._local.call = None
            if hit and point is not None and point.when == "after":
                self._fire()
            return result

        return call

    def _fire(self) -> None:
        self.fired.set()
        if self._action is not None:
            self._action()


def as_store(wrapper: object) -> Store:
    """A Store proxy typed as the Store it stands in for."""
    return cast(Store, wrapper)
