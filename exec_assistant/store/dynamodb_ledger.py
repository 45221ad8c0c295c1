"""The notification ledger on DynamoDB: one item per key (meeting + prep cycle).

Each write is one conditional ``UpdateItem`` on the base table, so it is atomic per item. The
answer to a write can be lost after DynamoDB applied it (a reset connection): botocore then
sends it again, and the second one finds its own first one and is refused. Every refused write
reads the item as it is (``ReturnValuesOnConditionCheckFailure``, or a consistent ``GetItem``)
and asks :mod:`exec_assistant.store.ledger_rules` whether it shows this owner's write: if so,
the write succeeded and the caller goes on as if the first answer had arrived.

Delivery receipts find their record through a small mapping item in the same table, written
just before the write that records a delivered SMS or email: key ``receipt-id#<provider id>``
(:data:`RECEIPT_ID_PREFIX`; a ledger key is ``<meeting>#prep…`` or ``<meeting>#reminder:…``, and
no provider id is ``prep…`` or ``reminder:…``), attribute ``target_key``, the ledger's TTL. Not a
GSI: a list element (the attempt's provider id) cannot be indexed, a GSI read is eventually
consistent (a fast receipt could miss a fresh delivery), and the table's schema stays as
deployed. The cost is one PutItem per delivered SMS or email (none for Slack). Written first, so
whenever the ledger shows the provider id the mapping exists; a mapping whose record write then
failed points at a record without that id, which ``record_receipt`` refuses as not found.
"""

from __future__ import annotations

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
    ParkedReceipt,
    ReceiptResult,
)
from exec_assistant.store import ledger_rules
from exec_assistant.store.base import LEDGER_RETENTION_DAYS, MeetingMark
from exec_assistant.store.dynamodb_codec import (
    ConditionFailed,
    Expr,
    Item,
    epoch,
    parse_item,
    to_av,
)
from exec_assistant.store.dynamodb_tables import (
    LEDGER_KEY_ATTR,
    NOTIFICATIONS_MEETING_INDEX,
    TTL_ATTR,
    DynamoDBTables,
)

#: Key prefix of the provider-id mapping items (see the module docstring).
RECEIPT_ID_PREFIX = "receipt-id#"


class DynamoDBLedger(DynamoDBTables):
    """The ledger methods of the Store protocol (see :mod:`exec_assistant.store.base`)."""

    @staticmethod
    def _record(item: Item) -> LedgerRecord:
        return parse_item(LedgerRecord, item, {LEDGER_KEY_ATTR: "key"})

    @classmethod
    def _refused_record(cls, exc: ConditionFailed) -> LedgerRecord | None:
        return cls._record(exc.item) if exc.item else None

    @staticmethod
    def _owned(expr: Expr, owner: str) -> str:
        return (
            f"{expr.n('owner')} = {expr.v(owner)} AND "
            f"{expr.n('state')} = {expr.v(LedgerState.IN_PROGRESS.value)}"
        )

    def _index_receipt_id(self, key: str, attempt: DeliveryAttempt | None) -> None:
        """Write the provider-id mapping of a delivered SMS/email attempt (idempotent)."""
        provider_id = ledger_rules.receipt_provider_id(attempt)
        if provider_id is None or attempt is None:
            return
        expires = (attempt.completed_at or attempt.started_at) + timedelta(
            days=LEDGER_RETENTION_DAYS
        )
        item: dict[str, Any] = {
            LEDGER_KEY_ATTR: RECEIPT_ID_PREFIX + provider_id,
            "target_key": key,
            TTL_ATTR: epoch(expires),
        }
        self._call("put_item", "notifications", Item={k: to_av(v) for k, v in item.items()})

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
        expr = Expr()
        state, lease = expr.n("state"), expr.n("lease_expires_at")
        # One conditional write decides: a new key, a released claim or an expired lease is ours.
        # The creation-only attributes are set with if_not_exists, so a taken-over record keeps
        # its own (its attempts among them).
        condition = (
            f"attribute_not_exists({expr.n(LEDGER_KEY_ATTR)}) "
            f"OR {state} = {expr.v(LedgerState.RELEASED.value)} "
            f"OR ({state} = {expr.v(LedgerState.IN_PROGRESS.value)} AND {lease} <= {expr.v(now)})"
        )
        expr.set("state", LedgerState.IN_PROGRESS.value)
        expr.set("owner", owner)
        expr.set("lease_expires_at", lease_until)
        expr.set("updated_at", now)
        dumped = fresh.model_dump()
        for name in ("meeting_id", "created_at", "expires_at", "attempts"):
            expr.set_if_absent(name, dumped[name])
        expr.set_if_absent(TTL_ATTR, epoch(fresh.expires_at))
        try:
            old = self._update("notifications", key, expr, condition, return_values="ALL_OLD")
        except ConditionFailed as exc:
            record = self._refused_record(exc)
            if record is None:  # expired (TTL) between the refusal and the read: try again
                return self.claim_notification(
                    key, meeting_id, owner=owner, now=now, lease_seconds=lease_seconds
                )
            return ledger_rules.refused_claim(record, owner=owner, now=now)
        if not old:
            return Claim(outcome=ClaimOutcome.WON, record=fresh)
        return Claim(
            outcome=ClaimOutcome.RECOVERED,
            record=ledger_rules.taken_over(
                self._record(old), owner=owner, now=now, lease_until=lease_until
            ),
        )

    def record_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        expr = Expr()
        attempts = expr.n("attempts")
        condition = f"{self._owned(expr, owner)} AND size({attempts}) = {expr.v(attempt.seq)}"
        expr.sets.append(f"{attempts} = list_append({attempts}, {expr.v([attempt.model_dump()])})")
        try:
            self._update("notifications", key, expr, condition)
        except ConditionFailed as exc:
            ledger_rules.check_refused_append(key, self._refused_record(exc), owner, attempt)

    def complete_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        if attempt.seq < 0:
            raise ValueError(f"attempt seq {attempt.seq} was never recorded")
        self._index_receipt_id(key, attempt)
        expr = Expr()
        attempts = expr.n("attempts")
        condition = f"{self._owned(expr, owner)} AND size({attempts}) > {expr.v(attempt.seq)}"
        expr.sets.append(f"{attempts}[{int(attempt.seq)}] = {expr.v(attempt.model_dump())}")
        try:
            self._update("notifications", key, expr, condition)
        except ConditionFailed as exc:
            ledger_rules.check_refused_complete(key, self._refused_record(exc), owner, attempt)

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
        """The ledger's side only: ``DynamoDBStore.finish_notification`` writes the ``mark``."""
        ledger_rules.check_finish_args(state, completed, marks_meeting=mark is not None)
        self._index_receipt_id(key, completed)
        expr = Expr()
        condition = self._owned(expr, owner)
        if completed is not None:
            attempts = expr.n("attempts")
            condition += f" AND size({attempts}) > {expr.v(completed.seq)}"
            expr.sets.append(f"{attempts}[{int(completed.seq)}] = {expr.v(completed.model_dump())}")
        expr.set("state", state.value)
        expr.set("delivered_channel", delivered_channel.value if delivered_channel else None)
        expr.set("lease_expires_at", now)
        expr.set("updated_at", now)
        try:
            item = self._update("notifications", key, expr, condition, return_values="ALL_NEW")
        except ConditionFailed as exc:
            return ledger_rules.check_refused_finish(
                key, self._refused_record(exc), owner, state, completed
            )
        return self._record(item)

    def acknowledge_notification(self, key: str, acknowledgement: Acknowledgement) -> AckResult:
        """One ``UpdateItem`` conditioned on the item existing and having no acknowledgement;
        only the ``acknowledgement`` attribute is written."""
        expr = Expr()
        condition = (
            f"attribute_exists({expr.n(LEDGER_KEY_ATTR)}) "
            f"AND attribute_not_exists({expr.n('acknowledgement')})"
        )
        expr.set("acknowledgement", acknowledgement.model_dump())
        try:
            self._update("notifications", key, expr, condition)
        except ConditionFailed as exc:
            return ledger_rules.refused_acknowledgement(
                key, self._refused_record(exc), acknowledgement
            )
        return AckResult(recorded=True, acknowledgement=acknowledgement)

    def record_receipt(
        self, key: str, *, seq: int, provider_id: str, receipt: DeliveryReceipt
    ) -> ReceiptResult:
        """One ``UpdateItem`` of ``attempts[seq].receipt``, conditioned on the record being
        delivered, the attempt having ``provider_id`` and its receipt being absent or weaker."""
        expr = Expr()
        attempt = f"{expr.n('attempts')}[{int(seq)}]"
        status = f"{attempt}.{expr.n('receipt')}.{expr.n('status')}"
        weaker = [expr.v(s.value) for s in ledger_rules.weaker_receipts(receipt.status)]
        standing = f"attribute_not_exists({status})"
        if weaker:
            standing = f"({standing} OR {status} IN ({', '.join(weaker)}))"
        condition = (
            f"{expr.n('state')} = {expr.v(LedgerState.DELIVERED.value)} "
            f"AND {attempt}.{expr.n('provider_id')} = {expr.v(provider_id)} AND {standing}"
        )
        expr.sets.append(f"{attempt}.{expr.n('receipt')} = {expr.v(receipt.model_dump())}")
        try:
            self._update("notifications", key, expr, condition)
        except ConditionFailed as exc:
            return ledger_rules.refused_receipt(
                key, self._refused_record(exc), seq, provider_id, receipt
            )
        return ReceiptResult(recorded=True, receipt=receipt)

    def park_receipt(self, key: str, parked: ParkedReceipt) -> bool:
        """One ``UpdateItem`` appending to ``early_receipts``, conditioned on the state, the
        attempt's channel and the list's size (``Store.park_receipt``)."""
        expr = Expr()
        early, attempt = expr.n("early_receipts"), f"{expr.n('attempts')}[{int(parked.seq)}]"
        states = ", ".join(expr.v(s.value) for s in ledger_rules.PARKABLE_STATES)
        condition = (
            f"{expr.n('state')} IN ({states}) "
            f"AND {attempt}.{expr.n('channel')} = {expr.v(parked.channel.value)} "
            f"AND (attribute_not_exists({early}) "
            f"OR size({early}) < {expr.v(ledger_rules.MAX_PARKED_RECEIPTS)})"
        )
        expr.sets.append(
            f"{early} = list_append(if_not_exists({early}, {expr.v([])}), "
            f"{expr.v([parked.model_dump()])})"
        )
        try:
            self._update("notifications", key, expr, condition)
        except ConditionFailed as exc:
            return ledger_rules.refused_park(key, self._refused_record(exc), parked)
        return True

    def notification_for_provider_id(self, provider_id: str) -> LedgerRecord | None:
        mapping = self._get("notifications", RECEIPT_ID_PREFIX + provider_id)
        if not mapping or "target_key" not in mapping:
            return None
        return self.get_notification(str(mapping["target_key"]["S"]))

    def _mark_meeting_recorded(self, key: str, at: datetime) -> None:
        """Set ``meeting_recorded_at`` on the record ``key`` if it exists (one ``UpdateItem``;
        sent again after a lost answer, it writes the same value)."""
        expr = Expr()
        expr.set("meeting_recorded_at", at)
        try:
            self._update("notifications", key, expr, f"attribute_exists({expr.n(LEDGER_KEY_ATTR)})")
        except ConditionFailed:
            return  # no record (expired, or never claimed): nothing to mark

    def get_notification(self, key: str) -> LedgerRecord | None:
        item = self._get("notifications", key)  # ConsistentRead: decisions read this
        return self._record(item) if item else None

    def list_notifications_for_meeting(self, meeting_id: str) -> list[LedgerRecord]:
        """Every record of a meeting, through the GSI: eventually consistent, so for listing
        (timelines, cancelling escalations), never for a decision to send."""
        expr = Expr()
        items = self._query(
            "notifications",
            IndexName=NOTIFICATIONS_MEETING_INDEX,
            KeyConditionExpression=f"{expr.n('meeting_id')} = {expr.v(meeting_id)}",
            **expr.kwargs(),
        )
        records = [self._record(item) for item in items]
        return sorted(records, key=lambda r: (r.created_at, r.key))
