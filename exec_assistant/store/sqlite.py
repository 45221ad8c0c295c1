"""SQLite store: the embedded default (stdlib sqlite3, WAL, one file, schema versioned).

Each model is kept as its JSON document plus the columns the queries need. Every read-check-write
runs inside ``BEGIN IMMEDIATE``, which takes SQLite's write lock up front: that makes the
conditional writes (status transitions, ledger claims) atomic across threads *and* processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from exec_assistant.errors import (
    NotFoundError,
)
from exec_assistant.models import (
    ALLOWED_TRANSITIONS,
    CALENDAR_FIELDS,
    Channel,
    ChatMessage,
    ChatSession,
    ChatState,
    Meeting,
    MeetingStatus,
    NotificationStatus,
    User,
    chat_session_id_for,
    iso_utc,
)
from exec_assistant.store.base import MAX_PREP_WINDOW
from exec_assistant.store.sqlite_base import SCHEMA_VERSION
from exec_assistant.store.sqlite_ledger import SQLiteLedger, set_meeting_notification

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]


def _sql_limit(limit: int | None) -> int:
    """SQLite's ``LIMIT`` for an optional limit (-1: none)."""
    if limit is None:
        return -1
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return limit


class SQLiteStore(SQLiteLedger):
    """The :class:`~exec_assistant.store.base.Store` on one SQLite file: users, meetings and chat
    sessions here; the file, schema and connections in :mod:`.sqlite_base`; the ledger in
    :mod:`.sqlite_ledger`."""

    # users -----------------------------------------------------------------------------------

    def put_user(self, user: User) -> User:
        with self._tx() as conn:
            row = conn.execute("SELECT data FROM users WHERE user_id=?", (user.user_id,)).fetchone()
            if row is not None:
                user = user.model_copy(
                    update={"created_at": User.model_validate_json(row[0]).created_at}
                )
            conn.execute(
                "INSERT INTO users(user_id, slack_user_id, data) VALUES (?,?,?) "
                "ON CONFLICT(user_id) DO UPDATE SET slack_user_id=excluded.slack_user_id, "
                "data=excluded.data",
                (user.user_id, user.slack_user_id, user.model_dump_json()),
            )
        return user

    def get_user(self, user_id: str) -> User | None:
        rows = self._query("SELECT data FROM users WHERE user_id=?", (user_id,))
        return User.model_validate_json(rows[0][0]) if rows else None

    def get_user_by_slack_id(self, slack_user_id: str) -> User | None:
        rows = self._query("SELECT data FROM users WHERE slack_user_id=? LIMIT 1", (slack_user_id,))
        return User.model_validate_json(rows[0][0]) if rows else None

    def list_users(self) -> list[User]:
        rows = self._query("SELECT data FROM users ORDER BY user_id")
        return [User.model_validate_json(r[0]) for r in rows]

    def delete_user(self, user_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM users WHERE user_id=?", (user_id,)).rowcount > 0

    # meetings --------------------------------------------------------------------------------

    @staticmethod
    def _write_meeting(conn: sqlite3.Connection, meeting: Meeting) -> None:
        conn.execute(
            "INSERT INTO meetings(meeting_id, user_id, status, start_time, prep_opens_at, data) "
            "VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(meeting_id) DO UPDATE SET user_id=excluded.user_id, "
            "status=excluded.status, start_time=excluded.start_time, "
            "prep_opens_at=excluded.prep_opens_at, data=excluded.data",
            (
                meeting.meeting_id,
                meeting.user_id,
                meeting.status.value,
                iso_utc(meeting.start_time),
                iso_utc(meeting.prep_window_start),
                meeting.model_dump_json(),
            ),
        )

    @staticmethod
    def _rewrite_meeting(
        conn: sqlite3.Connection, meeting: Meeting, update: dict[str, Any]
    ) -> None:
        """Store ``meeting`` (read in this transaction) with ``update`` applied, which never
        changes its ids or start time. Only the columns that change are SET: SQLite rewrites an
        index only when a column it covers is SET, so fewer pages go to the WAL per commit."""
        new = meeting.model_copy(update=update)
        if new.status == meeting.status:
            conn.execute(
                "UPDATE meetings SET data=? WHERE meeting_id=?",
                (new.model_dump_json(), new.meeting_id),
            )
        else:
            conn.execute(
                "UPDATE meetings SET status=?, data=? WHERE meeting_id=?",
                (new.status.value, new.model_dump_json(), new.meeting_id),
            )

    @staticmethod
    def _read_meeting(conn: sqlite3.Connection, meeting_id: str) -> Meeting | None:
        row = conn.execute("SELECT data FROM meetings WHERE meeting_id=?", (meeting_id,)).fetchone()
        return Meeting.model_validate_json(row[0]) if row else None

    def upsert_meeting_calendar(self, meeting: Meeting) -> Meeting:
        with self._tx() as conn:
            existing = self._read_meeting(conn, meeting.meeting_id)
            if existing is None:
                stored = meeting
            else:
                changes = {f: getattr(meeting, f) for f in CALENDAR_FIELDS}
                changes["updated_at"] = meeting.updated_at
                stored = Meeting.model_validate(existing.model_dump() | changes)
            self._write_meeting(conn, stored)
        return stored

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        rows = self._query("SELECT data FROM meetings WHERE meeting_id=?", (meeting_id,))
        return Meeting.model_validate_json(rows[0][0]) if rows else None

    def get_meeting_and_user(
        self, meeting_id: str, user_id: str
    ) -> tuple[Meeting | None, User | None]:
        rows = self._query(
            "SELECT (SELECT data FROM meetings WHERE meeting_id=?), "
            "(SELECT data FROM users WHERE user_id=?)",
            (meeting_id, user_id),
        )
        meeting, user = rows[0]
        return (
            Meeting.model_validate_json(meeting) if meeting is not None else None,
            User.model_validate_json(user) if user is not None else None,
        )

    def delete_meeting(self, meeting_id: str) -> bool:
        with self._tx() as conn:
            deleted = conn.execute("DELETE FROM meetings WHERE meeting_id=?", (meeting_id,))
            return deleted.rowcount > 0

    def list_meetings_for_user(
        self,
        user_id: str,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
        exclude: Collection[MeetingStatus] = (),
    ) -> list[Meeting]:
        excluded = sorted(s.value for s in exclude)
        # only "?" placeholders are formatted in; every value is bound
        sql = (
            "SELECT data FROM meetings WHERE user_id=? AND start_time>=? AND start_time<? AND "  # noqa: S608
            f"status NOT IN ({', '.join('?' * len(excluded))}) "
            "ORDER BY start_time, meeting_id LIMIT ?"
        )
        rows = self._query(
            sql, (user_id, iso_utc(start_from), iso_utc(start_until), *excluded, _sql_limit(limit))
        )
        return [Meeting.model_validate_json(r[0]) for r in rows]

    def list_meetings_by_status(
        self,
        status: MeetingStatus,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
    ) -> list[Meeting]:
        rows = self._query(
            "SELECT data FROM meetings WHERE status=? AND start_time>=? AND start_time<? "
            "ORDER BY start_time, meeting_id LIMIT ?",
            (status.value, iso_utc(start_from), iso_utc(start_until), _sql_limit(limit)),
        )
        return [Meeting.model_validate_json(r[0]) for r in rows]

    def list_meetings_in_prep_window(
        self, status: MeetingStatus, now: datetime, *, limit: int | None = None
    ) -> list[Meeting]:
        at = iso_utc(now)
        rows = self._query(
            "SELECT data FROM meetings WHERE status=? AND prep_opens_at>? AND prep_opens_at<=? "
            "AND start_time>? ORDER BY prep_opens_at, meeting_id LIMIT ?",
            (status.value, iso_utc(now - MAX_PREP_WINDOW), at, at, _sql_limit(limit)),
        )
        return [Meeting.model_validate_json(r[0]) for r in rows]

    def transition_meeting(
        self,
        meeting_id: str,
        to_status: MeetingStatus,
        *,
        now: datetime,
        expected: Sequence[MeetingStatus] | None = None,
        chat_session_id: str | None = None,
    ) -> bool:
        with self._tx() as conn:
            meeting = self._read_meeting(conn, meeting_id)
            if meeting is None:
                raise NotFoundError(f"meeting {meeting_id} not found")
            if to_status not in ALLOWED_TRANSITIONS[meeting.status]:
                return False
            if expected is not None and meeting.status not in expected:
                return False
            update: dict[str, Any] = {"status": to_status, "updated_at": now}
            if chat_session_id is not None:
                update["chat_session_id"] = chat_session_id
            self._rewrite_meeting(conn, meeting, update)
        return True

    def record_meeting_notification(
        self,
        meeting_id: str,
        *,
        status: NotificationStatus,
        channel: Channel | None,
        cycle: str,
        at: datetime,
        move_to: MeetingStatus | None = None,
        move_from: Sequence[MeetingStatus] | None = None,
        key: str | None = None,
    ) -> bool:
        with self._tx() as conn:
            moved = set_meeting_notification(
                conn,
                meeting_id,
                status=status,
                channel=channel,
                cycle=cycle,
                at=at,
                move_to=move_to,
                move_from=move_from,
            )
            if moved is None:
                raise NotFoundError(f"meeting {meeting_id} not found")
            if key is not None:
                self._mark_meeting_recorded(conn, key, at)
        return moved

    def save_meeting_brief(self, meeting_id: str, brief: str, *, now: datetime) -> None:
        with self._tx() as conn:
            meeting = self._read_meeting(conn, meeting_id)
            if meeting is None:
                raise NotFoundError(f"meeting {meeting_id} not found")
            self._rewrite_meeting(conn, meeting, {"brief": brief, "updated_at": now})

    # chat sessions ---------------------------------------------------------------------------

    @staticmethod
    def _write_session(conn: sqlite3.Connection, session: ChatSession) -> None:
        conn.execute(
            "INSERT INTO chat_sessions(session_id, meeting_id, slack_user_id, state, updated_at, "
            "data) VALUES (?,?,?,?,?,?) ON CONFLICT(session_id) DO UPDATE SET "
            "state=excluded.state, updated_at=excluded.updated_at, data=excluded.data",
            (
                session.session_id,
                session.meeting_id,
                session.slack_user_id,
                session.state.value,
                iso_utc(session.updated_at),
                session.model_dump_json(),
            ),
        )

    @staticmethod
    def _read_session(conn: sqlite3.Connection, session_id: str) -> ChatSession | None:
        row = conn.execute(
            "SELECT data FROM chat_sessions WHERE session_id=?", (session_id,)
        ).fetchone()
        return ChatSession.model_validate_json(row[0]) if row else None

    def create_chat_session(self, session: ChatSession) -> tuple[ChatSession, bool]:
        if session.session_id != chat_session_id_for(session.meeting_id):
            raise ValueError(
                f"session_id must be chat_session_id_for(meeting_id) = "
                f"{chat_session_id_for(session.meeting_id)!r} (one session per meeting)"
            )
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM chat_sessions WHERE meeting_id=? OR session_id=?",
                (session.meeting_id, session.session_id),
            ).fetchone()
            if row is not None:
                return ChatSession.model_validate_json(row[0]), False
            self._write_session(conn, session)
        return session, True

    def get_chat_session(self, session_id: str) -> ChatSession | None:
        rows = self._query("SELECT data FROM chat_sessions WHERE session_id=?", (session_id,))
        return ChatSession.model_validate_json(rows[0][0]) if rows else None

    def get_active_chat_session(self, slack_user_id: str) -> ChatSession | None:
        rows = self._query(
            "SELECT data FROM chat_sessions WHERE slack_user_id=? AND state=? "
            "ORDER BY updated_at DESC LIMIT 1",
            (slack_user_id, ChatState.ACTIVE.value),
        )
        return ChatSession.model_validate_json(rows[0][0]) if rows else None

    def append_chat_message(self, session_id: str, message: ChatMessage, *, now: datetime) -> None:
        with self._tx() as conn:
            session = self._read_session(conn, session_id)
            if session is None:
                raise NotFoundError(f"chat session {session_id} not found")
            self._write_session(
                conn,
                session.model_copy(
                    update={"messages": [*session.messages, message], "updated_at": now}
                ),
            )

    def advance_chat_session(
        self,
        session_id: str,
        *,
        expected_step: int,
        step: int,
        prep_answers: dict[str, str],
        state: ChatState,
        now: datetime,
    ) -> bool:
        with self._tx() as conn:
            session = self._read_session(conn, session_id)
            if session is None:
                raise NotFoundError(f"chat session {session_id} not found")
            if session.step != expected_step or session.state != ChatState.ACTIVE:
                return False
            self._write_session(
                conn,
                session.model_copy(
                    update={
                        "step": step,
                        "prep_answers": dict(prep_answers),
                        "state": state,
                        "updated_at": now,
                    }
                ),
            )
        return True
