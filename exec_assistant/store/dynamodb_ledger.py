"""The notification ledger on DynamoDB: one item per key (meeting + prep cycle).

Each write is one conditional ``UpdateItem`` on the base table, so it is atomic per item. The
answer to a write can be lost after DynamoDB applied it (a reset connection): botocore then
sends it again, and the second one finds its own first one and is refused. Every refused write
reads the item as it is (``ReturnValuesOnConditionCheckFailure``, or a consistent ``GetItem``)
and asks :mod:`exec_assistant.store.ledger_rules` whether it shows this owner's write: if so,
the write succeeded and the caller goes on as if the first answer had arrived.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from exec_assistant.models import (
    Acknowledgement,
    AckResult,
    Channel,
    Claim,
    ClaimOutcome,
    DeliveryAttempt,
    LedgerRecord,
    LedgerState,
)
from exec_assistant.store import ledger_rules
from exec_assistant.store.dynamodb_codec import ConditionFailed, Expr, Item, epoch, parse_item
from exec_assistant.store.dynamodb_tables import (
    LEDGER_KEY_ATTR,
    NOTIFICATIONS_MEETING_INDEX,
    TTL_ATTR,
    DynamoDBTables,
)


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
    ) -> LedgerRecord:
        ledger_rules.check_finish_args(state, completed)
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
