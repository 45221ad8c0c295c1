"""The DynamoDB store's meeting listings: Queries over the meetings table's GSIs (owner + start,
status + start, status + prep-window opening), always eventually consistent: they list, they do
not decide (see :mod:`exec_assistant.store.dynamodb`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from exec_assistant.models import Meeting, MeetingStatus, iso_utc
from exec_assistant.store.base import MAX_PREP_WINDOW
from exec_assistant.store.dynamodb_codec import Expr, Item, from_av, parse_item
from exec_assistant.store.dynamodb_ledger import DynamoDBLedger
from exec_assistant.store.dynamodb_tables import (
    MEETINGS_OWNER_INDEX,
    MEETINGS_PREP_WINDOW_INDEX,
    MEETINGS_STATUS_INDEX,
    PREP_OPENS_ATTR,
    TableKind,
)
from exec_assistant.store.index_fill import IndexAttributes, IndexFillTarget, Update


def _prep_opens_update(item: Item) -> Update:
    """``prep_opens_at`` of a meeting item written before the prep-window index, on condition
    that it is still absent and the start and prep hours it follows are still as read."""
    meeting = parse_item(Meeting, item)
    expr = Expr()
    expr.set(PREP_OPENS_ATTR, iso_utc(meeting.prep_window_start))
    parts = [
        f"attribute_exists({expr.n('meeting_id')})",
        f"attribute_not_exists({expr.n(PREP_OPENS_ATTR)})",
    ]
    for name in ("start_time", "prep_hours_before"):
        if name in item:
            parts.append(f"{expr.n(name)} = {expr.v(from_av(item[name]))}")
        else:
            parts.append(f"attribute_not_exists({expr.n(name)})")
    return Update(expr, " AND ".join(parts))


#: The meetings' attribute older items lack (see :mod:`~exec_assistant.store.index_fill`).
PREP_OPENS_FILL = IndexAttributes(
    table="meetings",
    key="meeting_id",
    attributes=(PREP_OPENS_ATTR,),
    missing=lambda expr: f"attribute_not_exists({expr.n(PREP_OPENS_ATTR)})",
    update=_prep_opens_update,
)


class DynamoDBMeetingListings(DynamoDBLedger):
    """The meeting listings of the Store protocol (see :mod:`exec_assistant.store.base`)."""

    def _meetings_in_window(
        self,
        index: str,
        attr: str,
        value: str,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
        exclude: Collection[MeetingStatus] = (),
    ) -> list[Meeting]:
        expr = Expr()
        until = iso_utc(start_until)
        condition = (
            f"{expr.n(attr)} = {expr.v(value)} AND "
            f"{expr.n('start_time')} BETWEEN {expr.v(iso_utc(start_from))} AND {expr.v(until)}"
        )
        extra: dict[str, Any] = {}
        if exclude:
            excluded = ", ".join(expr.v(s.value) for s in sorted(exclude))
            extra["FilterExpression"] = f"NOT ({expr.n('status')} IN ({excluded}))"
        query = {"IndexName": index, "KeyConditionExpression": condition, **extra}
        if limit is None:
            items = self._query("meetings", **query, **expr.kwargs())
        else:
            items = self._query_first("meetings", limit, **query, **expr.kwargs())
        # BETWEEN is inclusive and key attributes cannot be filtered server-side: drop the end.
        kept = [item for item in items if item["start_time"]["S"] < until]
        kept.sort(key=lambda item: (item["start_time"]["S"], item["meeting_id"]["S"]))
        return [parse_item(Meeting, item) for item in kept[:limit]]

    def _query_first(self, kind: TableKind, limit: int, **kwargs: Any) -> list[Item]:
        """The first ``limit`` items of an index Query in sort-key order, page by page (``Limit``
        per page), plus any that tie with the last of them on the sort key (``start_time``), so
        the caller's (start_time, meeting_id) order picks the same ones as SQLite's."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        items: list[Item] = []
        while limit:
            response = self._call("query", kind, Limit=limit, **kwargs)
            items.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            if len(items) > limit and items[-1]["start_time"] != items[limit - 1]["start_time"]:
                break
            kwargs["ExclusiveStartKey"] = last
        return items

    def list_meetings_for_user(
        self,
        user_id: str,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
        exclude: Collection[MeetingStatus] = (),
    ) -> list[Meeting]:
        return self._meetings_in_window(
            MEETINGS_OWNER_INDEX,
            "user_id",
            user_id,
            start_from,
            start_until,
            limit=limit,
            exclude=exclude,
        )

    def list_meetings_by_status(
        self,
        status: MeetingStatus,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
    ) -> list[Meeting]:
        return self._meetings_in_window(
            MEETINGS_STATUS_INDEX, "status", status.value, start_from, start_until, limit=limit
        )

    def list_meetings_in_prep_window(
        self, status: MeetingStatus, now: datetime, *, limit: int | None = None
    ) -> list[Meeting]:
        """One Query of the prep-window index: windows that opened in ``(now - 14 days, now]``;
        a FilterExpression drops the meetings that already started (read, not returned)."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        expr = Expr()
        at = iso_utc(now)
        condition = (
            f"{expr.n('status')} = {expr.v(status.value)} AND {expr.n(PREP_OPENS_ATTR)} "
            f"BETWEEN {expr.v(iso_utc(now - MAX_PREP_WINDOW))} AND {expr.v(at)}"
        )
        items = self._query(
            "meetings",
            IndexName=MEETINGS_PREP_WINDOW_INDEX,
            KeyConditionExpression=condition,
            FilterExpression=f"{expr.n('start_time')} > {expr.v(at)}",
            **expr.kwargs(),
        )
        # BETWEEN is inclusive: a window that opened exactly 14 days ago cannot still be open
        # (its meeting started by now), and the filter already dropped it; order as SQLite's.
        items.sort(key=lambda item: (item[PREP_OPENS_ATTR]["S"], item["meeting_id"]["S"]))
        return [parse_item(Meeting, item) for item in items[:limit]]

    # items from older versions (exec_assistant.store.index_fill) --------------------------------

    def index_fill_target(self) -> IndexFillTarget:
        """The meetings stored before the prep-window index lack ``prep_opens_at``, so the
        calendar monitor never sees them: what fills it (:mod:`.index_fill`)."""
        return IndexFillTarget(
            self._table_call("meetings"), PREP_OPENS_FILL, self.tables["meetings"]
        )
