"""The loopback fakes in their own process: the Slack Web API and the Lambda Extensions API.

``python -m bench.fakes`` starts :class:`tests.fakes.slack_api.FakeSlackAPI` and
:class:`tests.fakes.lambda_extensions.FakeExtensionsApi` (what the test suite uses) on
127.0.0.1, prints their addresses as one JSON line, and serves until its stdin closes. A separate
process keeps the fakes' Python work off the measured interpreter's GIL and out of its RSS.

Extra routes serve the harness: ``/api/bench.stats`` (calls per Slack method and the block count
of the last ``response_url`` post, not itself recorded); on the Extensions API fake,
``POST /bench.invoke`` (an invocation starts) and ``GET /bench.done?n=N`` (wait until the
extension has finished invocation N, as Lambda waits before it ends one).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections import Counter
from types import TracebackType
from typing import Any, Self

from tests.fakes._server import Reply, Request
from tests.fakes.lambda_extensions import FakeExtensionsApi
from tests.fakes.slack_api import FakeSlackAPI

STATS_PATH = "/api/bench.stats"
INVOKE_PATH = "/bench.invoke"
DONE_PATH = "/bench.done"


class BenchSlackAPI(FakeSlackAPI):
    """The test suite's fake, plus a stats route; counts calls instead of keeping them."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.last_response_blocks = 0

    def handle(self, request: Request) -> Reply:
        if request.path == STATS_PATH:
            with self._lock:
                stats = {"calls": dict(self.counts), "response_blocks": self.last_response_blocks}
                return Reply(200, {"ok": True} | stats)
        method = request.path.rsplit("/", 1)[-1]
        with self._lock:
            self.counts[method] += 1
            if method.isdigit():  # a response_url post (…/response/commands/N)
                self.last_response_blocks = len(request.params.get("blocks") or [])
        reply = super().handle(request)
        self.reset()  # keep memory flat over tens of thousands of calls
        return reply


class BenchExtensionsApi(FakeExtensionsApi):
    """The Extensions API fake, driven over HTTP by the worker process."""

    def handle(self, request: Request) -> Reply:
        if request.path == INVOKE_PATH:
            self.invoke()
            return Reply(200, {})
        if request.path == DONE_PATH:
            self.wait_done(int(request.params["n"]), timeout=60)
            return Reply(200, {})
        return super().handle(request)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


class Fakes:
    """Start ``python -m bench.fakes`` and talk to it (context manager)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.slack_url = ""
        self.runtime_api = ""  # AWS_LAMBDA_RUNTIME_API: host:port

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
        self.slack_url, self.runtime_api = urls["slack"], urls["runtime_api"]
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

    def slack_stats(self) -> dict[str, Any]:
        return dict(_get(self.slack_url.rstrip("/") + STATS_PATH.removeprefix("/api")))

    def slack_calls(self) -> dict[str, int]:
        return dict(self.slack_stats()["calls"])


def main() -> None:
    with BenchSlackAPI() as slack, BenchExtensionsApi() as extensions:
        print(json.dumps({"slack": slack.url, "runtime_api": extensions.address}), flush=True)
        sys.stdin.read()  # until the harness closes our stdin


if __name__ == "__main__":
    main()
