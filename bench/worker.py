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
import json
import os
import sys
import tempfile
import time
import urllib.request
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


def _pending() -> list[dict[str, Any]]:
    """Bolt's asynchronous self-invocations, queued on the fake Lambda endpoint."""
    url = os.environ["AWS_ENDPOINT_URL_LAMBDA"] + "/bench.pending"
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback fake
        return list(json.loads(response.read()))


# --- Slack ----------------------------------------------------------------------------------


class SlackScenario:
    """The real ``lambda_handler`` and a bare Bolt app, both fed the same signed requests."""

    def __init__(self, clicks: int) -> None:
        from bench import scenario
        from exec_assistant.interfaces.slack_bot import lambda_handler
        from exec_assistant.runtime import get_runtime

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
        self.lazy_runs = 0
        self.lazy_seconds: list[float] = []

    def run_lazy(self) -> None:
        """What AWS does after the ack returned: run the queued self-invocations."""
        for payload in _pending():
            start = time.perf_counter()
            self.handler(payload, self.context)
            self.lazy_seconds.append(time.perf_counter() - start)
            self.lazy_runs += 1


def timed(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], context: Any
) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = handler(event, context)
    return time.perf_counter() - start, response


def ack(iterations: int, warmup: int) -> dict[str, Any]:
    from exec_assistant.models import MeetingStatus

    s = SlackScenario(iterations + warmup)
    samples: dict[str, list[float]] = {
        k: [] for k in ("meetings", "meetings_bare", "start_prep", "start_prep_bare")
    }
    statuses: Counter[str] = Counter()
    listed_blocks = 0
    for i in range(iterations + warmup):
        keep = i >= warmup
        click = s.click_ids[i]
        for name, handler, event in (
            ("meetings", s.handler, s.requests.meetings()),
            ("meetings_bare", s.bare, s.requests.meetings()),
            ("start_prep", s.handler, s.requests.start_prep(click)),
            ("start_prep_bare", s.bare, s.requests.start_prep(click)),
        ):
            seconds, response = timed(handler, event, s.context)
            statuses[f"{name}:{response['statusCode']}"] += 1
            if keep:
                samples[name].append(seconds)
            if name == "meetings":
                listed_blocks = len(json.loads(response["body"] or "{}").get("blocks", []))
            if name == "start_prep":
                s.run_lazy()
    started = sum(
        1
        for mid in s.click_ids
        if (m := s.store.get_meeting(mid)) and m.status == MeetingStatus.PREP_IN_PROGRESS
    )
    return {
        "samples": samples,
        "statuses": dict(statuses),
        "listed_blocks": listed_blocks,
        "lazy_runs": s.lazy_runs,
        "lazy_p50": sorted(s.lazy_seconds)[len(s.lazy_seconds) // 2] if s.lazy_seconds else None,
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
    five times), interleaved block by block with the I/O floor doing as many events, so both
    see the same machine load. Returns seconds and events for each."""
    from bench import scenario
    from exec_assistant.workflows.prep_trigger_handler import lambda_handler

    copies = 5 if mode == "duplicates" else 1
    envelopes = trigger_envelopes(n, "trig")
    actions: Counter[str] = Counter()
    handler_s = floor_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        floor = scenario.IoFloor(Path(tmp) / "floor.db", os.environ["SLACK_API_URL"], n * copies)
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
            done += len(chunk)
    return {
        "events": n * copies,
        "seconds": handler_s,
        "floor_seconds": floor_s,
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
            if i % 2 == 0:
                handler(s.requests.meetings(), s.context)
            else:
                handler(s.requests.start_prep(s.click_ids[i]), s.context)
                if target == "slack_bot":
                    s.run_lazy()

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
