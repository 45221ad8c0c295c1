"""Work that runs after the Slack bot's HTTP response is on its way, in the same invocation.

Why: Slack wants an answer within 3 seconds and the bot's answer is only an acknowledgement; what
a click or a command does (store reads and writes, Slack API calls) need not delay it. Bolt's
Lambda adapter runs such *lazy listeners* by invoking the function again (``lambda:Invoke`` on
itself), which puts an AWS API call inside every acknowledgement and doubles the invocations.

Here the work runs after the response instead, through a Lambda *internal extension*: a thread
in this process registered with the Lambda Extensions API (2020-01-01) during init. Lambda sends
each ``INVOKE`` event to it while the runtime calls the handler; the handler queues its lazy
work and returns, Lambda passes the response to API Gateway at once, and the thread then runs
the queued work and asks for the next event, which ends the invocation (the time shows as
``PostRuntimeExtensionsDuration``; it counts against the function's timeout and is billed).
Internal extensions cannot subscribe to ``SHUTDOWN``, and must register before the runtime asks
for its first event, hence :func:`register_extension` at import of the handler module — and only
when that module is Lambda's entry point (``_HANDLER``): an extension that registered in a process
whose handler never hands work over would keep every invocation open until its timeout.

Each batch carries the invocation's :class:`Deadline` (from the Lambda context), which the work
honours (see :mod:`exec_assistant.interfaces.post_response`).

Without the Extensions API (not on Lambda, or registration refused) the queued work runs when the
handler has its response, before it returns: slower acknowledgements, nothing lost.

Written by hand: neither Bolt nor the Lambda runtime client offers post-response work.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from exec_assistant import metrics
from exec_assistant.logs import log_event
from exec_assistant.models import ErrorClass

logger = logging.getLogger(__name__)


class Deadline:
    """When the current invocation's time runs out (``time.monotonic`` seconds; ``None``:
    no limit, off Lambda)."""

    def __init__(self, at: float | None = None) -> None:
        self.at = at

    @classmethod
    def of(cls, context: Any) -> Deadline:
        """From a Lambda context (``get_remaining_time_in_millis``); none without one."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls()
        return cls(time.monotonic() + remaining() / 1000)

    def remaining(self) -> float:
        """Seconds left (``inf`` without a deadline)."""
        return float("inf") if self.at is None else self.at - time.monotonic()


#: A piece of post-response work; it is told the invocation's deadline.
Work = Callable[[Deadline], None]
Batch = tuple[list[Work], Deadline]

EXTENSION_NAME = "exec-assistant-after-response"
API_VERSION = "2020-01-01"
#: Attempts at ``event/next`` before the extension gives up (with a pause between them).
NEXT_ATTEMPTS = 5


def run_all(batch: Batch) -> None:
    """Run each piece of work; one failing does not stop the others. (Listener work retries,
    reports and dead-letters its own failures, see ``post_response``; this line is the last
    resort for anything that still escapes.)"""
    works, deadline = batch
    for work in works:
        try:
            work(deadline)
        except Exception as exc:  # noqa: BLE001 - one failure must not cost the others; logged
            log_event(
                logger,
                logging.ERROR,
                "slack.after_response_failed",
                error=f"{type(exc).__name__}: {exc}",
                error_class=ErrorClass.UNKNOWN.value,
            )
            metrics.emit(metrics.Metric.POST_RESPONSE_FAILED, error=type(exc).__name__)


class ExtensionsApi:
    """The Lambda Extensions API calls the extension makes (plain ``http.client``: the API is an
    unauthenticated HTTP endpoint on the runtime's loopback address)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.partition(":")
        self.host, self.port = host, int(port or 80)

    def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port)  # no timeout: next() blocks
        try:
            conn.request(method, f"/{API_VERSION}/extension/{path}", body=body, headers=headers)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _answer(conn: http.client.HTTPConnection) -> tuple[int, dict[str, str], bytes]:
        try:
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def register(self, name: str) -> str:
        """Register for ``INVOKE``; returns the extension identifier."""
        status, headers, body = self._answer(
            self._send(
                "POST",
                "register",
                {"Lambda-Extension-Name": name, "Content-Type": "application/json"},
                json.dumps({"events": ["INVOKE"]}).encode(),
            )
        )
        identifier = {k.lower(): v for k, v in headers.items()}.get("lambda-extension-identifier")
        if status != 200 or not identifier:
            raise RuntimeError(f"extension registration answered {status}: {body[:200]!r}")
        return identifier

    def send_next(self, identifier: str) -> http.client.HTTPConnection:
        """Ask for the next event (this ends the current invocation for Lambda); the answer
        (the next ``INVOKE``) is read later with :meth:`read_event`."""
        return self._send("GET", "event/next", {"Lambda-Extension-Identifier": identifier})

    def read_event(self, conn: http.client.HTTPConnection) -> dict[str, Any]:
        status, _, body = self._answer(conn)
        if status != 200:
            raise RuntimeError(f"event/next answered {status}: {body[:200]!r}")
        event: dict[str, Any] = json.loads(body)
        return event


class AfterResponseExtension:
    """The internal extension's thread.

    It sends ``event/next`` and, instead of waiting on the answer, waits for the handler: when
    an invocation's handler is done it hands its work over, the thread reads the ``INVOKE``
    that started the invocation (already in its socket), runs the work, and sends the next
    ``event/next``. So the thread never wakes while a handler runs: woken at ``INVOKE`` it
    would contend with the acknowledgement for the GIL, which made about 2% of
    acknowledgements 3-5 ms slower in the benchmark (a GIL hand-back waits for the OS to wake
    the thread).
    """

    def __init__(self, api: ExtensionsApi, identifier: str) -> None:
        self.api = api
        self.identifier = identifier
        self._handed: queue.SimpleQueue[Batch] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.alive = True
        self._pending: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._loop, name=EXTENSION_NAME, daemon=True)

    def start(self) -> None:
        """Send the first ``event/next`` (which completes this extension's init), then start
        the thread. Raises if the Extensions API cannot be reached."""
        self._pending = self.api.send_next(self.identifier)
        self._thread.start()

    def hand_over(self, batch: Batch) -> None:
        """The handler's last step, once per invocation (the thread waits for exactly one)."""
        with self._lock:
            if self.alive:
                self._handed.put(batch)
                return
        run_all(batch)

    def _failed(self, step: str, attempt: int, exc: Exception) -> None:
        log_event(
            logger,
            logging.ERROR,
            "slack.extension_api_failed",
            step=step,
            attempt=attempt,
            error=f"{type(exc).__name__}: {exc}",
            error_class=ErrorClass.UNKNOWN.value,
        )

    def _send_next(self) -> http.client.HTTPConnection | None:
        for attempt in range(1, NEXT_ATTEMPTS + 1):
            try:
                return self.api.send_next(self.identifier)
            except Exception as exc:  # noqa: BLE001 - the local runtime API; logged, retried
                self._failed("next", attempt, exc)
                time.sleep(0.05 * attempt)
        return None

    def _loop(self) -> None:
        pending = self._pending
        while pending is not None:
            batch = self._handed.get()
            try:
                self.api.read_event(pending)  # this invocation's INVOKE
            except Exception as exc:  # noqa: BLE001 - logged; the work still runs
                self._failed("read_event", 1, exc)
            run_all(batch)
            pending = self._send_next()
        with self._lock:  # from now on the handler runs its own work
            self.alive = False
        while not self._handed.empty():
            run_all(self._handed.get_nowait())


class AfterResponse:
    """The work queued during one invocation, and where it goes when the handler is done."""

    def __init__(self, extension: AfterResponseExtension | None = None) -> None:
        self.extension = extension
        self._batch: list[Work] = []
        self._lock = threading.Lock()
        #: Pieces of work queued since the process started (tests, the benchmark).
        self.queued = 0

    def add(self, work: Work) -> None:
        with self._lock:
            self._batch.append(work)
            self.queued += 1

    def invocation_done(self, context: Any = None) -> None:
        """Hand this invocation's work over (to the extension, or run it now), with the
        deadline of the Lambda ``context``."""
        with self._lock:
            works, self._batch = self._batch, []
        batch = (works, Deadline.of(context))
        if self.extension is not None:
            self.extension.hand_over(batch)
        else:
            run_all(batch)


def register_extension(handler: str, environ: Mapping[str, str] | None = None) -> AfterResponse:
    """When Lambda runs ``handler`` as this process's entry point (``_HANDLER``, with
    ``AWS_LAMBDA_RUNTIME_API`` set), register the internal extension and start its thread;
    otherwise, or if registration fails (logged), work runs before the handler returns.
    Must run during Lambda's init phase (import of the handler's module)."""
    env = os.environ if environ is None else environ
    address = env.get("AWS_LAMBDA_RUNTIME_API")
    if not address or env.get("_HANDLER") != handler:
        return AfterResponse()
    api = ExtensionsApi(address)
    try:
        extension = AfterResponseExtension(api, api.register(EXTENSION_NAME))
        extension.start()
    except Exception as exc:  # noqa: BLE001 - fall back to running the work inline; logged
        log_event(
            logger,
            logging.WARNING,
            "slack.extension_unavailable",
            error=f"{type(exc).__name__}: {exc}",
            error_class=ErrorClass.UNKNOWN.value,
            effect="lazy work runs before each response",
        )
        return AfterResponse()
    return AfterResponse(extension)
