"""``python -m bench.ledger_cost``: what issue 12's guarantees cost in store calls per event.

The real prep trigger handles distinct events (each delivers) and then the same events again
(each a duplicate), on SQLite and on DynamoDB (moto's server on loopback), with instant stub
channels so that the store is all that is measured. A proxy counts and times every store call.

The baseline is the same run's calls minus the ones issue 12 added, timed in this run:

* ``record_attempt`` — the attempt is now recorded STARTED immediately before the request
  instead of riding on the claim (a crash before the request must leave the channel untried);
* ``get_notification`` during escalation planning — the delivery just written is read by key,
  strongly consistently, instead of only through the (eventually consistent) GSI listing.

So the ratio is (store time with them) / (store time without them), per delivered event.
Duplicates are unchanged by issue 12 (one ledger read since issue 16).

Each store is measured for two deployments (:data:`DEPLOYMENTS`): Slack + SMS, where there is an
escalation target (the meeting is written after the finish), and Slack alone, where there is
none (the finish writes the meeting's side too: ``finish_notification(mark=...)``).
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from exec_assistant.config import Settings
from exec_assistant.models import Channel, Meeting, User
from exec_assistant.notifications.types import (
    BeforeRequest,
    NotificationChannel,
    PrepNotification,
)
from exec_assistant.runtime import build_runtime
from exec_assistant.store.base import Store
from exec_assistant.workflows.prep_trigger_handler import handle_event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
#: Calls issue 12 added per delivered event (see the module docstring).
ADDED = {"record_attempt": 1, "get_notification": 1}


class StubChannel:
    """Delivers at once, no network: the store is what is measured."""

    request_seconds = 1.0

    def __init__(self, name: Channel) -> None:
        self.name = name

    def skip_reason(self, user: User) -> str | None:
        return None

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        before_request(self.request_seconds)
        return f"{self.name.value}:{notification.key}"


class TimedStore:
    """Times every store call by name."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.times: dict[str, list[float]] = defaultdict(list)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                self.times[name].append(time.perf_counter() - start)

        return timed


def _event(meeting_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"evt-{meeting_id}",
        "detail-type": "MeetingPrepRequired",
        "source": "exec-assistant.calendar-monitor",
        "time": "2026-11-25T12:00:00Z",
        "detail": {"meeting_id": meeting_id, "user_id": "usr-bench"},
    }


def _seed(store: Store, count: int, prefix: str) -> list[str]:
    store.put_user(
        User(
            user_id="usr-bench",
            name="Bench Exec",
            slack_user_id="U0BENCH",
            phone="+14155550123",
            timezone="UTC",
        )
    )
    ids = []
    for n in range(count):
        start = NOW + timedelta(hours=2, minutes=n)
        meeting = Meeting(
            meeting_id=f"mtg-{prefix}-{n:05d}",
            user_id="usr-bench",
            title="Bench meeting",
            start_time=start,
            end_time=start + timedelta(minutes=30),
        )
        store.upsert_meeting_calendar(meeting)
        ids.append(meeting.meeting_id)
    return ids


#: The deployments measured: with SMS there is an escalation target after Slack (the meeting is
#: written after the finish, status first); Slack alone has none (the finish writes it).
DEPLOYMENTS: dict[str, tuple[Channel, ...]] = {
    "slack+sms": (Channel.SLACK, Channel.SMS),
    "slack only": (Channel.SLACK,),
}


def measure(store: Store, count: int, deployment: tuple[Channel, ...]) -> dict[str, Any]:
    ids = _seed(store, count, prefix="-".join(c.value for c in deployment))
    timed = TimedStore(store)
    channels: dict[Channel, NotificationChannel] = {c: StubChannel(c) for c in deployment}
    runtime = build_runtime(
        # never opened (the store is given); absolute, as the settings require
        Settings(exec_assistant_store=f"sqlite:///{Path(tempfile.gettempdir()) / 'unused.db'}"),
        store=timed,
        channels=channels,
        clock=lambda: NOW,
    )
    out: dict[str, Any] = {}
    for phase in ("delivered", "duplicate"):
        timed.times.clear()
        for meeting_id in ids:
            handle_event(_event(meeting_id), runtime)
        calls = {name: len(ts) / count for name, ts in sorted(timed.times.items())}
        median = {name: statistics.median(ts) for name, ts in timed.times.items()}
        total = sum(sum(ts) for ts in timed.times.values()) / count
        added = (
            sum(ADDED.get(name, 0) * median[name] for name in median) if phase == "delivered" else 0
        )
        out[phase] = {"calls": calls, "store_ms": total * 1000, "added_ms": added * 1000}
    runtime.close()
    return out


@contextmanager
def _sqlite() -> Iterator[Store]:
    from exec_assistant.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        yield store
        store.close()


@contextmanager
def _dynamodb() -> Iterator[Store]:
    import os

    from moto.server import ThreadedMotoServer

    from exec_assistant import aws
    from exec_assistant.store.dynamodb import DynamoDBStore

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    aws.reset_clients()
    try:
        store = DynamoDBStore.from_settings(Settings(environment="bench"))
        store.create_tables()
        yield store
    finally:
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()
        server.stop()


BACKENDS: dict[str, tuple[Callable[[], Any], int]] = {
    "sqlite": (_sqlite, 300),
    "dynamodb": (_dynamodb, 60),
}


def main() -> int:
    print(
        "| store | channels | event | store calls per event | store ms/event | added by #12 "
        "| ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (backend, count) in BACKENDS.items():
        with backend() as store:
            results = {label: measure(store, count, chans) for label, chans in DEPLOYMENTS.items()}
        for label, result in results.items():
            for phase, row in result.items():
                calls = ", ".join(f"{k} {v:g}" for k, v in row["calls"].items())
                before = row["store_ms"] - row["added_ms"]
                ratio = row["store_ms"] / before if before else 1.0
                print(
                    f"| {name} | {label} | {phase} | {calls} | {row['store_ms']:.2f} | "
                    f"{row['added_ms']:.2f} | {ratio:.2f}x |"
                )
        print(f"… {name} done ({count} events)", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
