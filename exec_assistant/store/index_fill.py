"""Bring items written by older versions up to date with the DynamoDB indexes added since.

A GSI lists only the items that carry its key attributes, and the store writes a new index's
attributes only on new writes. Two indexes were added after items had been stored:

* meetings ``status-prep_opens_at-index`` (``prep_opens_at`` = start - prep hours): the calendar
  monitor's pass and the recovery sweep read only it, so an older meeting is never notified;
* feeds ``due-next_check_at-index`` (``due`` and ``next_check_at``): the monitor reads only the
  due feeds through it, so an older feed is never imported again.

(Every other index keys on attributes written since the DynamoDB store's first version.)

:meth:`IndexFillTarget.fill` scans a table page by page for the items that lack the attributes (a
``FilterExpression``), derives them from the item as read, and writes each with one conditional
``UpdateItem`` whose condition is that the attributes are still absent and the attributes they
derive from still hold the values read: an item a newer version rewrote meanwhile (which writes
the attributes itself) or deleted is left exactly as it is now. Running it again writes only
what is still missing, so it is idempotent, and an interrupted run resumes by running again.
:meth:`IndexFillTarget.sample` is the bounded check ``doctor`` makes (one Scan page, counts only).
The SQLite store needs none of this: its schema migration fills ``prep_opens_at`` on open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exec_assistant.logs import log_event
from exec_assistant.store.dynamodb_codec import Expr, Item

_log = logging.getLogger(__name__)

#: The command that fills every table's missing attributes (``doctor`` names it).
UPGRADE_COMMAND = "exec-assistant store upgrade"
#: Items per Scan page (DynamoDB also stops a page at 1 MB).
DEFAULT_PAGE_SIZE = 500
#: How many unreadable item keys a result keeps (the count is exact).
KEPT_KEYS = 20


class TableCall(Protocol):
    def __call__(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """One call on the table, failures mapped onto the error taxonomy; ``None`` when a
        ``ConditionExpression`` was false."""
        ...


@dataclass(frozen=True)
class Update:
    """One item's missing attributes (``expr``'s SETs) and the condition that it is still as
    read (``expr``'s placeholders)."""

    expr: Expr
    condition: str


@dataclass(frozen=True)
class IndexAttributes:
    """What one table's older items may lack: ``missing`` builds the Scan filter that selects
    them (into the given ``Expr``); ``update`` derives an item's attributes, raising
    ``ValueError`` (pydantic's ``ValidationError`` is one) for an item it cannot read."""

    table: str
    key: str
    attributes: tuple[str, ...]
    missing: Callable[[Expr], str]
    update: Callable[[Item], Update]


class IndexFill(BaseModel):
    """What a run did to one table (running counts while it runs)."""

    model_config = ConfigDict(defer_build=True)

    table: str
    table_name: str
    attributes: list[str]
    dry_run: bool
    scanned: int = 0
    """Items the Scan read."""
    missing: int = 0
    """Items that lacked the attributes."""
    updated: int = 0
    """Items written (always 0 on a dry run: ``missing - unreadable`` would be)."""
    changed: int = 0
    """Items left alone because a newer write (or a delete) came between the read and ours."""
    unreadable: int = 0
    """Items whose attributes could not be derived (nothing written; see the log)."""
    unreadable_keys: list[str] = Field(default_factory=list)
    complete: bool = False
    """The Scan reached the end of the table."""


class MissingSample(BaseModel):
    """One bounded Scan page: of ``examined`` items, ``missing`` lack the attributes."""

    model_config = ConfigDict(defer_build=True)

    table_name: str
    attributes: list[str]
    examined: int
    missing: int
    complete: bool
    """The page reached the end of the table (``examined`` is every item)."""


@dataclass(frozen=True)
class IndexFillTarget:
    """One table of a store and what its older items may lack; the stores hand these out
    (``DynamoDBStore.index_fill_target()``, ``DynamoDBFeedStore.index_fill_target()``)."""

    call: TableCall
    spec: IndexAttributes
    table_name: str

    def _filter(self) -> dict[str, Any]:
        expr = Expr()
        return {"FilterExpression": self.spec.missing(expr), **expr.kwargs()}

    def fill(
        self,
        *,
        dry_run: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: Callable[[IndexFill], None] | None = None,
    ) -> IndexFill:
        """Scan the table for items lacking the attributes and set them (module docstring).

        ``progress`` gets the result before the first page and after each page: one object,
        counted item by item, so a caller that keeps it knows what was done when a call
        raises (a throttled write, a lost connection) midway."""
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        result = IndexFill(
            table=self.spec.table,
            table_name=self.table_name,
            attributes=list(self.spec.attributes),
            dry_run=dry_run,
        )
        scan: dict[str, Any] = {"Limit": page_size, "ConsistentRead": True, **self._filter()}
        if progress is not None:
            progress(result)
        while True:
            page = self.call("scan", **scan) or {}
            result.scanned += int(page.get("ScannedCount", 0))
            for item in page.get("Items", []):
                self._fill_item(item, result)
            if progress is not None:
                progress(result)
            last = page.get("LastEvaluatedKey")
            if not last:
                result.complete = True
                return result
            scan["ExclusiveStartKey"] = last

    def _fill_item(self, item: Item, result: IndexFill) -> None:
        result.missing += 1
        key = item[self.spec.key]
        try:
            update = self.spec.update(item)
        except ValueError as exc:
            shown = str(key.get("S", key))
            result.unreadable += 1
            if len(result.unreadable_keys) < KEPT_KEYS:
                result.unreadable_keys.append(shown)
            log_event(
                _log,
                logging.ERROR,
                "index_fill.unreadable_item",
                table=self.table_name,
                item_key=shown,
                error=type(exc).__name__,
                errors=exc.error_count() if isinstance(exc, ValidationError) else 1,
            )
            return
        if result.dry_run:
            return
        done = self.call(
            "update_item",
            Key={self.spec.key: key},
            ReturnValues="NONE",
            **update.expr.kwargs(update.condition),
        )
        if done is None:
            result.changed += 1
        else:
            result.updated += 1

    def sample(self, limit: int) -> MissingSample:
        """One Scan page of at most ``limit`` items, counting those that lack the attributes:
        a bounded check (it reads ``limit`` items whatever the table's size), not a census."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        page = self.call("scan", Limit=limit, Select="COUNT", **self._filter()) or {}
        return MissingSample(
            table_name=self.table_name,
            attributes=list(self.spec.attributes),
            examined=int(page.get("ScannedCount", 0)),
            missing=int(page.get("Count", 0)),
            complete=not page.get("LastEvaluatedKey"),
        )
