"""A loopback fake of the Lambda Extensions API (2020-01-01), driven like Lambda drives it.

The extension registers (``POST /2020-01-01/extension/register``), then calls
``GET /2020-01-01/extension/event/next``, which blocks until the fake is told an invocation
started (:meth:`FakeExtensionsApi.invoke`). Lambda ends an invocation when every extension has
asked for its next event again; :meth:`FakeExtensionsApi.wait_done` waits for that.
"""

from __future__ import annotations

import threading
import uuid

from tests.fakes._server import LoopbackFake, Reply, Request

PREFIX = "/2020-01-01/extension/"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:exec-assistant-slack-bot-test"


class FakeExtensionsApi(LoopbackFake):
    """``refuse`` answers registration 403 (as after init, ``Extension.TooLate`` style).

    A new registration starts a new execution environment (counts from zero, a new identifier);
    a ``next`` still pending from the previous one is answered 403."""

    def __init__(self, *, refuse: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.registrations: list[tuple[str, bytes]] = []  # (Lambda-Extension-Name, body)
        self.identifier = str(uuid.uuid4())
        self._cond = threading.Condition()
        self._invokes = 0  # invocations started
        self._nexts = 0  # event/next requests received (the first one ends init)

    @property
    def address(self) -> str:
        """What Lambda puts in ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self.port}"

    @property
    def completed(self) -> int:
        """Invocations the extension has finished (asked for the next event after)."""
        with self._cond:
            return max(self._nexts - 1, 0)

    def invoke(self) -> None:
        """An invocation starts: release one ``INVOKE`` event."""
        with self._cond:
            self._invokes += 1
            self._cond.notify_all()

    def wait_done(self, invocations: int, timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._nexts > invocations, timeout):
                raise AssertionError(f"{invocations} invocation(s) not completed in time")

    def handle(self, request: Request) -> Reply:
        path = request.path.removeprefix(PREFIX)
        if request.method == "POST" and path == "register":
            if self.refuse:
                return Reply(403, {"errorType": "Extension.TooLate", "errorMessage": "too late"})
            name = request.headers.get("lambda-extension-name", "")
            with self._cond:
                self.registrations.append((name, request.body))
                self.identifier = str(uuid.uuid4())
                self._invokes = self._nexts = 0
                self._cond.notify_all()
            return Reply(
                200,
                {"functionName": "exec-assistant-slack-bot-test", "functionVersion": "$LATEST"},
                headers={"Lambda-Extension-Identifier": self.identifier},
            )
        if request.method == "GET" and path == "event/next":
            caller = request.headers.get("lambda-extension-identifier")
            with self._cond:
                if caller != self.identifier:
                    return Reply(403, {"errorType": "Extension.Unknown", "errorMessage": "who?"})
                self._nexts += 1
                mine = self._nexts
                self._cond.notify_all()
                while self._invokes < mine:
                    if self._stopping.is_set() or caller != self.identifier:
                        return Reply(500, {"errorType": "Runtime.Stopping"})
                    self._cond.wait(0.05)
            return Reply(
                200,
                {
                    "eventType": "INVOKE",
                    "requestId": str(uuid.uuid4()),
                    "invokedFunctionArn": FUNCTION_ARN,
                    "deadlineMs": 0,
                },
            )
        return Reply(404, {"errorType": "NotFound", "errorMessage": request.path})
