"""What a feed's last import remembers of each series, so an unchanged series is not re-expanded.

One :class:`SeriesState` per (feed, series UID), written by the ICS import
(:mod:`~exec_assistant.workflows.ics_series` says what it holds and when it is trusted) and kept
by the feed store beside the feed: on SQLite the table ``feed_series`` of the same file (created
with ``IF NOT EXISTS``, so a file from before it simply has no states: every series is expanded
once, as before); on DynamoDB one item per series in the feeds table, keyed
``series#<feed_id>#<digest of the UID>`` and without the ``due`` attribute, so it is neither in
the due-feeds index nor, being marked :data:`SERIES_KIND`, in the feed listing. Removing a feed
removes its states; the state of a series that left a feed stays until then (it is only read
again if the series comes back, and is checked like any other).

A state is a cache: a missing, stale or unreadable one only costs a full expansion of its series.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from exec_assistant.errors import StoreUnavailableError
from exec_assistant.models import AwareDatetime

SERIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_series (
    feed_id TEXT NOT NULL,
    uid TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (feed_id, uid)
);
"""
#: The ``kind`` attribute of a series item in the DynamoDB feeds table (feeds have none).
KIND_ATTR = "kind"
SERIES_KIND = "series"


class SeriesState(BaseModel):
    """One series as its last expansion found it: ``occurrences`` maps each occurrence starting
    in ``[start, until)`` to its start and the calendar digest of the meeting it makes."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    uid: str
    source: str
    start: AwareDatetime
    until: AwareDatetime
    occurrences: dict[str, tuple[AwareDatetime, str]]


class SeriesStore(Protocol):
    def get_series(self, feed_id: str, uids: Collection[str]) -> dict[str, SeriesState]:
        """The stored states of these series of the feed (those it has)."""
        ...

    def update_series(
        self, feed_id: str, put: Sequence[SeriesState], delete: Collection[str]
    ) -> None:
        """Store ``put`` (replacing earlier states of the same UIDs) and drop ``delete``."""
        ...


def _parsed(raw: str) -> SeriesState | None:
    try:
        return SeriesState.model_validate_json(raw)
    except ValidationError:  # a state written by another version: expand the series again
        return None


def sqlite_get_series(
    conn: sqlite3.Connection, feed_id: str, uids: Collection[str]
) -> dict[str, SeriesState]:
    wanted = set(uids)
    rows = conn.execute("SELECT uid, data FROM feed_series WHERE feed_id=?", (feed_id,))
    found = {uid: _parsed(data) for uid, data in rows if uid in wanted}
    return {uid: state for uid, state in found.items() if state is not None}


def sqlite_update_series(
    conn: sqlite3.Connection, feed_id: str, put: Sequence[SeriesState], delete: Collection[str]
) -> None:
    conn.executemany(
        "DELETE FROM feed_series WHERE feed_id=? AND uid=?", [(feed_id, uid) for uid in delete]
    )
    conn.executemany(
        "INSERT OR REPLACE INTO feed_series(feed_id, uid, data) VALUES (?,?,?)",
        [(feed_id, s.uid, s.model_dump_json()) for s in put],
    )


def _prefix(feed_id: str) -> str:
    return f"series#{feed_id}#"


def series_key(feed_id: str, uid: str) -> dict[str, Any]:
    """The DynamoDB key of a series item (a UID can be long: its digest keeps the key short)."""
    digest = hashlib.sha256(uid.encode()).hexdigest()[:40]
    return {"feed_id": {"S": _prefix(feed_id) + digest}}


def is_series_item(item: dict[str, Any]) -> bool:
    return bool(item.get(KIND_ATTR, {}).get("S") == SERIES_KIND)


#: One DynamoDB call with its failures mapped (the feed store's).
Send = Callable[..., Any]
#: How many times a batch call is sent again for the keys or items DynamoDB left unprocessed.
BATCH_ROUNDS = 3


def dynamodb_get_series(
    send: Send, table: str, feed_id: str, uids: Collection[str]
) -> dict[str, SeriesState]:
    """Consistent ``BatchGetItem`` of the series items, 100 keys a request; keys left
    unprocessed are asked again up to :data:`BATCH_ROUNDS` times, then left out (those series
    are expanded)."""
    keys = [series_key(feed_id, uid) for uid in dict.fromkeys(uids)]
    items: list[dict[str, Any]] = []
    for n in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[n : n + 100], "ConsistentRead": True}}
        for _ in range(BATCH_ROUNDS):
            answer = send("batch_get_item", RequestItems=request)
            items += answer.get("Responses", {}).get(table, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
    found = (_parsed(item["data"]["S"]) for item in items)
    wanted = set(uids)
    return {s.uid: s for s in found if s is not None and s.uid in wanted}


def dynamodb_update_series(
    send: Send, table: str, feed_id: str, put: Sequence[SeriesState], delete: Collection[str]
) -> None:
    """Put the states and delete the UIDs' items (``BatchWriteItem``)."""
    items = [
        series_key(feed_id, s.uid)
        | {KIND_ATTR: {"S": SERIES_KIND}, "data": {"S": s.model_dump_json()}}
        for s in put
    ]
    _batch_write(
        send,
        table,
        [{"PutRequest": {"Item": item}} for item in items]
        + [{"DeleteRequest": {"Key": series_key(feed_id, uid)}} for uid in delete],
    )


def dynamodb_forget_series(send: Send, table: str, feed_id: str) -> None:
    """Delete every series item of a removed feed (a scan: feeds are removed rarely)."""
    keys: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page = send(
            "scan",
            TableName=table,
            ConsistentRead=True,
            ProjectionExpression="feed_id",
            FilterExpression="begins_with(feed_id, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": _prefix(feed_id)}},
            **({"ExclusiveStartKey": start} if start else {}),
        )
        keys += [{"feed_id": item["feed_id"]} for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    _batch_write(send, table, [{"DeleteRequest": {"Key": key}} for key in keys])


def _batch_write(send: Send, table: str, writes: list[dict[str, Any]]) -> None:
    """25 writes a request; items left unprocessed are sent again up to :data:`BATCH_ROUNDS`
    times, then ``StoreUnavailableError`` (a state not written only costs an expansion)."""
    for n in range(0, len(writes), 25):
        request: dict[str, Any] = {table: writes[n : n + 25]}
        for _ in range(BATCH_ROUNDS):
            request = send("batch_write_item", RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                break
        if request:
            raise StoreUnavailableError("feeds batch_write_item: items left unprocessed")
