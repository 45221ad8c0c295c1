"""The notification ledger on SQLite: one row per key (meeting + prep cycle), its JSON document.

The writes of a delivery are conditional statements, as on DynamoDB: a new key's claim is one
``INSERT ... ON CONFLICT DO NOTHING``, an attempt is appended and a claim finished by one
``UPDATE`` whose ``WHERE`` holds the condition (this owner's live claim, the attempt's place)
and whose ``SET`` edits the document with JSON1 (``json_insert``/``json_set``) — no read, no
re-validation and no re-serialisation of the whole record in Python. A statement is atomic on
its own; the finish runs in a ``BEGIN IMMEDIATE`` transaction with what rides on it (the
receipt id, the meeting's mark). The other writes read and write the row inside one ``BEGIN
IMMEDIATE`` transaction. Either way the write is atomic across threads and processes sharing
the file. What a claim finds and what a refused write means are the shared rules of
:mod:`exec_assistant.store.ledger_rules`, read from the row as it is when a condition refused
(a resent write of one's own is a success on SQLite too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from exec_assistant.models import (
    Acknowledgement,
    AckResult,
    Channel,
    Claim,
    ClaimOutcome,
    DeliveryAttempt,
    DeliveryReceipt,
    LedgerRecord,
    LedgerState,
    MeetingStatus,
    NotificationStatus,
    ParkedReceipt,
    ReceiptResult,
    allowed_sources,
    iso_utc,
)
from exec_assistant.store import ledger_rules
from exec_assistant.store.base import MeetingMark
from exec_assistant.store.sqlite_base import SQLiteBase

#: The condition of every write after the claim: ``owner`` (bound first) holds a live claim.
_OWNED = "key=? AND json_extract(data, '$.owner')=? AND json_extract(data, '$.state')=?"
_ATTEMPTS = "json_array_length(data, '$.attempts')"
_IN_PROGRESS = LedgerState.IN_PROGRESS.value
#: ``record_attempt``: the attempt appended where ``seq`` (bound last) is the next place.
_APPEND = (
    "UPDATE notifications SET data=json_insert(data, '$.attempts[#]', json(?)) "  # noqa: S608
    f"WHERE {_OWNED} AND {_ATTEMPTS}=?"
)

#: The meeting's notification fields, set in its document by one ``json_set``.
_NOTIFICATION_FIELDS = (
    "json_set(data, '$.notification_status', ?, '$.notification_channel', ?, "
    "'$.notification_cycle', ?, '$.notified_at', ?, '$.updated_at', ?"
)


def set_meeting_notification(
    conn: sqlite3.Connection,
    meeting_id: str,
    *,
    status: NotificationStatus,
    channel: Channel | None,
    cycle: str,
    at: datetime,
    move_to: MeetingStatus | None,
    move_from: Sequence[MeetingStatus] | None,
) -> bool | None:
    """``Store.record_meeting_notification``'s meeting write, in the caller's transaction, as
    conditional statements (DynamoDB's ``_move_with`` then the fields alone): the status moves
    only from where ``move_to`` is allowed (and from ``move_from``). Returns whether it moved;
    None if there is no such meeting. Only ``status`` among the indexed columns is SET, and
    only when it moves."""
    values = (status.value, channel.value if channel else None, cycle, iso_utc(at), iso_utc(at))
    sources = allowed_sources(move_to) if move_to is not None else frozenset()
    if move_from is not None:
        sources &= frozenset(move_from)
    if move_to is not None and sources:
        marks = ", ".join("?" * len(sources))
        moved = conn.execute(
            f"UPDATE meetings SET status=?, data={_NOTIFICATION_FIELDS}, '$.status', ?) "  # noqa: S608
            f"WHERE meeting_id=? AND status IN ({marks})",
            (move_to.value, *values, move_to.value, meeting_id, *sorted(s.value for s in sources)),
        ).rowcount
        if moved:
            return True
    updated = conn.execute(
        f"UPDATE meetings SET data={_NOTIFICATION_FIELDS}) WHERE meeting_id=?",  # noqa: S608
        (*values, meeting_id),
    ).rowcount
    return False if updated else None


class SQLiteLedger(SQLiteBase):
    """The ledger methods of the Store protocol (see :mod:`exec_assistant.store.base`)."""

    # notification ledger ---------------------------------------------------------------------

    @staticmethod
    def _read_record(conn: sqlite3.Connection, key: str) -> LedgerRecord | None:
        row = conn.execute("SELECT data FROM notifications WHERE key=?", (key,)).fetchone()
        return LedgerRecord.model_validate_json(row[0]) if row else None

    _INSERT = "INSERT INTO notifications(key, meeting_id, expires_at, data) VALUES (?,?,?,?)"
    _INSERT_NEW = _INSERT + " ON CONFLICT(key) DO NOTHING"

    @staticmethod
    def _insert_values(record: LedgerRecord) -> tuple[str, str, str, str]:
        return (record.key, record.meeting_id, iso_utc(record.expires_at), record.model_dump_json())

    @classmethod
    def _insert_record(cls, conn: sqlite3.Connection, record: LedgerRecord) -> None:
        conn.execute(cls._INSERT, cls._insert_values(record))

    @staticmethod
    def _rewrite_record(conn: sqlite3.Connection, record: LedgerRecord) -> None:
        """Store ``record``, read in this transaction with the same key, meeting and expiry:
        only its document changes, so no index is touched."""
        conn.execute(
            "UPDATE notifications SET data=? WHERE key=?", (record.model_dump_json(), record.key)
        )

    @staticmethod
    def _index_receipt_id(
        conn: sqlite3.Connection, record: LedgerRecord, attempt: DeliveryAttempt | None
    ) -> None:
        """Make a delivered SMS/email attempt findable by provider id, in the same transaction."""
        provider_id = ledger_rules.receipt_provider_id(attempt)
        if provider_id is not None:
            conn.execute(
                "INSERT OR REPLACE INTO notification_receipt_ids(provider_id, key, expires_at) "
                "VALUES (?,?,?)",
                (provider_id, record.key, iso_utc(record.expires_at)),
            )

    @staticmethod
    def _mark_meeting_recorded(conn: sqlite3.Connection, key: str, at: datetime) -> None:
        """Set ``meeting_recorded_at`` on the record ``key`` (if any) in the caller's transaction;
        JSON1's ``json_set`` edits the document in place (no index column changes)."""
        conn.execute(
            "UPDATE notifications SET data=json_set(data, '$.meeting_recorded_at', ?) WHERE key=?",
            (iso_utc(at), key),
        )

    def claim_notification(
        self,
        key: str,
        meeting_id: str,
        *,
        owner: str,
        now: datetime,
        lease_seconds: float,
    ) -> Claim:
        lease_until = now + timedelta(seconds=lease_seconds)
        fresh = ledger_rules.new_record(
            key, meeting_id, owner=owner, now=now, lease_until=lease_until
        )
        # A new key (the usual case) is one statement; one that exists is decided below.
        if self._write(self._INSERT_NEW, self._insert_values(fresh)):
            return Claim(outcome=ClaimOutcome.WON, record=fresh)
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if record is None:  # purged since the INSERT found it
                self._insert_record(conn, fresh)
                return Claim(outcome=ClaimOutcome.WON, record=fresh)
            if ledger_rules.claim_outcome(record, now) is not None:
                return ledger_rules.refused_claim(record, owner=owner, now=now)
            record = ledger_rules.taken_over(record, owner=owner, now=now, lease_until=lease_until)
            self._rewrite_record(conn, record)
            return Claim(outcome=ClaimOutcome.RECOVERED, record=record)

    def record_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        appended = self._write(
            _APPEND,
            (attempt.model_dump_json(), key, owner, _IN_PROGRESS, attempt.seq),
        )
        if not appended:
            ledger_rules.check_refused_append(key, self.get_notification(key), owner, attempt)

    def complete_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if (
                record is None
                or not ledger_rules.owned_by(record, owner)
                or not 0 <= attempt.seq < len(record.attempts)
            ):
                ledger_rules.check_refused_complete(key, record, owner, attempt)
                return
            attempts = list(record.attempts)
            attempts[attempt.seq] = attempt
            self._rewrite_record(conn, record.model_copy(update={"attempts": attempts}))
            self._index_receipt_id(conn, record, attempt)

    def finish_notification(
        self,
        key: str,
        *,
        owner: str,
        state: LedgerState,
        delivered_channel: Channel | None,
        now: datetime,
        completed: DeliveryAttempt | None = None,
        mark: MeetingMark | None = None,
    ) -> LedgerRecord:
        ledger_rules.check_finish_args(state, completed, marks_meeting=mark is not None)
        edits = "json_set(data, '$.state', ?, '$.delivered_channel', ?, "
        edits += "'$.lease_expires_at', ?, '$.updated_at', ?"
        channel = delivered_channel.value if delivered_channel is not None else None
        values: list[Any] = [state.value, channel, iso_utc(now), iso_utc(now)]
        condition = _OWNED
        params: list[Any] = [key, owner, _IN_PROGRESS]
        if completed is not None:  # the delivering attempt's completion lands with the state
            edits += ", ?, json(?)"
            values += [f"$.attempts[{int(completed.seq)}]", completed.model_dump_json()]
            condition += f" AND {_ATTEMPTS}>?"
            params.append(completed.seq)
        with self._tx() as conn:
            finished = conn.execute(
                f"UPDATE notifications SET data={edits}) WHERE {condition}",  # noqa: S608
                (*values, *params),
            ).rowcount
            record = self._read_record(conn, key)
            if not finished:
                return ledger_rules.check_refused_finish(key, record, owner, state, completed)
            assert record is not None  # just written, in this transaction
            self._index_receipt_id(conn, record, completed)
            if mark is not None:
                at = ledger_rules.delivered_at(record)
                meeting = set_meeting_notification(
                    conn,
                    record.meeting_id,
                    status=NotificationStatus.DELIVERED,
                    channel=delivered_channel,
                    cycle=mark.cycle,
                    at=at,
                    move_to=mark.move_to,
                    move_from=mark.move_from,
                )
                if meeting is not None:
                    self._mark_meeting_recorded(conn, key, at)
                    record = record.model_copy(update={"meeting_recorded_at": at})
        return record

    def acknowledge_notification(self, key: str, acknowledgement: Acknowledgement) -> AckResult:
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if record is None or record.acknowledgement is not None:
                return ledger_rules.refused_acknowledgement(key, record, acknowledgement)
            self._rewrite_record(
                conn, record.model_copy(update={"acknowledgement": acknowledgement})
            )
        return AckResult(recorded=True, acknowledgement=acknowledgement)

    def record_receipt(
        self, key: str, *, seq: int, provider_id: str, receipt: DeliveryReceipt
    ) -> ReceiptResult:
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if record is None or not ledger_rules.receipt_applies(
                record, seq, provider_id, receipt
            ):
                return ledger_rules.refused_receipt(key, record, seq, provider_id, receipt)
            attempts = list(record.attempts)
            attempts[seq] = attempts[seq].model_copy(update={"receipt": receipt})
            self._rewrite_record(conn, record.model_copy(update={"attempts": attempts}))
        return ReceiptResult(recorded=True, receipt=receipt)

    def park_receipt(self, key: str, parked: ParkedReceipt) -> bool:
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if record is None or not ledger_rules.park_applies(record, parked):
                return ledger_rules.refused_park(key, record, parked)
            early = [*record.early_receipts, parked]
            self._rewrite_record(conn, record.model_copy(update={"early_receipts": early}))
        return True

    def notification_for_provider_id(self, provider_id: str) -> LedgerRecord | None:
        rows = self._query(
            "SELECT key FROM notification_receipt_ids WHERE provider_id=?", (provider_id,)
        )
        return self.get_notification(rows[0][0]) if rows else None

    def get_notification(self, key: str) -> LedgerRecord | None:
        rows = self._query("SELECT data FROM notifications WHERE key=?", (key,))
        return LedgerRecord.model_validate_json(rows[0][0]) if rows else None

    def list_notifications_for_meeting(self, meeting_id: str) -> list[LedgerRecord]:
        rows = self._query(
            "SELECT data FROM notifications WHERE meeting_id=? ORDER BY key", (meeting_id,)
        )
        return sorted(
            (LedgerRecord.model_validate_json(r[0]) for r in rows), key=lambda r: r.created_at
        )
