"""Figure 8: ``exec-assistant serve`` acknowledgement latency at 32 concurrent clients, against
a bare Bolt app on the same server (cheroot, same threads and backlog) in the same run.

The servers run in their own process (:mod:`bench.serve_host`), the Slack fake in another; the
clients here, 32 threads, each request on a new connection (as Slack connects), signed just
before it is sent. Requests alternate ``/meetings`` and Start Prep clicks (each click on its own
notified meeting), in rounds that alternate which server goes first. After each ``serve`` round
the harness waits until the fake has seen every post-response call (one ``chat.update`` per
click, one ``response_url`` post per ``/meetings``), so the bare app's round never shares the
CPU with ``serve``'s leftover work; ``serve``'s own rounds do include it, as in real use.
"""

from __future__ import annotations

import http.client
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from bench import env
from bench.fakes import Fakes
from bench.report import Row, percentile
from bench.worker import MARK
from exec_assistant.notifications.rendering import START_PREP_ACTION
from tests.slack.harness import Body, Payloads
from tests.slack.signing import signed_headers

CLIENTS = 32
ROUNDS = 4
SETTLE_SECONDS = 300.0


class ServeHost:
    """``python -m bench.serve_host`` as a context manager: its URLs and click ids."""

    def __init__(self, clicks: int, environ: dict[str, str]) -> None:
        self.clicks, self.environ = clicks, environ
        self._proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.serve_host", str(self.clicks)],
            env=self.environ,
            cwd=env.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the servers' INFO lines
            text=True,
        )
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith(MARK):
                self.info = json.loads(line.removeprefix(MARK))
                return self
        raise RuntimeError(f"bench.serve_host exited {self._proc.wait()} before serving")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=60)


def load(url: str, bodies: list[Body]) -> tuple[list[float], Counter[str]]:
    """POST every body with :data:`CLIENTS` concurrent clients; latencies (s) and outcomes
    (HTTP status, or the exception type of a failed connection)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    counter, lock = itertools.count(), threading.Lock()
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    def client() -> None:
        while True:
            with lock:
                i = next(counter)
            if i >= len(bodies):
                return
            body = bodies[i]
            headers = signed_headers(
                env.SIGNING_SECRET, int(time.time()), body.text, content_type=body.content_type
            )
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("POST", path, body=body.text.encode(), headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                outcome = str(response.status)
            except OSError as exc:
                outcome = type(exc).__name__
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                outcomes[outcome] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, outcomes


def _work_calls(fakes: Fakes) -> dict[str, int]:
    calls = fakes.slack_calls()
    return {
        "chat.update": calls.get("chat.update", 0),
        "response_url": sum(n for method, n in calls.items() if method.isdigit()),
    }


def _settle(fakes: Fakes, before: dict[str, int], updates: int, listings: int) -> dict[str, int]:
    """Wait until the fake has seen ``serve``'s post-response calls (counted from ``before``:
    the fake serves the other figures too); returns the counts."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        seen = {k: n - before[k] for k, n in _work_calls(fakes).items()}
        if seen["chat.update"] >= updates and seen["response_url"] >= listings:
            return seen
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve's post-response work did not finish: {seen}")
        time.sleep(0.05)


def serve_ack(requests: int, fakes: Fakes) -> list[Row]:
    per_round = max(requests // ROUNDS // 2 * 2, 2)
    clicks_total = per_round // 2 * ROUNDS
    samples: dict[str, list[float]] = {"serve": [], "bare": []}
    outcomes: dict[str, Counter[str]] = {"serve": Counter(), "bare": Counter()}
    payloads = Payloads(response_url=f"{fakes.slack_url.removesuffix('/api/')}/response")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        environ = env.serve_env(Path(tmp) / "serve.db", fakes.slack_url)
        with ServeHost(clicks_total, environ) as host:
            ids: list[str] = host.info["click_ids"]
            before = _work_calls(fakes)
            clicks = meetings = 0
            seen: dict[str, int] = {}
            for r in range(ROUNDS):
                bodies = []
                for i in range(per_round):
                    if i % 2:
                        bodies.append(payloads.command(""))
                    else:
                        bodies.append(payloads.block_action(START_PREP_ACTION, value=ids[clicks]))
                        clicks += 1
                meetings += per_round - per_round // 2
                for which in ("serve", "bare") if r % 2 == 0 else ("bare", "serve"):
                    latencies, got = load(host.info[which], bodies)
                    samples[which] += latencies
                    outcomes[which] += got
                    if which == "serve":
                        seen = _settle(fakes, before, clicks, meetings)
    errors = {k: sum(n for o, n in v.items() if o != "200") for k, v in outcomes.items()}
    note = (
        f"{CLIENTS} concurrent clients, {len(samples['serve'])} requests per server in {ROUNDS} "
        f"interleaved rounds (new connection each; half /meetings, half Start Prep clicks); "
        f"errors: serve {errors['serve']}, bare {errors['bare']}; serve's post-response work: "
        f"{seen.get('chat.update')} message updates for {clicks} clicks, "
        f"{seen.get('response_url')} /meetings answers for {meetings}"
    )
    details = {
        "clients": CLIENTS,
        "requests_per_server": len(samples["serve"]),
        "outcomes": {k: dict(v) for k, v in outcomes.items()},
        "errors": errors,
        "clicks": clicks,
        "listings": meetings,
        "post_response_calls": seen,
        "max_ms": {k: max(v) * 1000 for k, v in samples.items()},
    }
    rows = []
    for pct, target in ((50, None), (99, 1.5)):
        rows.append(
            Row(
                figure=f"8. serve ack p{pct}, {CLIENTS} clients",
                measured=percentile(samples["serve"], pct) * 1000,
                baseline=percentile(samples["bare"], pct) * 1000,
                unit="ms",
                target=target,
                direction="max" if target else "info",
                note=note if pct == 99 else "baseline: bare Bolt app (ack only) on the same server",
                details=details if pct == 99 else {},
            )
        )
    return rows
