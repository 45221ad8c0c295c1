"""DynamoDB-specific guarantees: the schema, item layout, write discipline and error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from exec_assistant.config import Settings
from exec_assistant.errors import (
    ConfigurationError,
    LeaseLostError,
    NotFoundError,
    StoreUnavailableError,
)
from exec_assistant.metrics import Metric
from exec_assistant.models import (
    Channel,
    ChatSession,
    ChatState,
    ClaimOutcome,
    DeliveryAttempt,
    LedgerState,
    MeetingStatus,
    NotificationStatus,
)
from exec_assistant.store.dynamodb import DynamoDBStore
from tests.emf import Captured
from tests.store.conftest import NOW, make_meeting, make_user


class RecordingClient:
    """Wraps a boto3 client: records every call, and can force a small page size on reads."""

    def __init__(self, inner: Any, page_size: int | None = None, *, old_api: bool = False) -> None:
        self.inner = inner
        self.page_size = page_size
        self.old_api = old_api  # behave like an engine without ReturnValuesOnConditionCheckFailure
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if self.page_size and name in ("query", "scan") and "Limit" not in kwargs:
                kwargs = kwargs | {"Limit": self.page_size}
            if self.old_api:
                kwargs.pop("ReturnValuesOnConditionCheckFailure", None)
            return method(*args, **kwargs)

        return call


def _store(client: Any, environment: str = "test") -> DynamoDBStore:
    settings = Settings(environment=environment)
    return DynamoDBStore(
        users_table=settings.table_name("users"),
        meetings_table=settings.table_name("meetings"),
        chat_sessions_table=settings.table_name("chat_sessions"),
        notifications_table=settings.table_name("notifications"),
        client=client,
    )


@pytest.fixture
def moto_client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def recorded(moto_client: Any) -> tuple[DynamoDBStore, RecordingClient]:
    client = RecordingClient(moto_client, page_size=2)
    store = _store(client)
    store.create_tables()
    client.calls.clear()
    return store, client


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def test_create_tables_builds_the_documented_schema(moto_client: Any) -> None:
    store = _store(moto_client)
    store.create_tables()
    store.create_tables()  # idempotent: existing tables are kept
    expected: dict[str, tuple[str, dict[str, list[tuple[str, str]]], str | None]] = {
        "exec-assistant-users-test": (
            "user_id",
            {"slack_user_id-index": [("slack_user_id", "HASH")]},
            None,
        ),
        "exec-assistant-meetings-test": (
            "meeting_id",
            {
                "user_id-start_time-index": [("user_id", "HASH"), ("start_time", "RANGE")],
                "status-start_time-index": [("status", "HASH"), ("start_time", "RANGE")],
                "status-prep_opens_at-index": [("status", "HASH"), ("prep_opens_at", "RANGE")],
            },
            None,
        ),
        "exec-assistant-chat-sessions-test": (
            "session_id",
            {
                "active_slack_user_id-updated_at-index": [
                    ("active_slack_user_id", "HASH"),
                    ("updated_at", "RANGE"),
                ]
            },
            "ttl",
        ),
        "exec-assistant-notifications-test": (
            "notification_key",
            {"meeting_id-index": [("meeting_id", "HASH")]},
            "ttl",
        ),
    }
    assert sorted(moto_client.list_tables()["TableNames"]) == sorted(expected)
    for name, (key, indexes, ttl) in expected.items():
        table = moto_client.describe_table(TableName=name)["Table"]
        assert _keys(table["KeySchema"]) == [(key, "HASH")]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {d["AttributeType"] for d in table["AttributeDefinitions"]} == {"S"}
        gsis = {g["IndexName"]: g for g in table.get("GlobalSecondaryIndexes", [])}
        assert {n: _keys(g["KeySchema"]) for n, g in gsis.items()} == indexes
        assert {g["Projection"]["ProjectionType"] for g in gsis.values()} == {"ALL"}
        ttl_desc = moto_client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl:
            assert ttl_desc == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl}
        else:
            assert ttl_desc["TimeToLiveStatus"] == "DISABLED"


def _workflow(store: DynamoDBStore) -> ChatSession:
    """One pass over every write operation."""
    user = store.put_user(make_user())
    store.put_user(make_user(name="Renamed"))
    meeting = store.upsert_meeting_calendar(make_meeting())
    store.upsert_meeting_calendar(make_meeting(title="Moved"))
    store.transition_meeting("mtg-1", MeetingStatus.PREP_REQUIRED, now=NOW)
    store.transition_meeting("mtg-1", MeetingStatus.DISCOVERED, now=NOW)
    store.record_meeting_notification(
        "mtg-1", status=NotificationStatus.DELIVERED, channel=Channel.SLACK, cycle="prep", at=NOW
    )
    session = ChatSession.for_meeting(meeting, user, now=NOW)
    store.create_chat_session(session)
    store.create_chat_session(session)
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.claim_notification("k", "mtg-1", owner="b", now=NOW, lease_seconds=60)
    attempt = DeliveryAttempt(seq=0, channel=Channel.SLACK, started_at=NOW)
    store.record_attempt("k", owner="a", attempt=attempt)
    store.complete_attempt("k", owner="a", attempt=attempt)
    store.finish_notification(
        "k", owner="a", state=LedgerState.DELIVERED, delivered_channel=Channel.SLACK, now=NOW
    )
    return session


def test_no_write_overwrites_a_whole_item(recorded: tuple[DynamoDBStore, RecordingClient]) -> None:
    store, client = recorded
    _workflow(store)
    writes = [(op, kw) for op, kw in client.calls if op not in ("get_item", "query", "scan")]
    assert {op for op, _ in writes} == {"put_item", "update_item"}
    for op, kwargs in writes:
        if op == "put_item":  # creation only
            assert kwargs["ConditionExpression"] == "attribute_not_exists(#k)"
        else:
            assert "UpdateExpression" in kwargs
            assert "Item" not in kwargs
    conditional_updates = [kw for op, kw in writes if op == "update_item"]
    # every update except the user upsert is conditional
    unconditional = [kw for kw in conditional_updates if "ConditionExpression" not in kw]
    assert [kw["TableName"] for kw in unconditional] == ["exec-assistant-users-test"] * 2


def test_a_claim_is_one_conditional_update_and_a_resent_one_reads_nothing_more(
    recorded: tuple[DynamoDBStore, RecordingClient],
) -> None:
    store, client = recorded
    claim = store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    assert claim.outcome == ClaimOutcome.WON
    [(op, kwargs)] = client.calls
    assert op == "update_item" and "ConditionExpression" in kwargs
    assert kwargs["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    item = client.inner.get_item(
        TableName="exec-assistant-notifications-test", Key={"notification_key": {"S": "k"}}
    )["Item"]
    assert item["attempts"] == {"L": []}
    assert item["owner"] == {"S": "a"}
    # the same write again (its answer lost): refused, and the refusal itself shows it is ours
    again = store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    assert again.outcome == ClaimOutcome.WON
    assert [op for op, _ in client.calls] == ["update_item", "update_item"]


def test_item_layout_ttl_and_sparse_active_index(
    recorded: tuple[DynamoDBStore, RecordingClient],
) -> None:
    store, client = recorded
    session = _workflow(store)
    raw = client.inner
    ledger = raw.get_item(
        TableName="exec-assistant-notifications-test", Key={"notification_key": {"S": "k"}}
    )["Item"]
    assert ledger["ttl"] == {"N": str(int((NOW + timedelta(days=30)).timestamp()))}
    assert ledger["state"] == {"S": "delivered"}
    assert ledger["attempts"]["L"][0]["M"]["channel"] == {"S": "slack"}
    assert "key" not in ledger
    meeting = raw.get_item(
        TableName="exec-assistant-meetings-test", Key={"meeting_id": {"S": "mtg-1"}}
    )["Item"]
    assert meeting["start_time"] == {"S": "2026-11-26T12:00:00.000000Z"}  # models.iso_utc
    assert "chat_session_id" not in meeting  # None is stored as absence
    chat_key = {"session_id": {"S": session.session_id}}
    chat = raw.get_item(TableName="exec-assistant-chat-sessions-test", Key=chat_key)["Item"]
    assert chat["ttl"] == {"N": str(int(session.expires_at.timestamp()))}
    assert chat["active_slack_user_id"] == {"S": "U0USR1"}
    store.advance_chat_session(
        session.session_id,
        expected_step=0,
        step=1,
        prep_answers={"goal": "x"},
        state=ChatState.COMPLETED,
        now=NOW,
    )
    chat = raw.get_item(TableName="exec-assistant-chat-sessions-test", Key=chat_key)["Item"]
    assert "active_slack_user_id" not in chat
    assert chat["prep_answers"] == {"M": {"goal": {"S": "x"}}}


def test_reads_follow_every_page(recorded: tuple[DynamoDBStore, RecordingClient]) -> None:
    store, client = recorded  # the recording client forces pages of 2 items
    for i in range(7):
        store.put_user(make_user(f"usr-{i}"))
        store.upsert_meeting_calendar(make_meeting(f"m-{i}", hours=i + 1))
        store.claim_notification(f"mtg-x#{i}", "mtg-x", owner="a", now=NOW, lease_seconds=1)
    client.calls.clear()
    assert len(store.list_users()) == 7
    assert len(store.list_meetings_for_user("usr-1", NOW, NOW + timedelta(days=1))) == 7
    assert (
        len(store.list_meetings_by_status(MeetingStatus.DISCOVERED, NOW, NOW + timedelta(1))) == 7
    )
    assert len(store.list_notifications_for_meeting("mtg-x")) == 7
    assert sum(1 for op, _ in client.calls if op in ("query", "scan")) >= 4 * 4


def test_missing_table_is_a_configuration_error_naming_it(moto_client: Any) -> None:
    store = _store(moto_client, environment="nowhere")
    with pytest.raises(ConfigurationError, match="exec-assistant-meetings-nowhere") as info:
        store.get_meeting("mtg-1")
    assert "MEETINGS_TABLE_NAME" in str(info.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_throttling_and_server_errors_are_transient(code: str, status: int, emf: Captured) -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", config=Config(retries={"max_attempts": 1})
    )
    store = _store(client)
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=status)
        stub.add_client_error("update_item", service_error_code=code, http_status_code=status)
        with pytest.raises(StoreUnavailableError) as info:
            store.get_user("usr-1")
        assert info.value.code == code
        with pytest.raises(StoreUnavailableError):
            store.claim_notification("k", "m", owner="a", now=NOW, lease_seconds=60)
    # each outage is counted (the dashboard's store-unavailable line), with the table and code
    counted = emf.of(Metric.STORE_UNAVAILABLE)
    assert [(d["table"], d["error_code"]) for d in counted] == [
        ("exec-assistant-users-test", code),
        ("exec-assistant-notifications-test", code),
    ]


def test_unreachable_endpoint_is_transient(emf: Captured) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(StoreUnavailableError):
        _store(client).get_meeting("mtg-1")
    [counted] = emf.of(Metric.STORE_UNAVAILABLE)
    assert (counted["operation"], counted["error_code"]) == ("get_item", "connection")


def test_refusals_are_explained_without_return_values_on_failure(moto_client: Any) -> None:
    """Engines that ignore ReturnValuesOnConditionCheckFailure (dynalite) get the same answers."""
    client = RecordingClient(moto_client, old_api=True)
    store = _store(client)
    store.create_tables()
    assert store.claim_notification("k", "m", owner="a", now=NOW, lease_seconds=60).owned
    busy = store.claim_notification("k", "m", owner="b", now=NOW, lease_seconds=60)
    assert (busy.outcome, busy.record.owner) == (ClaimOutcome.BUSY, "a")
    with pytest.raises(LeaseLostError):
        store.record_attempt("k", owner="b", attempt=DeliveryAttempt(seq=0, channel=Channel.SMS))
    with pytest.raises(ValueError):
        store.record_attempt("k", owner="a", attempt=DeliveryAttempt(seq=3, channel=Channel.SMS))
    store.finish_notification(
        "k", owner="a", state=LedgerState.EXHAUSTED, delivered_channel=None, now=NOW
    )
    done = store.claim_notification("k", "m", owner="b", now=NOW, lease_seconds=60)
    assert (done.outcome, done.record.state) == (ClaimOutcome.DONE, LedgerState.EXHAUSTED)
    meeting = store.upsert_meeting_calendar(make_meeting())
    assert not store.transition_meeting("mtg-1", MeetingStatus.DISCOVERED, now=NOW)
    with pytest.raises(NotFoundError):
        store.transition_meeting("nope", MeetingStatus.PREP_REQUIRED, now=NOW)
    session = ChatSession.for_meeting(meeting, make_user(), now=NOW)
    store.create_chat_session(session)
    assert store.create_chat_session(session.model_copy(update={"step": 4})) == (session, False)


def test_the_shared_client_is_created_on_the_first_table_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Opening the store builds no boto3 client (the Slack bot answers before it needs one)."""
    from exec_assistant import aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset_clients()
    with mock_aws():
        store = DynamoDBStore.from_settings(Settings(environment="test"))
        assert aws._clients == {}
        store.create_tables()
        assert [key[0] for key in aws._clients] == ["dynamodb"]
        assert store.get_meeting("mtg-none") is None  # the same client serves every call
        assert [key[0] for key in aws._clients] == ["dynamodb"]
    aws.reset_clients()


class _Unprocessing:
    """Wraps a client: the first ``times`` BatchGetItem calls leave every key unprocessed (as
    DynamoDB does when throttled), and each call's RequestItems is kept."""

    def __init__(self, inner: Any, times: int) -> None:
        self.inner, self.times = inner, times
        self.requests: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs["RequestItems"])
        if self.times:
            self.times -= 1
            return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}
        response: dict[str, Any] = self.inner.batch_get_item(**kwargs)
        return response


def test_get_meeting_and_user_asks_again_for_unprocessed_keys(moto_client: Any) -> None:
    _store(moto_client).create_tables()
    client = _Unprocessing(moto_client, times=2)
    store = _store(client)
    store.put_user(make_user("usr-1"))
    store.upsert_meeting_calendar(make_meeting("mtg-1"))

    meeting, user = store.get_meeting_and_user("mtg-1", "usr-1")

    assert (meeting is not None, user is not None) == (True, True)
    assert len(client.requests) == 3  # two throttled rounds, then the answer
    assert all(r["ConsistentRead"] for request in client.requests for r in request.values())


def test_get_meeting_and_user_gives_up_as_unavailable_when_always_unprocessed(
    moto_client: Any,
) -> None:
    _store(moto_client).create_tables()
    client = _Unprocessing(moto_client, times=99)
    with pytest.raises(StoreUnavailableError, match="unprocessed"):
        _store(client).get_meeting_and_user("mtg-1", "usr-1")
    assert len(client.requests) == 3
