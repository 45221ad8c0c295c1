"""What a feed's last import remembers of each series, so an unchanged series is not re-expanded.

One :class:`SeriesState` per (feed, series UID), written by the ICS import
(:mod:`~exec_assistant.workflows.ics_series` says what it holds and when it is trusted) and kept
by the feed store beside the feed: on SQLite the table ``feed_series`` of the same file (created
with ``IF NOT EXISTS``, so a file from before it simply has no states: every series is expanded
once, as before); on DynamoDB one item per series in the feeds table, keyed
``series#<feed_id>#<digest of the UID>`` and without the ``due`` attribute, so it is neither in
the due-feeds index nor, being marked :data:`SERIES_KIND`, in the feed listing.

A state is a cache: a missing, stale or unreadable one only costs a full expansion of its series.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

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

    model_config = ConfigDict(extra="forbid")

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


def series_key(feed_id: str, uid: str) -> dict[str, Any]:
    """The DynamoDB key of a series item (a UID can be long: its digest keeps the key short)."""
    digest = hashlib.sha256(uid.encode()).hexdigest()[:40]
    return {"feed_id": {"S": f"series#{feed_id}#{digest}"}}


def series_item(feed_id: str, state: SeriesState) -> dict[str, Any]:
    return series_key(feed_id, state.uid) | {
        KIND_ATTR: {"S": SERIES_KIND},
        "data": {"S": state.model_dump_json()},
    }


def series_from_items(items: list[dict[str, Any]]) -> dict[str, SeriesState]:
    found = (_parsed(item["data"]["S"]) for item in items)
    return {state.uid: state for state in found if state is not None}


def is_series_item(item: dict[str, Any]) -> bool:
    return bool(item.get(KIND_ATTR, {}).get("S") == SERIES_KIND)
