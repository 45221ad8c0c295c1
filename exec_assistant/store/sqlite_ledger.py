"""The notification ledger on SQLite: one row per key (meeting + prep cycle), its JSON document.

Each ledger write reads and writes the row inside one ``BEGIN IMMEDIATE`` transaction, which
makes it atomic across threads and processes sharing the file. What a claim finds and what a
refused write means are the shared rules of :mod:`exec_assistant.store.ledger_rules`, so both
stores answer alike (a resent write of one's own is a success on SQLite too).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

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
    ReceiptResult,
    iso_utc,
)
from exec_assistant.store import ledger_rules
from exec_assistant.store.sqlite_base import SQLiteBase


class SQLiteLedger(SQLiteBase):
    """The ledger methods of the Store protocol (see :mod:`exec_assistant.store.base`)."""

    # notification ledger ---------------------------------------------------------------------

    @staticmethod
    def _read_record(conn: sqlite3.Connection, key: str) -> LedgerRecord | None:
        row = conn.execute("SELECT data FROM notifications WHERE key=?", (key,)).fetchone()
        return LedgerRecord.model_validate_json(row[0]) if row else None

    @staticmethod
    def _insert_record(conn: sqlite3.Connection, record: LedgerRecord) -> None:
        conn.execute(
            "INSERT INTO notifications(key, meeting_id, expires_at, data) VALUES (?,?,?,?)",
            (record.key, record.meeting_id, iso_utc(record.expires_at), record.model_dump_json()),
        )

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
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if record is None:
                record = ledger_rules.new_record(
                    key, meeting_id, owner=owner, now=now, lease_until=lease_until
                )
                self._insert_record(conn, record)
                return Claim(outcome=ClaimOutcome.WON, record=record)
            if ledger_rules.claim_outcome(record, now) is not None:
                return ledger_rules.refused_claim(record, owner=owner, now=now)
            record = ledger_rules.taken_over(record, owner=owner, now=now, lease_until=lease_until)
            self._rewrite_record(conn, record)
            return Claim(outcome=ClaimOutcome.RECOVERED, record=record)

    def record_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if (
                record is None
                or not ledger_rules.owned_by(record, owner)
                or attempt.seq != len(record.attempts)
            ):
                ledger_rules.check_refused_append(key, record, owner, attempt)
                return
            self._rewrite_record(
                conn, record.model_copy(update={"attempts": [*record.attempts, attempt]})
            )

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
    ) -> LedgerRecord:
        ledger_rules.check_finish_args(state, completed)
        with self._tx() as conn:
            record = self._read_record(conn, key)
            if (
                record is None
                or not ledger_rules.owned_by(record, owner)
                or (completed is not None and completed.seq >= len(record.attempts))
            ):
                return ledger_rules.check_refused_finish(key, record, owner, state, completed)
            attempts = list(record.attempts)
            if completed is not None:
                attempts[completed.seq] = completed
            record = record.model_copy(
                update={
                    "attempts": attempts,
                    "state": state,
                    "delivered_channel": delivered_channel,
                    "lease_expires_at": now,
                    "updated_at": now,
                }
            )
            self._rewrite_record(conn, record)
            self._index_receipt_id(conn, record, completed)
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
