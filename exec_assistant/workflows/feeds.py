"""Calendar feeds on a schedule: registered secret addresses the calendar monitor re-imports.

``exec-assistant feeds add URL --user USER`` registers a feed (:func:`add_feed`); each calendar
monitor pass re-imports the feeds that are due (:func:`sync_due_feeds`) on both runtimes. A
download is a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last answer):
an unchanged feed costs one request and imports nothing; a changed one is imported like
``meetings import`` (deletions within the imported range, moved meetings re-timed, DMs edited:
:mod:`~exec_assistant.workflows.calendar_changes`). A feed that fails to download or parse is
recorded with its error class and retried on its next interval; it cancels nothing.

A feed's address is a secret: only :func:`~exec_assistant.workflows.ics_source.redact_source` of
it (scheme and host) is ever logged or shown.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.components import Runtime
from exec_assistant.errors import ExecAssistantError, NotFoundError, PermanentError
from exec_assistant.logs import log_event
from exec_assistant.store.feeds import CalendarFeed, FeedStore, open_feed_store
from exec_assistant.workflows.calendar_changes import apply_calendar_changes
from exec_assistant.workflows.ics_import import DEFAULT_WINDOW, import_calendar
from exec_assistant.workflows.ics_source import feed_id_for, fetch_feed, redact_source
from exec_assistant.workflows.meeting_types import load_meeting_types

logger = logging.getLogger(__name__)


class FeedSyncResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    checked: int = 0
    not_modified: list[str] = Field(default_factory=list)
    imported: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


def feed_store(runtime: Runtime) -> FeedStore:
    """The feed store beside ``runtime``'s store (same SQLite file, or DynamoDB)."""
    path = getattr(runtime.store, "path", None)
    return open_feed_store(runtime.settings, Path(path) if path is not None else None)


def add_feed(
    runtime: Runtime, user_id: str, url: str, *, interval_minutes: int = 15
) -> CalendarFeed:
    """Register ``url`` for ``user_id`` (idempotent per address); due at once."""
    if runtime.store.get_user(user_id) is None:
        raise NotFoundError(f"user {user_id} not found; create the user first")
    if not url.lower().startswith(("https://", "webcal://")):
        raise PermanentError("a feed must be an https:// or webcal:// address", code="bad_scheme")
    feed = CalendarFeed(
        feed_id=feed_id_for(url),
        user_id=user_id,
        url=url,
        interval_minutes=interval_minutes,
        next_check_at=runtime.clock(),
    )
    store = feed_store(runtime)
    try:
        store.put_feed(feed)
    finally:
        store.close()
    log_event(
        logger,
        logging.INFO,
        "feed.added",
        feed_id=feed.feed_id,
        user_id=user_id,
        source=redact_source(url),
    )
    return feed


def sync_due_feeds(runtime: Runtime, now: datetime | None = None) -> FeedSyncResult:
    """Re-import every feed whose interval has passed (one failing feed never stops the rest)."""
    now = now or runtime.clock()
    result = FeedSyncResult()
    store = feed_store(runtime)
    try:
        for feed in store.due_feeds(now):
            result.checked += 1
            try:
                outcome = _sync(runtime, store, feed, now)
            except ExecAssistantError as exc:
                result.failed.append(feed.feed_id)
                _record(store, feed, now, f"{exc.error_class.value}: {exc}")
                log_event(
                    logger,
                    logging.ERROR,
                    "feed.sync_failed",
                    feed_id=feed.feed_id,
                    user_id=feed.user_id,
                    source=redact_source(feed.url),
                    error_class=exc.error_class.value,
                    error=str(exc),
                )
                continue
            (result.imported if outcome else result.not_modified).append(feed.feed_id)
    finally:
        store.close()
    return result


def _sync(runtime: Runtime, store: FeedStore, feed: CalendarFeed, now: datetime) -> bool:
    user = runtime.store.get_user(feed.user_id)
    if user is None:
        raise PermanentError(f"user {feed.user_id} of feed {feed.feed_id} no longer exists")
    fetched = fetch_feed(feed.url, etag=feed.etag, last_modified=feed.last_modified)
    if fetched.data is None:
        _record(
            store,
            feed,
            now,
            "not modified",
            etag=fetched.etag,
            last_modified=fetched.last_modified,
        )
        log_event(logger, logging.INFO, "feed.not_modified", feed_id=feed.feed_id)
        return False
    types = load_meeting_types(runtime.settings.meeting_types_file)
    report = import_calendar(
        runtime.store,
        feed.user_id,
        fetched.data,
        zone=user.zone,
        start=now,
        end=now + DEFAULT_WINDOW,
        rules=types.import_rules,
        feed_id=feed.feed_id,
        now=now,
        series=store,
    )
    changes = apply_calendar_changes(runtime, report)
    summary = (
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.cancelled) + len(report.deleted)} cancelled, {report.unchanged} unchanged"
    )
    _record(store, feed, now, summary, etag=fetched.etag, last_modified=fetched.last_modified)
    log_event(
        logger,
        logging.INFO,
        "feed.imported",
        feed_id=feed.feed_id,
        user_id=feed.user_id,
        created=len(report.created),
        moved=len(report.moved),
        deleted=len(report.deleted),
        edited=len(changes.edited),
    )
    return True


def _record(
    store: FeedStore,
    feed: CalendarFeed,
    now: datetime,
    result: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    store.record_check(
        feed.feed_id,
        etag=etag if etag is not None else feed.etag,
        last_modified=last_modified if last_modified is not None else feed.last_modified,
        checked_at=now,
        next_check_at=now + timedelta(minutes=feed.interval_minutes),
        result=result,
    )
