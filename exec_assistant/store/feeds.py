"""Registered calendar feeds: which secret address each user's meetings come from, and when it
was last read (ETag / Last-Modified for a conditional GET).

Kept apart from the main :class:`~exec_assistant.store.base.Store` (its own SQLite table in the
same file; its own DynamoDB table ``exec-assistant-feeds-{env}``), because only the feed commands
and the calendar monitor use it. A feed's ``url`` is a secret (Google's and Outlook's "secret
address"): it is excluded from the model's ``repr`` and never logged; show
:func:`~exec_assistant.workflows.ics_source.redact_source` of it instead.

``record_check`` only updates a feed that still exists, so a check finishing after
``delete_feed`` does not bring the feed back.

``due_feeds`` reads only the feeds that are due, never every feed: SQLite through the index on
``next_check_at`` (``WHERE next_check_at <= now``); DynamoDB through the GSI
:data:`FEEDS_DUE_INDEX`, one partition (``due = "feed"``: a deployment has a handful of feeds,
far below one partition's throughput) sorted by ``next_check_at``, queried with
``next_check_at <= now``. GSI reads are eventually consistent: a feed whose check was recorded a
moment ago may still be listed once more (a conditional GET answered 304), never missed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.config import SettingsModel
from exec_assistant.errors import StoreUnavailableError
from exec_assistant.models import AwareDatetime, NonEmptyStr, iso_utc
from exec_assistant.sqlite_file import SQLiteFile
from exec_assistant.store.dynamodb_codec import Expr, Item
from exec_assistant.store.feed_series import (
    KIND_ATTR,
    SERIES_SCHEMA,
    SeriesState,
    dynamodb_forget_series,
    dynamodb_get_series,
    dynamodb_update_series,
    is_series_item,
    sqlite_get_series,
    sqlite_update_series,
)
from exec_assistant.store.index_fill import IndexAttributes, IndexFillTarget, Update


class CalendarFeed(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    feed_id: NonEmptyStr
    user_id: NonEmptyStr
    url: str = Field(min_length=9, max_length=4096, repr=False)
    interval_minutes: int = Field(default=15, ge=5, le=24 * 60)
    etag: str | None = None
    last_modified: str | None = None
    next_check_at: AwareDatetime
    checked_at: AwareDatetime | None = None
    last_result: str = ""


class FeedStore(Protocol):
    def put_feed(self, feed: CalendarFeed) -> None: ...
    def get_feed(self, feed_id: str) -> CalendarFeed | None: ...
    def list_feeds(self, user_id: str | None = None) -> list[CalendarFeed]: ...
    def due_feeds(self, now: datetime) -> list[CalendarFeed]: ...
    def delete_feed(self, feed_id: str) -> bool: ...

    def get_series(self, feed_id: str, uids: Collection[str]) -> dict[str, SeriesState]:
        """The remembered states of these series of the feed (:mod:`.feed_series`)."""
        ...

    def update_series(
        self, feed_id: str, put: Sequence[SeriesState], delete: Collection[str]
    ) -> None: ...

    def record_check(
        self,
        feed_id: str,
        *,
        etag: str | None,
        last_modified: str | None,
        checked_at: datetime,
        next_check_at: datetime,
        result: str,
    ) -> bool:
        """Update the feed's check fields if it still exists; returns whether it did."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS calendar_feeds (
    feed_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    next_check_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calendar_feeds_due ON calendar_feeds(next_check_at);
"""
#: The due feeds, oldest first: a range search of the index ``calendar_feeds_due``.
DUE_SQL = "SELECT data FROM calendar_feeds WHERE next_check_at<=? ORDER BY next_check_at"
#: The DynamoDB GSI of the due feeds: partition :data:`DUE_ATTR` (always :data:`DUE_PARTITION`),
#: sort key ``next_check_at`` (fixed-width UTC ISO, so lexical order is time order).
FEEDS_DUE_INDEX = "due-next_check_at-index"
DUE_ATTR = "due"
DUE_PARTITION = "feed"


class SQLiteFeedStore:
    """Feeds in a table of the embedded store's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self._file = SQLiteFile(path, label="feed store file")
        try:
            self._file.connection().executescript(_SCHEMA + SERIES_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot prepare feed table: {exc}") from exc

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[CalendarFeed]:
        rows = self._file.connection().execute(sql, args).fetchall()
        return [CalendarFeed.model_validate_json(row[0]) for row in rows]

    def put_feed(self, feed: CalendarFeed) -> None:
        with self._file.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO calendar_feeds(feed_id, user_id, next_check_at, data) "
                "VALUES (?,?,?,?)",
                (feed.feed_id, feed.user_id, iso_utc(feed.next_check_at), feed.model_dump_json()),
            )

    def get_feed(self, feed_id: str) -> CalendarFeed | None:
        found = self._rows("SELECT data FROM calendar_feeds WHERE feed_id=?", (feed_id,))
        return found[0] if found else None

    def list_feeds(self, user_id: str | None = None) -> list[CalendarFeed]:
        if user_id is None:
            return self._rows("SELECT data FROM calendar_feeds ORDER BY user_id, feed_id")
        return self._rows(
            "SELECT data FROM calendar_feeds WHERE user_id=? ORDER BY feed_id", (user_id,)
        )

    def due_feeds(self, now: datetime) -> list[CalendarFeed]:
        return self._rows(DUE_SQL, (iso_utc(now),))

    def delete_feed(self, feed_id: str) -> bool:
        with self._file.transaction() as conn:
            cursor = conn.execute("DELETE FROM calendar_feeds WHERE feed_id=?", (feed_id,))
            conn.execute("DELETE FROM feed_series WHERE feed_id=?", (feed_id,))
        return bool(cursor.rowcount)

    def get_series(self, feed_id: str, uids: Collection[str]) -> dict[str, SeriesState]:
        return sqlite_get_series(self._file.connection(), feed_id, uids)

    def update_series(
        self, feed_id: str, put: Sequence[SeriesState], delete: Collection[str]
    ) -> None:
        with self._file.transaction() as conn:
            sqlite_update_series(conn, feed_id, put, delete)

    def record_check(
        self,
        feed_id: str,
        *,
        etag: str | None,
        last_modified: str | None,
        checked_at: datetime,
        next_check_at: datetime,
        result: str,
    ) -> bool:
        with self._file.transaction() as conn:
            row = conn.execute(
                "SELECT data FROM calendar_feeds WHERE feed_id=?", (feed_id,)
            ).fetchone()
            if row is None:
                return False
            feed = _checked(
                CalendarFeed.model_validate_json(row[0]),
                etag=etag,
                last_modified=last_modified,
                checked_at=checked_at,
                next_check_at=next_check_at,
                result=result,
            )
            conn.execute(
                "UPDATE calendar_feeds SET next_check_at=?, data=? WHERE feed_id=?",
                (iso_utc(next_check_at), feed.model_dump_json(), feed_id),
            )
        return True

    def close(self) -> None:
        self._file.close()


class DynamoDBFeedStore:
    """Feeds in the ``exec-assistant-feeds-{env}`` table (key ``feed_id``; the whole feed as a
    JSON document in ``data``). A deployment has a handful of feeds: listing scans."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from exec_assistant.aws import client

            self._client = client("dynamodb")
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        return self._send(operation, TableName=self.table, **kwargs)

    def _send(self, operation: str, **kwargs: Any) -> Any:
        """One call, failures mapped (a false condition answers None)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise StoreUnavailableError(f"feeds {operation}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"feeds {operation}: {type(exc).__name__}") from exc

    def put_feed(self, feed: CalendarFeed) -> None:
        self._call("put_item", Item=_item(feed))

    def get_feed(self, feed_id: str) -> CalendarFeed | None:
        found = self._call("get_item", Key={"feed_id": {"S": feed_id}}, ConsistentRead=True)
        item = (found or {}).get("Item")
        return CalendarFeed.model_validate_json(item["data"]["S"]) if item else None

    def list_feeds(self, user_id: str | None = None) -> list[CalendarFeed]:
        feeds: list[CalendarFeed] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._call(
                "scan", ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {})
            )
            feeds += [
                CalendarFeed.model_validate_json(i["data"]["S"])
                for i in page.get("Items", [])
                if not is_series_item(i)
            ]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        chosen = [f for f in feeds if user_id is None or f.user_id == user_id]
        return sorted(chosen, key=lambda f: (f.user_id, f.feed_id))

    def due_feeds(self, now: datetime) -> list[CalendarFeed]:
        """A query of :data:`FEEDS_DUE_INDEX` (``next_check_at <= now``), page by page."""
        due: list[CalendarFeed] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._call(
                "query",
                IndexName=FEEDS_DUE_INDEX,
                KeyConditionExpression="#due = :due AND #next <= :now",
                ExpressionAttributeNames={"#due": DUE_ATTR, "#next": "next_check_at"},
                ExpressionAttributeValues={
                    ":due": {"S": DUE_PARTITION},
                    ":now": {"S": iso_utc(now)},
                },
                **({"ExclusiveStartKey": start} if start else {}),
            )
            due += [CalendarFeed.model_validate_json(i["data"]["S"]) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return due

    def create_table(self) -> None:
        """Create the table with its due index (tests, local engines; on AWS the Pulumi program
        does, infra/tables.py)."""
        self._call(
            "create_table",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "feed_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("feed_id", DUE_ATTR, "next_check_at")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": FEEDS_DUE_INDEX,
                    "KeySchema": [
                        {"AttributeName": DUE_ATTR, "KeyType": "HASH"},
                        {"AttributeName": "next_check_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )

    def index_fill_target(self) -> IndexFillTarget:
        """The feeds stored before :data:`FEEDS_DUE_INDEX` are never due: what indexes them
        (``due``, ``next_check_at`` from the feed's document; :mod:`.index_fill`)."""
        return IndexFillTarget(self._call, DUE_FILL, self.table)

    def delete_feed(self, feed_id: str) -> bool:
        found = self._call("delete_item", Key={"feed_id": {"S": feed_id}}, ReturnValues="ALL_OLD")
        dynamodb_forget_series(self._send, self.table, feed_id)
        return bool((found or {}).get("Attributes"))

    def get_series(self, feed_id: str, uids: Collection[str]) -> dict[str, SeriesState]:
        return dynamodb_get_series(self._send, self.table, feed_id, uids)

    def update_series(
        self, feed_id: str, put: Sequence[SeriesState], delete: Collection[str]
    ) -> None:
        dynamodb_update_series(self._send, self.table, feed_id, put, delete)

    def record_check(
        self,
        feed_id: str,
        *,
        etag: str | None,
        last_modified: str | None,
        checked_at: datetime,
        next_check_at: datetime,
        result: str,
    ) -> bool:
        feed = self.get_feed(feed_id)
        if feed is None:
            return False
        updated = _checked(
            feed,
            etag=etag,
            last_modified=last_modified,
            checked_at=checked_at,
            next_check_at=next_check_at,
            result=result,
        )
        done = self._call(
            "put_item", Item=_item(updated), ConditionExpression="attribute_exists(feed_id)"
        )
        return done is not None

    def close(self) -> None:
        return None


def _checked(feed: CalendarFeed, *, result: str, **fields: Any) -> CalendarFeed:
    """``feed`` after a check: its validators and times, and the (bounded) result."""
    return feed.model_copy(update={**fields, "last_result": result[:300]})


def _item(feed: CalendarFeed) -> dict[str, Any]:
    return {
        "feed_id": {"S": feed.feed_id},
        "user_id": {"S": feed.user_id},
        DUE_ATTR: {"S": DUE_PARTITION},
        "next_check_at": {"S": iso_utc(feed.next_check_at)},
        "data": {"S": feed.model_dump_json()},
    }


def _due_update(item: Item) -> Update:
    """The due index's attributes of a feed item from before it, on condition that they are
    still absent and the feed's document is still the one read."""
    data = item.get("data", {}).get("S")
    if not isinstance(data, str):
        raise ValueError("feed item without its document")  # noqa: TRY004 - unreadable, as pydantic's
    feed = CalendarFeed.model_validate_json(data)
    expr = Expr()
    expr.set(DUE_ATTR, DUE_PARTITION)
    expr.set("next_check_at", iso_utc(feed.next_check_at))
    condition = (
        f"attribute_exists({expr.n('feed_id')}) AND attribute_not_exists({expr.n(DUE_ATTR)}) "
        f"AND {expr.n('data')} = {expr.v(data)}"
    )
    return Update(expr, condition)


#: What a feed stored before the due index lacks (series items are not feeds: never indexed).
DUE_FILL = IndexAttributes(
    table="feeds",
    key="feed_id",
    attributes=(DUE_ATTR, "next_check_at"),
    missing=lambda expr: (
        f"attribute_not_exists({expr.n(DUE_ATTR)}) AND attribute_not_exists({expr.n(KIND_ATTR)})"
    ),
    update=_due_update,
)


def open_feed_store(settings: SettingsModel, store_path: Path | None) -> FeedStore:
    """The feed store beside the configured store: SQLite in ``store_path``'s file, else
    DynamoDB (``FEEDS_TABLE_NAME`` or the naming convention)."""
    if store_path is not None:
        return SQLiteFeedStore(store_path)
    table = settings.feeds_table_name or f"exec-assistant-feeds-{settings.environment}"
    return DynamoDBFeedStore(table)
