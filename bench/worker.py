"""Measurements that run inside one warm process: ``python -m bench.worker KIND [args]``.

The environment (see :mod:`bench.env`) configures the package exactly as a deployment would;
the handlers are the real Lambda entry points, called as Lambda calls them. Prints one JSON
line, prefixed with :data:`MARK`, on stdout (the handlers' logs go to stderr).

* ``ack ITERATIONS WARMUP`` — figure 2: Slack ack latency of the handler and a bare Bolt app.
* ``throughput distinct|duplicates N`` — figure 3 (with its floor, interleaved).
* ``memory slack_bot|slack_floor|prep_trigger|trigger_floor N WARMUP`` — figure 4.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARK = "BENCH-RESULT "


def emit(result: dict[str, Any]) -> None:
    print(MARK + json.dumps(result), flush=True)


def rss_kib(field: str = "VmRSS") -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class LambdaInvocations:
    """Lambda's part around each call of the Slack bot's handler, on the Extensions API fake:
    start the invocation (the extension gets ``INVOKE``), and after the handler returned wait
    until the extension has run the post-response work and asked for the next event."""

    def __init__(self) -> None:
        from bench.fakes import DONE_PATH, INVOKE_PATH

        host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.invoke_path, self.done_path = INVOKE_PATH, DONE_PATH
        self.done = 0
        #: From the handler's return to the end of the invocation (the post-response work).
        self.after_seconds: list[float] = []

    def _call(self, method: str, path: str) -> None:
        self.conn.request(method, path)
        response = self.conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")

    def call(
        self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any]
    ) -> tuple[float, dict[str, Any]]:
        """One invocation; returns the handler's time (the acknowledgement) and response."""
        from bench import scenario

        self._call("POST", self.invoke_path)
        seconds, response = timed(handler, event, scenario.CONTEXT)
        start = time.perf_counter()
        self.done += 1
        self._call("GET", f"{self.done_path}?n={self.done}")
        self.after_seconds.append(time.perf_counter() - start)
        return seconds, response


# --- Slack ----------------------------------------------------------------------------------


class SlackScenario:
    """The real ``lambda_handler`` (its post-response extension registered with the fake
    Extensions API at import, as on Lambda) and a bare Bolt app, fed the same signed requests."""

    def __init__(self, clicks: int) -> None:
        from bench import scenario
        from exec_assistant.interfaces.slack_bot import after_response, lambda_handler
        from exec_assistant.runtime import get_runtime

        if after_response.extension is None:
            raise RuntimeError("the post-response extension did not register with the fake")
        self.handler: scenario.Handler = lambda_handler
        store = get_runtime().store
        user = scenario.owner(store)
        scenario.seed_listing(store, user)
        self.click_ids = scenario.seed_clickable(store, user, clicks)
        self.store = store
        slack_url = os.environ["SLACK_API_URL"]
        self.requests = scenario.SlackRequests(slack_url.removesuffix("/api/"))
        self.bare = scenario.bare_handler(slack_url)
        self.context = scenario.CONTEXT
        self.invocations = LambdaInvocations()

    def invoke(self, event: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        return self.invocations.call(self.handler, event)


def timed(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], context: Any
) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = handler(event, context)
    return time.perf_counter() - start, response


def ack(iterations: int, warmup: int) -> dict[str, Any]:
    from exec_assistant.interfaces.slack_bot import after_response
    from exec_assistant.models import MeetingStatus

    s = SlackScenario(iterations + warmup)
    samples: dict[str, list[float]] = {
        k: [] for k in ("meetings", "meetings_bare", "start_prep", "start_prep_bare")
    }
    statuses: Counter[str] = Counter()
    for i in range(iterations + warmup):
        keep = i >= warmup
        click = s.click_ids[i]
        for name, event in (
            ("meetings", s.requests.meetings()),
            ("meetings_bare", s.requests.meetings()),
            ("start_prep", s.requests.start_prep(click)),
            ("start_prep_bare", s.requests.start_prep(click)),
        ):
            if name.endswith("_bare"):
                seconds, response = timed(s.bare, event, s.context)
            else:
                seconds, response = s.invoke(event)
            statuses[f"{name}:{response['statusCode']}"] += 1
            if keep:
                samples[name].append(seconds)
    started = sum(
        1
        for mid in s.click_ids
        if (m := s.store.get_meeting(mid)) and m.status == MeetingStatus.PREP_IN_PROGRESS
    )
    after = sorted(s.invocations.after_seconds)
    return {
        "samples": samples,
        "statuses": dict(statuses),
        "post_response_runs": after_response.queued,
        "post_response_p50": after[len(after) // 2] if after else None,
        "prep_started": started,
        "clicks": iterations + warmup,
    }


# --- prep trigger ---------------------------------------------------------------------------


def trigger_envelopes(n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` distinct meetings six hours out, seeded through the runtime's store, and one
    MeetingPrepRequired envelope for each."""
    from datetime import timedelta

    from bench import scenario
    from exec_assistant.models import utcnow
    from exec_assistant.runtime import get_runtime

    store = get_runtime().store
    user = scenario.owner(store)
    start_at = utcnow() + timedelta(hours=6)
    envelopes = []
    for i in range(n):
        mid = f"{prefix}-{i:05d}"
        scenario.add_meeting(store, user, mid, start_at + timedelta(minutes=i))
        envelopes.append(scenario.envelope(mid, user.user_id))
    return envelopes


def throughput(mode: str, n: int, block: int = 100) -> dict[str, Any]:
    """The prep trigger over ``n`` distinct meetings (``duplicates``: each envelope delivered
    five times), interleaved block by block with the I/O floor doing as many events (and with
    the floor posting a one-line message instead, for comparison), so all see the same machine
    load. Returns seconds and events for each."""
    from bench import scenario
    from exec_assistant.workflows.prep_trigger_handler import lambda_handler

    copies = 5 if mode == "duplicates" else 1
    envelopes = trigger_envelopes(n, "trig")
    actions: Counter[str] = Counter()
    handler_s = floor_s = minimal_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        slack_url = os.environ["SLACK_API_URL"]
        floor = scenario.IoFloor(Path(tmp) / "floor.db", slack_url, n * copies)
        minimal = scenario.IoFloor(Path(tmp) / "minimal.db", slack_url, n * copies, minimal=True)
        done = 0
        for first in range(0, n, block):
            chunk = envelopes[first : first + block] * copies  # redeliveries after the first
            start = time.perf_counter()
            for env in chunk:
                actions[lambda_handler(env, scenario.CONTEXT)["action"]] += 1
            handler_s += time.perf_counter() - start
            start = time.perf_counter()
            for i in range(done, done + len(chunk)):
                floor.event(i)
            floor_s += time.perf_counter() - start
            start = time.perf_counter()
            for i in range(done, done + len(chunk)):
                minimal.event(i)
            minimal_s += time.perf_counter() - start
            done += len(chunk)
    return {
        "events": n * copies,
        "seconds": handler_s,
        "floor_seconds": floor_s,
        "minimal_floor_seconds": minimal_s,
        "actions": dict(actions),
    }


# --- memory ---------------------------------------------------------------------------------


def memory(target: str, n: int, warmup: int) -> dict[str, Any]:
    from bench import scenario

    total = n + warmup
    step: Callable[[int], None]
    if target in ("slack_bot", "slack_floor"):
        s = SlackScenario(total)
        handler = s.handler if target == "slack_bot" else s.bare

        def step(i: int) -> None:
            event = s.requests.meetings() if i % 2 == 0 else s.requests.start_prep(s.click_ids[i])
            if target == "slack_bot":
                s.invoke(event)
            else:
                handler(event, s.context)

    elif target == "prep_trigger":
        from exec_assistant.workflows.prep_trigger_handler import lambda_handler

        envelopes = trigger_envelopes(total, "mem")

        def step(i: int) -> None:
            lambda_handler(envelopes[i], scenario.CONTEXT)

    else:
        tmp = tempfile.mkdtemp(prefix="bench-mem-")
        floor = scenario.IoFloor(Path(tmp) / "floor.db", os.environ["SLACK_API_URL"], total)
        step = floor.event

    samples: list[tuple[int, int]] = []
    after_warmup = 0
    for i in range(total):
        step(i)
        if i + 1 == warmup:
            after_warmup = rss_kib()
        if (i + 1) % 25 == 0:
            samples.append((i + 1, rss_kib()))
    return {
        "invocations": n,
        "warmup": warmup,
        "rss_after_warmup_kib": after_warmup,
        "rss_end_kib": rss_kib(),
        "peak_kib": rss_kib("VmHWM"),
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("kind", choices=["ack", "throughput", "memory"])
    parser.add_argument("args", nargs="*")
    args = parser.parse_args(argv)
    if args.kind == "ack":
        emit(ack(int(args.args[0]), int(args.args[1])))
    elif args.kind == "throughput":
        emit(throughput(args.args[0], int(args.args[1])))
    else:
        emit(memory(args.args[0], int(args.args[1]), int(args.args[2])))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
