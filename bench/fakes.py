"""The loopback fakes in their own process: the Slack Web API and Lambda's Invoke API.

``python -m bench.fakes`` starts :class:`tests.fakes.slack_api.FakeSlackAPI` (what the test
suite uses) and a fake Lambda Invoke endpoint on 127.0.0.1, prints their URLs as one JSON line,
and serves until its stdin closes. A separate process keeps the fakes' Python work off the
measured interpreter's GIL and out of its RSS.

Two extra routes serve the harness: ``/api/bench.stats`` (calls per Slack method, not itself
recorded) and, on the Lambda fake, ``/bench.pending`` (the queued asynchronous invocations, as
JSON payloads, handed over once).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections import Counter
from types import TracebackType
from typing import Any, Self

from tests.fakes._server import LoopbackFake, Reply, Request
from tests.fakes.slack_api import FakeSlackAPI

STATS_PATH = "/api/bench.stats"
PENDING_PATH = "/bench.pending"


class BenchSlackAPI(FakeSlackAPI):
    """The test suite's fake, plus a stats route; counts calls instead of keeping them."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def handle(self, request: Request) -> Reply:
        if request.path == STATS_PATH:
            with self._lock:
                return Reply(200, {"ok": True, "calls": dict(self.counts)})
        method = request.path.rsplit("/", 1)[-1]
        with self._lock:
            self.counts[method] += 1
        reply = super().handle(request)
        self.reset()  # keep memory flat over tens of thousands of calls
        return reply


class FakeLambdaInvoke(LoopbackFake):
    """``POST /2015-03-31/functions/{name}/invocations`` → 202; payloads queue for the harness."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Any] = []

    def handle(self, request: Request) -> Reply:
        with self._lock:
            if request.path == PENDING_PATH:
                pending, self.pending = self.pending, []
                return Reply(200, pending)
            self.pending.append(json.loads(request.body or b"null"))
        return Reply(202, "")  # as Lambda answers an Event invocation: no body


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


class Fakes:
    """Start ``python -m bench.fakes`` and talk to it (context manager)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.slack_url = ""
        self.lambda_url = ""

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fakes"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # clients dropping keep-alive connections at exit
            text=True,
        )
        assert self._proc.stdout is not None
        urls = json.loads(self._proc.stdout.readline())
        self.slack_url, self.lambda_url = urls["slack"], urls["lambda"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=30)

    def slack_calls(self) -> dict[str, int]:
        return dict(_get(self.slack_url.rstrip("/") + STATS_PATH.removeprefix("/api"))["calls"])

    def pending_invocations(self) -> list[dict[str, Any]]:
        return list(_get(self.lambda_url + PENDING_PATH))


def main() -> None:
    with BenchSlackAPI() as slack, FakeLambdaInvoke() as invoke:
        print(json.dumps({"slack": slack.url, "lambda": invoke.origin}), flush=True)
        sys.stdin.read()  # until the harness closes our stdin


if __name__ == "__main__":
    main()
