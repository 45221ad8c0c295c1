"""20 concurrent notify() calls with one key: exactly one provider request (SQLite, DynamoDB)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from exec_assistant.config import Settings
from exec_assistant.models import Channel, LedgerState
from exec_assistant.notifications.service import NotificationService
from exec_assistant.notifications.types import NotificationOutcome, NotificationResult
from exec_assistant.store.base import Store
from exec_assistant.store.dynamodb import DynamoDBStore
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.slack_api import FakeSlackAPI
from tests.notifications.conftest import make_meeting, make_user, slack_channel

CALLERS = 20
KEY = "mtg-qbr-1#prep"


@pytest.fixture(params=["sqlite", "dynamodb"])
def shared_store(
    request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "ledger.db")
        yield store
        store.close()
        return
    # Real DynamoDB applies each request atomically; moto's in-process handler does not, so its
    # request handling is serialized (as in tests/store/conftest.py). The claim itself is still
    # the store's single conditional write, racing 20 threads.
    lock = threading.Lock()
    handle = DynamoHandler.call_action

    def atomic_call_action(self: DynamoHandler) -> Any:
        with lock:
            return handle(self)

    monkeypatch.setattr(DynamoHandler, "call_action", atomic_call_action)
    with mock_aws():
        dynamo = DynamoDBStore.from_settings(Settings(environment="concurrency"))
        dynamo.create_tables()
        yield dynamo


def test_twenty_concurrent_calls_make_exactly_one_provider_request(
    shared_store: Store, fake_slack: FakeSlackAPI
) -> None:
    channels = {Channel.SLACK: slack_channel(fake_slack)}
    barrier = threading.Barrier(CALLERS)

    def call(worker: int) -> NotificationResult:
        # One service per caller, as separate processes or Lambdas would have.
        service = NotificationService(shared_store, channels, worker_id=f"worker-{worker}")
        barrier.wait()
        return service.notify(make_meeting(), make_user(), key=KEY)

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        results = list(pool.map(call, range(CALLERS)))

    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    senders = [r for r in results if not r.duplicate]
    assert len(senders) == 1 and senders[0].outcome == NotificationOutcome.DELIVERED
    assert all(
        r.outcome in (NotificationOutcome.IN_PROGRESS, NotificationOutcome.DELIVERED)
        for r in results
    )
    record = shared_store.get_notification(KEY)
    assert record is not None and record.state == LedgerState.DELIVERED
    assert len(record.attempts) == 1
    # Once done, every further call is a duplicate that contacts nobody.
    again = NotificationService(shared_store, channels).notify(make_meeting(), make_user(), key=KEY)
    assert again.duplicate and again.delivered
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_concurrent_processes_on_one_sqlite_file_send_once(
    tmp_path: Any, fake_slack: FakeSlackAPI
) -> None:
    import multiprocessing

    from tests.notifications._process_worker import notify_in_this_process

    db_path = str(tmp_path / "shared.db")
    SQLiteStore(db_path).close()  # schema created once, up front
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(
            notify_in_this_process, [(db_path, fake_slack.url, n) for n in range(8)]
        )
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert sum(1 for duplicate, _ in results if not duplicate) == 1
    assert {outcome for _, outcome in results} <= {"delivered", "in_progress"}
