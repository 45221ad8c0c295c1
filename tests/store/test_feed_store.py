"""The feed store on SQLite and on DynamoDB (moto): put, list, due, check recording, and a check
finishing after a removal never brings the feed back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.store.feed_series import SeriesState
from exec_assistant.store.feeds import (
    CalendarFeed,
    DynamoDBFeedStore,
    FeedStore,
    SQLiteFeedStore,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "dynamodb"])
def feeds(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeedStore]:
    if request.param == "sqlite":
        store: Any = SQLiteFeedStore(tmp_path / "feeds.db")
        yield store
        store.close()
        return
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb = DynamoDBFeedStore("exec-assistant-feeds-test", client)
        dynamodb.create_table()
        yield dynamodb


def feed(n: int, user: str, due: datetime) -> CalendarFeed:
    return CalendarFeed(
        feed_id=f"feed-{n}",
        user_id=user,
        url=f"https://calendar.example.com/secret-{n}/basic.ics",
        next_check_at=due,
    )


def test_feed_store_contract(feeds: FeedStore) -> None:
    feeds.put_feed(feed(1, "usr-a", T0))
    feeds.put_feed(feed(2, "usr-b", T0 + timedelta(hours=1)))
    assert [f.feed_id for f in feeds.list_feeds()] == ["feed-1", "feed-2"]
    assert [f.feed_id for f in feeds.list_feeds("usr-b")] == ["feed-2"]
    assert [f.feed_id for f in feeds.due_feeds(T0)] == ["feed-1"]
    assert "secret-1" not in repr(feeds.get_feed("feed-1"))  # the address stays out of repr

    assert feeds.record_check(
        "feed-1",
        etag='"abc"',
        last_modified="Tue, 01 Dec 2026 09:00:00 GMT",
        checked_at=T0,
        next_check_at=T0 + timedelta(minutes=15),
        result="not modified",
    )
    checked = feeds.get_feed("feed-1")
    assert checked is not None and checked.etag == '"abc"' and checked.checked_at == T0
    assert feeds.due_feeds(T0 + timedelta(minutes=10)) == []

    assert feeds.delete_feed("feed-1") is True
    assert feeds.delete_feed("feed-1") is False
    assert not feeds.record_check(
        "feed-1",
        etag=None,
        last_modified=None,
        checked_at=T0,
        next_check_at=T0,
        result="late",
    )
    assert feeds.get_feed("feed-1") is None


def test_only_due_feeds_are_read_oldest_first(feeds: FeedStore) -> None:
    for n in range(30):  # one due every tenth feed, the rest hours away
        due = T0 - timedelta(minutes=n) if n % 10 == 0 else T0 + timedelta(hours=1 + n)
        feeds.put_feed(feed(n, f"usr-{n % 3}", due))
    assert [f.feed_id for f in feeds.due_feeds(T0)] == ["feed-20", "feed-10", "feed-0"]
    assert feeds.due_feeds(T0 - timedelta(hours=1)) == []
    feeds.record_check(
        "feed-10",
        etag=None,
        last_modified=None,
        checked_at=T0,
        next_check_at=T0 + timedelta(minutes=15),
        result="imported",
    )
    assert [f.feed_id for f in feeds.due_feeds(T0)] == ["feed-20", "feed-0"]
    later = [f.feed_id for f in feeds.due_feeds(T0 + timedelta(hours=2, minutes=30))]
    assert later == ["feed-20", "feed-0", "feed-10", "feed-1"]


def test_dynamodb_due_feeds_query_the_index_and_never_scan(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    from exec_assistant.store.feeds import FEEDS_DUE_INDEX

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        store = DynamoDBFeedStore("exec-assistant-feeds-test", client)
        store.create_table()
        for n in range(5):
            store.put_feed(feed(n, "usr-a", T0 + timedelta(hours=n - 2)))
        calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register(
            "provide-client-params.dynamodb.*",
            lambda params, model, **_: calls.append((model.name, dict(params))),
        )
        assert [f.feed_id for f in store.due_feeds(T0)] == ["feed-0", "feed-1", "feed-2"]
    assert [name for name, _ in calls] == ["Query"]
    assert calls[0][1]["IndexName"] == FEEDS_DUE_INDEX


def test_sqlite_due_feeds_search_the_next_check_index(tmp_path: Path) -> None:
    import sqlite3

    from exec_assistant.store.feeds import DUE_SQL

    SQLiteFeedStore(tmp_path / "feeds.db").close()
    with sqlite3.connect(tmp_path / "feeds.db") as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {DUE_SQL}", ("x",))
        )
    assert "USING INDEX calendar_feeds_due" in plan, plan
    assert "SCAN" not in plan.replace("USING INDEX", ""), plan


def _state(uid: str, source: str = "s1") -> SeriesState:
    return SeriesState(
        uid=uid,
        source=source,
        start=T0,
        until=T0 + timedelta(days=15),
        occurrences={f"{uid}/20261202T090000Z": (T0 + timedelta(days=1), "d" * 32)},
    )


def test_series_states_are_kept_per_feed_apart_from_the_feeds(feeds: FeedStore) -> None:
    feeds.put_feed(feed(1, "usr-a", T0))
    uids = [f"uid-{n}@example.com" for n in range(30)] + ["x" * 3000]  # a batch, a long UID
    feeds.update_series("feed-1", [_state(u) for u in uids], [])
    feeds.update_series("feed-2", [_state("uid-0@example.com", "other")], [])
    assert set(feeds.get_series("feed-1", uids)) == set(uids)
    assert feeds.get_series("feed-1", ["uid-0@example.com"]) == {
        "uid-0@example.com": _state("uid-0@example.com")
    }
    assert feeds.get_series("feed-2", ["uid-0@example.com"])["uid-0@example.com"].source == "other"
    assert [f.feed_id for f in feeds.list_feeds()] == ["feed-1"]  # states are not feeds
    assert [f.feed_id for f in feeds.due_feeds(T0)] == ["feed-1"]
    feeds.update_series("feed-1", [_state("uid-1@example.com", "s2")], ["uid-2@example.com"])
    found = feeds.get_series("feed-1", uids)
    assert "uid-2@example.com" not in found and found["uid-1@example.com"].source == "s2"
    assert feeds.get_series("feed-3", uids) == {}
    assert feeds.delete_feed("feed-1")  # its series go with it, another feed's stay
    assert feeds.get_series("feed-1", uids) == {}
    assert set(feeds.get_series("feed-2", ["uid-0@example.com"])) == {"uid-0@example.com"}


def test_sqlite_feed_removal_drops_its_series_and_a_bad_state_is_ignored(tmp_path: Path) -> None:
    feeds = SQLiteFeedStore(tmp_path / "feeds.db")
    try:
        feeds.put_feed(feed(1, "usr-a", T0))
        feeds.update_series("feed-1", [_state("a"), _state("b")], [])
        with closing(sqlite3.connect(tmp_path / "feeds.db")) as conn, conn:
            conn.execute("UPDATE feed_series SET data='{\"uid\": 1}' WHERE uid='b'")
        assert set(feeds.get_series("feed-1", ["a", "b"])) == {"a"}  # b: expanded again
        assert feeds.delete_feed("feed-1")
        assert feeds.get_series("feed-1", ["a", "b"]) == {}
    finally:
        feeds.close()


def test_dynamodb_unprocessed_series_keys_are_asked_again(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        store = DynamoDBFeedStore("exec-assistant-feeds-test", client)
        store.create_table()
        store.update_series("feed-1", [_state("a"), _state("b")], [])
        real = client.batch_get_item
        calls: list[int] = []

        def throttled(**kwargs: Any) -> Any:
            calls.append(len(kwargs["RequestItems"]["exec-assistant-feeds-test"]["Keys"]))
            answer = real(**kwargs)
            if len(calls) == 1:  # the first answer leaves one key unprocessed
                keys = kwargs["RequestItems"]["exec-assistant-feeds-test"]["Keys"]
                items = answer["Responses"]["exec-assistant-feeds-test"]
                answer["Responses"]["exec-assistant-feeds-test"] = [
                    i for i in items if i["feed_id"] != keys[1]["feed_id"]
                ]
                answer["UnprocessedKeys"] = {"exec-assistant-feeds-test": {"Keys": keys[1:]}}
            return answer

        client.batch_get_item = throttled  # type: ignore[method-assign]
        assert set(store.get_series("feed-1", ["a", "b"])) == {"a", "b"}
        assert calls == [2, 1]
