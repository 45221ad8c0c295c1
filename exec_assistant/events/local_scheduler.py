"""One-time delayed events locally: a persistent scheduler loop on a SQLite file.

Implements :class:`~exec_assistant.events.base.Scheduler` like
:class:`~exec_assistant.events.scheduler.EventBridgeScheduler`: ``schedule`` is idempotent by
name, ``cancel`` says whether something was deleted, and a fired schedule is gone (its row is
deleted), so a late ``cancel`` returns False.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from exec_assistant.errors import ConfigurationError, StoreUnavailableError
from exec_assistant.events.base import BusEvent, EventBus, ScheduledEvent
from exec_assistant.logs import log_event
from exec_assistant.models import iso_utc, utcnow
from exec_assistant.sqlite_file import SQLiteFile

logger = logging.getLogger(__name__)

LOCAL_SCHEMA_VERSION = 1

_LOCAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS local_scheduler_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scheduled_events (
    name TEXT PRIMARY KEY,
    fire_at TEXT NOT NULL,
    source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    detail TEXT NOT NULL,
    claimed_by TEXT,
    claimed_until TEXT
);
CREATE INDEX IF NOT EXISTS scheduled_events_due ON scheduled_events(fire_at);
"""


class LocalScheduler:
    """A persistent one-time scheduler on a SQLite file (the embedded store's file works).

    ``run_due`` fires each due event once: it claims the row with a conditional update holding a
    lease, publishes on the bus, then deletes the row. If the publish fails (or the process dies
    mid-publish), the claim is left to expire and the event fires again ``lease_seconds`` later;
    the notification ledger makes such a repeat harmless. The schema version lives in its own
    table, so the scheduler can share a file with the SQLite store.
    """

    def __init__(
        self,
        path: str | Path,
        bus: EventBus,
        *,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 60.0,
    ) -> None:
        self._file = SQLiteFile(path, label="local scheduler file")
        self.path = self._file.path
        self.bus = bus
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._worker = f"sched-{uuid.uuid4().hex[:12]}"
        try:
            self._conn().executescript(_LOCAL_SCHEMA)  # idempotent DDL, outside a transaction
        except sqlite3.Error as exc:
            raise StoreUnavailableError(
                f"cannot prepare scheduler file {self.path}: {exc}"
            ) from exc
        self._check_version()

    # connections -----------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        return self._file.connection()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.transaction()

    def _check_version(self) -> None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT value FROM local_scheduler_meta WHERE key='schema_version'"
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO local_scheduler_meta(key, value) VALUES ('schema_version', ?)",
                    (str(LOCAL_SCHEMA_VERSION),),
                )
            elif int(row[0]) > LOCAL_SCHEMA_VERSION:
                raise ConfigurationError(
                    f"{self.path} has local scheduler schema {row[0]}; this exec-assistant "
                    f"knows {LOCAL_SCHEMA_VERSION}. Upgrade exec-assistant."
                )

    def close(self) -> None:
        self._file.close()

    # Scheduler protocol ----------------------------------------------------------------------

    def schedule(self, item: ScheduledEvent) -> None:
        if item.fire_at.tzinfo is None:
            raise ValueError("fire_at must be timezone-aware")
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO scheduled_events(name, fire_at, source, detail_type, "
                "detail) VALUES (?,?,?,?,?)",
                (
                    item.name,
                    iso_utc(item.fire_at),
                    item.event.source,
                    item.event.detail_type,
                    json.dumps(item.event.detail, default=str),
                ),
            )
        log_event(
            logger,
            logging.INFO,
            "scheduler.created" if cursor.rowcount else "scheduler.exists",
            name=item.name,
            fire_at=iso_utc(item.fire_at),
        )

    def cancel(self, name: str) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM scheduled_events WHERE name=? AND claimed_by IS NULL", (name,)
            )
        if cursor.rowcount:
            log_event(logger, logging.INFO, "scheduler.cancelled", name=name)
        return bool(cursor.rowcount)

    def pending(self, prefix: str = "") -> list[ScheduledEvent]:
        """Schedules not yet fired whose name starts with ``prefix``, by fire time."""
        rows = self._conn().execute(
            "SELECT name, fire_at, source, detail_type, detail FROM scheduled_events "
            "WHERE substr(name, 1, ?) = ? ORDER BY fire_at, name",
            (len(prefix), prefix),
        )
        return [_row_to_item(row) for row in rows.fetchall()]

    def reschedule(self, item: ScheduledEvent) -> bool:
        if item.fire_at.tzinfo is None:
            raise ValueError("fire_at must be timezone-aware")
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE scheduled_events SET fire_at=?, source=?, detail_type=?, detail=? "
                "WHERE name=? AND claimed_by IS NULL",
                (
                    iso_utc(item.fire_at),
                    item.event.source,
                    item.event.detail_type,
                    json.dumps(item.event.detail, default=str),
                    item.name,
                ),
            )
        moved = bool(cursor.rowcount)
        log_event(
            logger,
            logging.INFO,
            "scheduler.rescheduled" if moved else "scheduler.reschedule_missing",
            name=item.name,
            fire_at=iso_utc(item.fire_at),
        )
        return moved

    # firing ----------------------------------------------------------------------------------

    def _claim(self, name: str, now: datetime) -> ScheduledEvent | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT name, fire_at, source, detail_type, detail FROM scheduled_events "
                "WHERE name=? AND fire_at<=? AND (claimed_by IS NULL OR claimed_until<=?)",
                (name, iso_utc(now), iso_utc(now)),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE scheduled_events SET claimed_by=?, claimed_until=? WHERE name=?",
                (self._worker, iso_utc(now + self._lease), name),
            )
        return _row_to_item(row)

    def _delete_fired(self, name: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM scheduled_events WHERE name=? AND claimed_by=?", (name, self._worker)
            )

    def run_due(self, now: datetime | None = None) -> int:
        """Fire every event due at ``now``; return how many fired."""
        now = now or self._clock()
        due = self._conn().execute(
            "SELECT name FROM scheduled_events WHERE fire_at<=? "
            "AND (claimed_by IS NULL OR claimed_until<=?) ORDER BY fire_at, name",
            (iso_utc(now), iso_utc(now)),
        )
        fired = 0
        for (name,) in due.fetchall():
            item = self._claim(name, now)
            if item is None:
                continue  # another worker won the claim
            try:
                self.bus.publish([item.event])
            except Exception as exc:  # noqa: BLE001 - one failing event must not stop the others
                # The claim is kept: the event fires again once the lease expires (a backoff).
                log_event(
                    logger,
                    logging.ERROR,
                    "scheduler.fire_failed",
                    name=name,
                    error_class=getattr(exc, "error_class", "unknown"),
                    error=f"{type(exc).__name__}: {exc}",
                    retry_after_seconds=self._lease.total_seconds(),
                )
                continue
            self._delete_fired(name)
            fired += 1
            log_event(logger, logging.INFO, "scheduler.fired", name=name)
        return fired

    def run_forever(self, stop: threading.Event, interval: float = 5.0) -> None:
        """Fire due events every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.run_due()
            except StoreUnavailableError as exc:
                log_event(logger, logging.ERROR, "scheduler.loop_failed", error=str(exc))
            stop.wait(interval)


def _row_to_item(row: tuple[Any, ...]) -> ScheduledEvent:
    name, fire_at, source, detail_type, detail = row
    return ScheduledEvent(
        name=name,
        fire_at=datetime.fromisoformat(str(fire_at).replace("Z", "+00:00")),
        event=BusEvent(source=source, detail_type=detail_type, detail=json.loads(detail)),
    )
