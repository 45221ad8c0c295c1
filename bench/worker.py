"""Measurements that run inside one warm process: ``python -m bench.worker KIND [args]``.

The environment (see :mod:`bench.env`) configures the package exactly as a deployment would;
the handlers are the real Lambda entry points, called as Lambda calls them. Prints one JSON
line, prefixed with :data:`MARK`, on stdout (the handlers' logs go to stderr).

* ``ack ITERATIONS WARMUP`` — figure 2: Slack ack latency of the handler and a bare Bolt app.
* ``throughput distinct|duplicates N`` — figure 3 (with its floor, interleaved).
* ``memory slack_bot|slack_floor|prep_trigger|trigger_floor N WARMUP`` — figure 4.
* ``listing SMALL LARGE ITERATIONS`` — figure 5: ``/meetings`` answer time at two sizes.
* ``work N`` — figure 6: store calls, log lines and validations per trigger event.
* ``reimport OCCURRENCES ROUNDS`` — figure 7: re-import of an unchanged ICS feed.
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
    five times), interleaved block by block with the "notify once" floor doing the same events
    (the same meeting for each redelivery), so both see the same machine load."""
    from bench import scenario
    from exec_assistant.workflows.prep_trigger_handler import lambda_handler

    copies = 5 if mode == "duplicates" else 1
    envelopes = trigger_envelopes(n, "trig")
    actions: Counter[str] = Counter()
    handler_s = floor_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        floor = scenario.NotifyOnceFloor(Path(tmp) / "floor.db", os.environ["SLACK_API_URL"])
        for first in range(0, n, block):
            chunk = list(range(first, min(first + block, n))) * copies  # redeliveries after
            start = time.perf_counter()
            for i in chunk:
                actions[lambda_handler(envelopes[i], scenario.CONTEXT)["action"]] += 1
            handler_s += time.perf_counter() - start
            start = time.perf_counter()
            for i in chunk:
                floor.event(i)
            floor_s += time.perf_counter() - start
        floor_posts = floor.posts
    return {
        "events": n * copies,
        "seconds": handler_s,
        "floor_seconds": floor_s,
        "floor_posts": floor_posts,
        "actions": dict(actions),
    }


# --- per-event work -------------------------------------------------------------------------


class WorkCounter:
    """Counts, while active, the store's calls by method, the log lines by level, and the
    pydantic validations by model (constructions and ``model_validate*``)."""

    def __init__(self, store: Any) -> None:
        import logging

        from pydantic import BaseModel

        self.store_calls: Counter[str] = Counter()
        self.log_lines: Counter[str] = Counter()
        self.validations: Counter[str] = Counter()
        self.active = False
        counter = self

        for name in dir(store):
            method = getattr(store, name)
            if name.startswith("_") or not callable(method):
                continue

            def wrap(method: Any = method, name: str = name) -> Any:
                def counted(*args: Any, **kwargs: Any) -> Any:
                    if counter.active:
                        counter.store_calls[name] += 1
                    return method(*args, **kwargs)

                return counted

            setattr(store, name, wrap())

        class Lines(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if counter.active:
                    counter.log_lines[record.levelname] += 1

        logging.getLogger().addHandler(Lines())

        init = BaseModel.__init__
        by_dict = BaseModel.model_validate.__func__  # type: ignore[attr-defined]
        by_json = BaseModel.model_validate_json.__func__  # type: ignore[attr-defined]

        def counted_init(model: BaseModel, /, **data: Any) -> None:
            if counter.active:
                counter.validations[type(model).__name__] += 1
            init(model, **data)

        def counted_dict(cls: type[BaseModel], *args: Any, **kwargs: Any) -> Any:
            if counter.active:
                counter.validations[cls.__name__] += 1
            return by_dict(cls, *args, **kwargs)

        def counted_json(cls: type[BaseModel], *args: Any, **kwargs: Any) -> Any:
            if counter.active:
                counter.validations[cls.__name__] += 1
            return by_json(cls, *args, **kwargs)

        BaseModel.__init__ = counted_init  # type: ignore[method-assign]
        BaseModel.model_validate = classmethod(counted_dict)  # type: ignore[assignment]
        BaseModel.model_validate_json = classmethod(counted_json)  # type: ignore[assignment]

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            "store_calls": dict(self.store_calls),
            "log_lines": dict(self.log_lines),
            "validations": dict(self.validations),
        }

    def reset(self) -> None:
        self.store_calls.clear()
        self.log_lines.clear()
        self.validations.clear()


def work(n: int) -> dict[str, Any]:
    """Per delivered and per duplicate prep-trigger event: store calls (embedded SQLite store:
    each is one query or one transaction), log lines, pydantic validations, Slack API calls."""
    from bench import scenario
    from exec_assistant.runtime import get_runtime
    from exec_assistant.workflows.prep_trigger_handler import lambda_handler

    envelopes = trigger_envelopes(n, "work")
    counter = WorkCounter(get_runtime().store)
    result: dict[str, Any] = {"events": n}
    for phase in ("delivered", "duplicate"):
        counter.reset()
        counter.active = True
        actions = Counter(lambda_handler(e, scenario.CONTEXT)["action"] for e in envelopes)
        counter.active = False
        result[phase] = counter.snapshot() | {"actions": dict(actions)}
    return result


# --- ICS re-import ---------------------------------------------------------------------------


def ics_feed(occurrences: int, per_series: int = 50) -> bytes:
    """A feed of daily series (``per_series`` occurrences each) totalling ``occurrences``."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//exec-assistant//bench//EN"]
    for series in range(occurrences // per_series):
        hour = 7 + series % 12
        lines += [
            "BEGIN:VEVENT",
            f"UID:bench-series-{series:04d}@example.com",
            "DTSTAMP:20261201T000000Z",
            f"DTSTART:20270104T{hour:02d}{series % 60:02d}00Z",
            f"DTEND:20270104T{hour + 1:02d}{series % 60:02d}00Z",
            f"RRULE:FREQ=DAILY;COUNT={per_series}",
            f"SUMMARY:Series {series}",
            "ORGANIZER:mailto:ceo@example.com",
            "ATTENDEE:mailto:cfo@example.com",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def reimport(occurrences: int, rounds: int) -> dict[str, Any]:
    """First import of the feed into a fresh SQLite store, then the same bytes again (nothing
    changed), ``rounds`` times; seconds of each. Both go the way a feed check does: with the
    feed store beside the store, which remembers each series (so the first import pays for
    remembering and the second reuses what it can)."""
    from datetime import UTC, datetime, timedelta

    from bench import scenario
    from exec_assistant.store.feeds import SQLiteFeedStore
    from exec_assistant.store.sqlite import SQLiteStore
    from exec_assistant.workflows.ics_import import import_calendar

    data = ics_feed(occurrences)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    first_s: list[float] = []
    again_s: list[float] = []
    reports: list[dict[str, int]] = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-ics-") as tmp:
            store = SQLiteStore(Path(tmp) / f"ics-{r}.db")
            feeds = SQLiteFeedStore(Path(tmp) / f"ics-{r}.db")
            user = scenario.owner(store)
            times = []
            for _ in range(2):
                begin = time.perf_counter()
                report = import_calendar(
                    store,
                    user.user_id,
                    data,
                    zone=user.zone,
                    start=start,
                    end=start + timedelta(days=120),
                    feed_id="bench-feed",
                    now=start - timedelta(days=1),
                    series=feeds,
                )
                times.append(time.perf_counter() - begin)
                reports.append({"created": len(report.created), "unchanged": report.unchanged})
            feeds.close()
            store.close()
        first_s.append(times[0])
        again_s.append(times[1])
    return {"occurrences": occurrences, "first_s": first_s, "again_s": again_s, "reports": reports}


# --- /meetings at two sizes -----------------------------------------------------------------


def listing(small: int, large: int, iterations: int) -> dict[str, Any]:
    """``/meetings`` answer time (the invocation: acknowledgement plus the post-response work
    that reads, renders and posts the list) for an owner with ``small`` and one with ``large``
    meetings in the 7-day window, interleaved."""
    from datetime import timedelta

    from bench import scenario
    from exec_assistant.models import User, utcnow

    s = SlackScenario(0)
    now = utcnow()
    other = s.store.put_user(
        User(
            user_id="exec-2",
            slack_user_id="U0EXEC002",
            name="Bo Exec",
            email="bo@example.com",
            timezone="Europe/Paris",
        )
    )
    owner = s.store.get_user("exec-1")
    assert owner is not None
    window = timedelta(days=6, hours=20)
    for user, count, prefix in ((owner, small, "small"), (other, large, "large")):
        for i in range(count):
            start = now + timedelta(hours=1) + window * i / max(count, 1)
            scenario.add_meeting(s.store, user, f"{prefix}-{i:05d}", start)
    samples: dict[str, list[float]] = {"small": [], "large": []}
    for i in range(iterations + 5):
        for name, slack_user in (("small", owner.slack_user_id), ("large", "U0EXEC002")):
            body = s.requests.payloads.command("", user=str(slack_user))
            ack_s, response = s.invocations.call(s.handler, s.requests.event(body))
            if response["statusCode"] != 200:
                raise RuntimeError(f"/meetings answered {response['statusCode']}")
            if i >= 5:
                samples[name].append(ack_s + s.invocations.after_seconds[-1])
    return {"samples": samples, "small": small, "large": large}


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
        floor = scenario.NotifyOnceFloor(Path(tmp) / "floor.db", os.environ["SLACK_API_URL"])
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
    parser.add_argument(
        "kind", choices=["ack", "throughput", "memory", "work", "listing", "reimport"]
    )
    parser.add_argument("args", nargs="*")
    args = parser.parse_args(argv)
    if args.kind == "ack":
        emit(ack(int(args.args[0]), int(args.args[1])))
    elif args.kind == "throughput":
        emit(throughput(args.args[0], int(args.args[1])))
    elif args.kind == "work":
        emit(work(int(args.args[0])))
    elif args.kind == "listing":
        emit(listing(*(int(a) for a in args.args[:3])))
    elif args.kind == "reimport":
        emit(reimport(int(args.args[0]), int(args.args[1])))
    else:
        emit(memory(args.args[0], int(args.args[1]), int(args.args[2])))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
