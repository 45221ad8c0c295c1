"""Items written by older versions lack the attributes of the indexes added since (meetings'
``prep_opens_at``, feeds' ``due``/``next_check_at``): invisible to the listings that read those
indexes until ``index_fill_target().fill()`` sets them — conditionally, so a newer write that
comes between the scan and the update is never clobbered. On moto; the old items are written
with boto3 exactly as the older versions wrote them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from exec_assistant.config import Settings
from exec_assistant.models import Meeting, MeetingStatus, iso_utc
from exec_assistant.store.dynamodb import DynamoDBStore
from exec_assistant.store.dynamodb_codec import item_fields, parse_item, to_av
from exec_assistant.store.feeds import CalendarFeed, DynamoDBFeedStore
from exec_assistant.store.index_fill import IndexFill, IndexFillTarget
from exec_assistant.store.sqlite import SQLiteStore
from tests.store.conftest import NOW, make_meeting

S = MeetingStatus
MEETINGS = "exec-assistant-meetings-test"
FEEDS = "exec-assistant-feeds-test"


@dataclasses.dataclass
class Tables:
    store: DynamoDBStore
    feeds: DynamoDBFeedStore
    client: Any

    def put_old_meeting(self, meeting: Meeting) -> None:
        """As the versions before the prep-window index wrote a meeting (no prep_opens_at)."""
        item = {k: to_av(v) for k, v in item_fields(meeting).items()}
        self.client.put_item(TableName=MEETINGS, Item=item)

    def put_old_feed(self, feed: CalendarFeed) -> None:
        """As the versions before the due index wrote a feed (no due, no next_check_at)."""
        item = {
            "feed_id": {"S": feed.feed_id},
            "user_id": {"S": feed.user_id},
            "data": {"S": feed.model_dump_json()},
        }
        self.client.put_item(TableName=FEEDS, Item=item)

    def raw(self, table: str, key: str, value: str) -> dict[str, Any] | None:
        found = self.client.get_item(TableName=table, Key={key: {"S": value}}, ConsistentRead=True)
        item: dict[str, Any] | None = found.get("Item")
        return item


def _tables() -> Tables:
    store = DynamoDBStore.from_settings(Settings(environment="test"))
    store.create_tables()
    feeds = DynamoDBFeedStore(FEEDS)
    feeds.create_table()
    return Tables(store, feeds, boto3.client("dynamodb", region_name="us-east-1"))


@pytest.fixture
def tables() -> Iterator[Tables]:
    with mock_aws():
        yield _tables()


def _ids(meetings: list[Meeting]) -> list[str]:
    return [m.meeting_id for m in meetings]


def _feed(n: int, due_in: timedelta = timedelta(0)) -> CalendarFeed:
    return CalendarFeed(
        feed_id=f"feed-{n}",
        user_id="usr-1",
        url=f"https://calendar.example.com/{n}/basic.ics",
        next_check_at=NOW + due_in,
    )


def test_old_meetings_are_invisible_to_the_prep_window_listing_until_filled(
    tables: Tables,
) -> None:
    tables.put_old_meeting(make_meeting("m-old", hours=10))  # window opened 14 h ago
    tables.put_old_meeting(make_meeting("m-old-later", hours=40))  # opens in 16 h
    tables.store.upsert_meeting_calendar(make_meeting("m-new", hours=5))
    assert _ids(tables.store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == ["m-new"]

    result = tables.store.index_fill_target().fill()

    assert (result.scanned, result.missing, result.updated, result.changed) == (3, 2, 2, 0)
    assert result.complete and not result.unreadable
    assert _ids(tables.store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == [
        "m-new",  # opened 19 h ago
        "m-old",  # 14 h ago
    ]
    later = tables.store.list_meetings_in_prep_window(S.DISCOVERED, NOW + timedelta(hours=17))
    assert _ids(later) == ["m-old-later"]
    item = tables.raw(MEETINGS, "meeting_id", "m-old")
    assert item is not None
    opens = make_meeting("m-old", hours=10).prep_window_start
    assert item["prep_opens_at"] == {"S": iso_utc(opens)}


def test_a_second_run_changes_nothing(tables: Tables) -> None:
    for n in range(3):
        tables.put_old_meeting(make_meeting(f"m-{n}", hours=10 + n))
    tables.store.index_fill_target().fill()
    before = tables.client.scan(TableName=MEETINGS, ConsistentRead=True)["Items"]

    again = tables.store.index_fill_target().fill()

    assert (again.scanned, again.missing, again.updated, again.changed) == (3, 0, 0, 0)
    after = tables.client.scan(TableName=MEETINGS, ConsistentRead=True)["Items"]
    assert sorted(after, key=str) == sorted(before, key=str)


def test_dry_run_counts_and_writes_nothing(tables: Tables) -> None:
    for n in range(3):
        tables.put_old_meeting(make_meeting(f"m-{n}", hours=10))
    tables.store.upsert_meeting_calendar(make_meeting("m-new", hours=10))
    before = tables.client.scan(TableName=MEETINGS, ConsistentRead=True)["Items"]

    result = tables.store.index_fill_target().fill(dry_run=True)

    assert (result.scanned, result.missing, result.updated) == (4, 3, 0)
    assert result.dry_run and result.complete
    after = tables.client.scan(TableName=MEETINGS, ConsistentRead=True)["Items"]
    assert sorted(after, key=str) == sorted(before, key=str)
    assert _ids(tables.store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == ["m-new"]


def test_every_status_is_filled_and_listed_under_its_own(tables: Tables) -> None:
    tables.put_old_meeting(make_meeting("m-cancelled", hours=10, status=S.CANCELLED))
    tables.put_old_meeting(make_meeting("m-required", hours=10, status=S.PREP_REQUIRED))
    tables.put_old_meeting(make_meeting("m-done", hours=-30, status=S.COMPLETED))

    assert tables.store.index_fill_target().fill().updated == 3

    assert _ids(tables.store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == []
    assert _ids(tables.store.list_meetings_in_prep_window(S.PREP_REQUIRED, NOW)) == ["m-required"]
    assert _ids(tables.store.list_meetings_in_prep_window(S.CANCELLED, NOW)) == ["m-cancelled"]
    # a meeting that already happened is indexed too (as a new write would), and never listed
    assert tables.raw(MEETINGS, "meeting_id", "m-done") is not None
    assert "prep_opens_at" in (tables.raw(MEETINGS, "meeting_id", "m-done") or {})
    assert _ids(tables.store.list_meetings_in_prep_window(S.COMPLETED, NOW)) == []


def _between_scan_and_update(target: IndexFillTarget, act: Any) -> IndexFillTarget:
    """The target, with ``act()`` run once right before its first UpdateItem is sent."""
    acted: list[bool] = []

    def call(operation: str, **kwargs: Any) -> dict[str, Any] | None:
        if operation == "update_item" and not acted:
            acted.append(True)
            act()
        return target.call(operation, **kwargs)

    return dataclasses.replace(target, call=call)


def test_a_newer_calendar_write_between_scan_and_update_is_not_clobbered(tables: Tables) -> None:
    tables.put_old_meeting(make_meeting("m-1", hours=10))
    moved = make_meeting("m-1", hours=50, prep_hours_before=2, title="Moved")

    target = _between_scan_and_update(
        tables.store.index_fill_target(), lambda: tables.store.upsert_meeting_calendar(moved)
    )
    result = target.fill()

    assert (result.missing, result.updated, result.changed) == (1, 0, 1)
    item = tables.raw(MEETINGS, "meeting_id", "m-1")
    assert item is not None
    assert item["prep_opens_at"] == {"S": iso_utc(moved.prep_window_start)}  # the newer one's
    assert item["title"] == {"S": "Moved"}
    assert tables.store.index_fill_target().fill().missing == 0


def test_an_older_writer_changing_the_start_between_scan_and_update_is_not_clobbered(
    tables: Tables,
) -> None:
    """An older version still running (mid-upgrade) moves the start without the attribute:
    the value derived from the old start must not be written."""
    tables.put_old_meeting(make_meeting("m-1", hours=10))
    moved = make_meeting("m-1", hours=60)

    target = _between_scan_and_update(
        tables.store.index_fill_target(), lambda: tables.put_old_meeting(moved)
    )
    assert target.fill().changed == 1
    assert "prep_opens_at" not in (tables.raw(MEETINGS, "meeting_id", "m-1") or {})

    assert tables.store.index_fill_target().fill().updated == 1  # the next run fills it right
    item = tables.raw(MEETINGS, "meeting_id", "m-1") or {}
    assert item["prep_opens_at"] == {"S": iso_utc(moved.prep_window_start)}


def test_a_status_move_between_scan_and_update_keeps_both(tables: Tables) -> None:
    tables.put_old_meeting(make_meeting("m-1", hours=10))

    target = _between_scan_and_update(
        tables.store.index_fill_target(),
        lambda: tables.store.transition_meeting("m-1", S.PREP_REQUIRED, now=NOW),
    )
    assert target.fill().updated == 1  # the opening follows start and hours, not the status

    assert _ids(tables.store.list_meetings_in_prep_window(S.PREP_REQUIRED, NOW)) == ["m-1"]
    assert (tables.store.get_meeting("m-1") or make_meeting()).status == S.PREP_REQUIRED


def test_a_meeting_deleted_between_scan_and_update_stays_deleted(tables: Tables) -> None:
    tables.put_old_meeting(make_meeting("m-1", hours=10))

    target = _between_scan_and_update(
        tables.store.index_fill_target(), lambda: tables.store.delete_meeting("m-1")
    )
    assert target.fill().changed == 1

    assert tables.raw(MEETINGS, "meeting_id", "m-1") is None  # no bare item recreated


def test_pages_with_progress_after_each(tables: Tables) -> None:
    for n in range(7):
        tables.put_old_meeting(make_meeting(f"m-{n}", hours=10))
    for n in range(3):
        tables.store.upsert_meeting_calendar(make_meeting(f"m-new-{n}", hours=10))
    seen: list[IndexFill] = []
    scans: list[int] = []
    target = tables.store.index_fill_target()

    def call(operation: str, **kwargs: Any) -> dict[str, Any] | None:
        if operation == "scan":
            scans.append(kwargs["Limit"])
        return target.call(operation, **kwargs)

    result = dataclasses.replace(target, call=call).fill(
        page_size=3, progress=lambda r: seen.append(r.model_copy())
    )

    assert (result.scanned, result.missing, result.updated) == (10, 7, 7)
    assert set(scans) == {3} and len(scans) >= 4  # 10 items, 3 a page
    assert len(seen) == len(scans) + 1  # before the first page, then after each
    assert seen[0].scanned == 0
    assert [s.scanned for s in seen] == sorted(s.scanned for s in seen)
    assert not any(s.complete for s in seen)  # the final result says it finished
    assert len(tables.store.list_meetings_in_prep_window(S.DISCOVERED, NOW)) == 10
    with pytest.raises(ValueError, match="page_size"):
        target.fill(page_size=0)


def test_an_unreadable_item_is_counted_logged_and_left_alone(
    tables: Tables, caplog: pytest.LogCaptureFixture
) -> None:
    tables.put_old_meeting(make_meeting("m-ok", hours=10))
    tables.client.put_item(
        TableName=MEETINGS,
        Item={"meeting_id": {"S": "m-bad"}, "status": {"S": "discovered"}, "title": {"S": "x"}},
    )

    result = tables.store.index_fill_target().fill()

    assert (result.missing, result.updated, result.unreadable) == (2, 1, 1)
    assert result.unreadable_keys == ["m-bad"]
    assert "prep_opens_at" not in (tables.raw(MEETINGS, "meeting_id", "m-bad") or {})
    assert any(r.getMessage() == "index_fill.unreadable_item" for r in caplog.records)


def test_old_feeds_become_due_and_series_items_stay_out(tables: Tables) -> None:
    tables.put_old_feed(_feed(1, due_in=timedelta(minutes=-5)))
    tables.put_old_feed(_feed(2, due_in=timedelta(hours=1)))
    tables.feeds.put_feed(_feed(3, due_in=timedelta(minutes=-1)))
    tables.feeds.update_series("feed-3", [], [])
    assert [f.feed_id for f in tables.feeds.due_feeds(NOW)] == ["feed-3"]

    result = tables.feeds.index_fill_target().fill()

    assert (result.missing, result.updated, result.changed) == (2, 2, 0)
    assert [f.feed_id for f in tables.feeds.due_feeds(NOW)] == ["feed-1", "feed-3"]
    assert [f.feed_id for f in tables.feeds.due_feeds(NOW + timedelta(hours=2))] == [
        "feed-1",
        "feed-3",
        "feed-2",
    ]
    assert tables.feeds.index_fill_target().fill().missing == 0


def test_feed_series_items_are_never_indexed(tables: Tables) -> None:
    from tests.store.test_feed_store import _state

    tables.feeds.put_feed(_feed(1))
    tables.feeds.update_series("feed-1", [_state("uid-1")], [])

    result = tables.feeds.index_fill_target().fill()

    assert (result.scanned, result.missing) == (2, 0)
    assert tables.feeds.get_series("feed-1", ["uid-1"])  # still the feed's series state


def test_a_feed_checked_between_scan_and_update_is_not_clobbered(tables: Tables) -> None:
    tables.put_old_feed(_feed(1))
    later = NOW + timedelta(minutes=15)

    def check() -> None:
        tables.feeds.record_check(
            "feed-1",
            etag='"v2"',
            last_modified=None,
            checked_at=NOW,
            next_check_at=later,
            result="imported 3",
        )

    target = _between_scan_and_update(tables.feeds.index_fill_target(), check)
    assert target.fill().changed == 1

    item = tables.raw(FEEDS, "feed_id", "feed-1") or {}
    assert item["next_check_at"] == {"S": iso_utc(later)}
    assert (tables.feeds.get_feed("feed-1") or _feed(0)).etag == '"v2"'


def test_a_feed_item_without_its_document_is_unreadable(tables: Tables) -> None:
    tables.client.put_item(TableName=FEEDS, Item={"feed_id": {"S": "feed-x"}})
    result = tables.feeds.index_fill_target().fill()
    assert (result.missing, result.unreadable, result.updated) == (1, 1, 0)


def test_sample_is_one_bounded_scan(tables: Tables) -> None:
    for n in range(6):
        tables.put_old_meeting(make_meeting(f"m-{n}", hours=10))
    for n in range(4):
        tables.store.upsert_meeting_calendar(make_meeting(f"m-new-{n}", hours=10))
    target = tables.store.index_fill_target()
    scans: list[dict[str, Any]] = []

    def call(operation: str, **kwargs: Any) -> dict[str, Any] | None:
        scans.append(kwargs)
        return target.call(operation, **kwargs)

    small = dataclasses.replace(target, call=call).sample(4)
    assert len(scans) == 1 and scans[0]["Limit"] == 4 and scans[0]["Select"] == "COUNT"
    assert small.examined == 4 and not small.complete
    assert 0 <= small.missing <= 4

    whole = target.sample(100)
    assert (whole.examined, whole.missing, whole.complete) == (10, 6, True)
    target.fill()
    assert target.sample(100).missing == 0
    with pytest.raises(ValueError, match="limit"):
        target.sample(0)


# Old tables hold whatever older versions wrote: any mix of old and new meetings, statuses,
# starts and prep hours. After the fill, the DynamoDB store lists exactly what a SQLite store
# holding the same meetings lists (its migration fills the same attribute on open).
TWIN_STATUSES = (S.DISCOVERED, S.PREP_REQUIRED, S.CANCELLED)
_meeting = st.tuples(
    st.floats(min_value=-48, max_value=400, allow_nan=False),  # hours from NOW to the start
    st.sampled_from([0.0, 0.5, 1.0, 24.0, 72.5, 24.0 * 14]),  # prep hours
    st.sampled_from(TWIN_STATUSES),
    st.booleans(),  # written by an old version
)


def test_filled_dynamodb_lists_as_sqlite_does(tmp_path: Path) -> None:
    with mock_aws():
        tables = _tables()
        runs = iter(range(10**6))

        @settings(max_examples=20, deadline=None)
        @given(meetings=st.lists(_meeting, max_size=12), page_size=st.integers(1, 5))
        def twins(meetings: list[tuple[float, float, MeetingStatus, bool]], page_size: int) -> None:
            for item in tables.client.scan(TableName=MEETINGS)["Items"]:
                tables.client.delete_item(
                    TableName=MEETINGS, Key={"meeting_id": item["meeting_id"]}
                )
            sqlite = SQLiteStore(tmp_path / f"twin-{next(runs)}.db")
            try:
                for n, (hours, prep, status, old) in enumerate(meetings):
                    meeting = make_meeting(
                        f"m-{n:02d}", hours=hours, prep_hours_before=prep, status=status
                    )
                    if old:
                        tables.put_old_meeting(meeting)
                    else:
                        tables.store.upsert_meeting_calendar(meeting)  # keeps its status
                    sqlite.upsert_meeting_calendar(meeting)

                result = tables.store.index_fill_target().fill(page_size=page_size)

                assert result.updated == sum(old for *_, old in meetings)
                for status in TWIN_STATUSES:
                    for at in (NOW, NOW + timedelta(days=3)):
                        assert _ids(tables.store.list_meetings_in_prep_window(status, at)) == _ids(
                            sqlite.list_meetings_in_prep_window(status, at)
                        )
            finally:
                sqlite.close()

        twins()


# Whatever an old table holds, the fill never fails on an item: it writes the opening derived from
# a readable meeting, and leaves anything else as it is, counted and logged.
_text = st.text(max_size=12)
_av = st.one_of(
    st.builds(lambda t: {"S": t}, _text),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**6), 10**6)),
    st.builds(lambda n: {"N": repr(n / 100)}, st.integers(-(10**6), 10**6)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
)
_iso = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: {"S": iso_utc(d)})
#: An index key attribute can only be a non-empty string (DynamoDB refuses anything else).
_key = st.text(min_size=1, max_size=12).map(lambda t: {"S": t})
_stored_meeting = st.fixed_dictionaries(
    {},
    optional={
        "user_id": st.one_of(st.just({"S": "usr-1"}), _key),
        "title": st.one_of(st.just({"S": "Board"}), _av),
        "status": st.one_of(st.sampled_from([{"S": s.value} for s in S]), _key),
        "start_time": st.one_of(_iso, _key),
        "end_time": st.one_of(_iso, _av),
        "prep_hours_before": st.one_of(
            st.integers(0, 24 * 14 * 100).map(lambda h: {"N": repr(h / 100)}), _av
        ),
        "created_at": st.one_of(_iso, _av),
        "updated_at": st.one_of(_iso, _av),
    },
)


#: A readable meeting as an older version wrote it, with any start and prep hours.
_old_meeting = st.builds(
    lambda hours, prep: {
        k: to_av(v)
        for k, v in item_fields(make_meeting("m", hours=hours, prep_hours_before=prep)).items()
        if k != "meeting_id"
    },
    st.floats(-1000, 1000, allow_nan=False),
    st.integers(0, 24 * 14 * 100).map(lambda h: h / 100),
)


def test_any_stored_item_is_filled_or_left_alone() -> None:
    with mock_aws():
        tables = _tables()

        @settings(max_examples=40, deadline=None)
        @given(items=st.lists(st.one_of(_old_meeting, _stored_meeting), max_size=6))
        def fill(items: list[dict[str, Any]]) -> None:
            for old in tables.client.scan(TableName=MEETINGS)["Items"]:
                tables.client.delete_item(TableName=MEETINGS, Key={"meeting_id": old["meeting_id"]})
            for n, item in enumerate(items):
                tables.client.put_item(
                    TableName=MEETINGS, Item={"meeting_id": {"S": f"m-{n}"}, **item}
                )

            result = tables.store.index_fill_target().fill(page_size=4)

            assert result.complete and result.missing == len(items)
            assert result.updated + result.unreadable == len(items)
            for n, item in enumerate(items):
                stored = tables.raw(MEETINGS, "meeting_id", f"m-{n}") or {}
                if f"m-{n}" in result.unreadable_keys:
                    assert stored == {"meeting_id": {"S": f"m-{n}"}, **item}
                else:
                    meeting = parse_item(Meeting, stored)
                    assert stored["prep_opens_at"] == {"S": iso_utc(meeting.prep_window_start)}

        fill()
