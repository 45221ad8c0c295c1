"""The SQLite store's file and schema: connections, ``BEGIN IMMEDIATE`` transactions, queries.

The schema version is kept in ``PRAGMA user_version``; a file written by a newer exec-assistant is
refused (:class:`~exec_assistant.errors.ConfigurationError`: upgrade) rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from exec_assistant.errors import ConfigurationError
from exec_assistant.sqlite_file import SQLiteFile

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    slack_user_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_slack ON users(slack_user_id);
CREATE TABLE IF NOT EXISTS meetings (
    meeting_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time TEXT NOT NULL,
    data TEXT NOT NULL,
    prep_opens_at TEXT  -- version 3: start_time - prep_hours_before (see _add_prep_opens_at)
);
-- The listings order by (start_time, meeting_id): with meeting_id in the index a LIMIT stops
-- the index walk early instead of sorting the whole window (the first indexes lacked it).
DROP INDEX IF EXISTS meetings_owner_start;
DROP INDEX IF EXISTS meetings_status_start;
CREATE INDEX IF NOT EXISTS meetings_owner_start_id ON meetings(user_id, start_time, meeting_id);
CREATE INDEX IF NOT EXISTS meetings_status_start_id ON meetings(status, start_time, meeting_id);
CREATE TABLE IF NOT EXISTS chat_sessions (
    session_id TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL UNIQUE,
    slack_user_id TEXT,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_active ON chat_sessions(slack_user_id, state, updated_at);
CREATE TABLE IF NOT EXISTS notifications (
    key TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_meeting ON notifications(meeting_id);
-- Version 2: delivered SMS/email attempts by provider id (Twilio SID, SES MessageId), written in
-- the transaction that records the delivery, so a delivery receipt finds its ledger record.
CREATE TABLE IF NOT EXISTS notification_receipt_ids (
    provider_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""

#: Version 3: when each meeting's prep window opens, indexed with its status, so the calendar
#: monitor reads only the meetings whose window is open (``list_meetings_in_prep_window``).
#: A file from before gets the column, filled from each meeting's document.
_PREP_WINDOW_INDEX = (
    "CREATE INDEX IF NOT EXISTS meetings_status_prep_id "
    "ON meetings(status, prep_opens_at, meeting_id)"
)


def _add_prep_opens_at(conn: sqlite3.Connection) -> None:
    from exec_assistant.models import Meeting, iso_utc

    columns = {row[1] for row in conn.execute("PRAGMA table_info(meetings)")}
    if "prep_opens_at" not in columns:
        conn.execute("ALTER TABLE meetings ADD COLUMN prep_opens_at TEXT")
    rows = conn.execute("SELECT data FROM meetings WHERE prep_opens_at IS NULL").fetchall()
    for (data,) in rows:
        meeting = Meeting.model_validate_json(data)
        conn.execute(
            "UPDATE meetings SET prep_opens_at=? WHERE meeting_id=?",
            (iso_utc(meeting.prep_window_start), meeting.meeting_id),
        )
    conn.execute(_PREP_WINDOW_INDEX)


class SQLiteBase:
    """One SQLite file with the store's schema: connections, transactions, queries."""

    def __init__(self, path: str | Path) -> None:
        self._file = SQLiteFile(path, label="SQLite store")
        self.path = self._file.path
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:  # permanent: retrying cannot help, upgrading can
            self.close()
            raise ConfigurationError(
                f"{self.path} has schema version {version}; this exec-assistant knows "
                f"{SCHEMA_VERSION}. Upgrade exec-assistant."
            )
        if version < SCHEMA_VERSION:
            conn.executescript(_SCHEMA)  # idempotent DDL
            with self._tx() as tx:
                _add_prep_opens_at(tx)
                tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # connection handling ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        return self._file.connection()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.transaction()

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._file.write(sql, params)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._file.query(sql, params)

    def close(self) -> None:
        self._file.close()
