"""The Store protocol: the one contract both the SQLite and the DynamoDB stores implement.

Semantics every implementation must keep (the contract suite in tests/ checks them):

* Users are upserted whole by ``put_user`` (no other writer touches users).
* ``upsert_meeting_calendar`` creates a meeting or updates only its calendar fields
  (``models.CALENDAR_FIELDS``); status, chat session and notification fields are never wiped.
* ``transition_meeting`` is a conditional write: it moves only along
  ``models.ALLOWED_TRANSITIONS`` from the status found at write time, and returns whether it moved.
* ``create_chat_session`` creates at most one session per meeting and returns the existing one
  otherwise; the session id must be ``models.chat_session_id_for(meeting_id)`` (as
  ``ChatSession.for_meeting`` builds it), else ``ValueError``: the derived id is what makes "one
  per meeting" a single conditional write on DynamoDB. ``advance_chat_session`` is conditional
  on the step the caller read (and on the session still being ACTIVE).
* Writes to a missing meeting or chat session raise :class:`~exec_assistant.errors.NotFoundError`.
* The notification ledger (see DESIGN.md "Delivery semantics"): ``claim_notification`` is a
  conditional write that exactly one concurrent caller wins; attempts are recorded immediately
  before a provider call and completed after; every ledger write after the claim requires the
  caller to still own the lease (else :class:`~exec_assistant.errors.LeaseLostError`). Every
  ledger write recognises the caller's own earlier write (same owner token) as success, so a
  write whose answer was lost and that was sent again does not fail
  (:mod:`exec_assistant.store.ledger_rules`). Reads by key are strongly consistent.
* Delivery receipts: a delivered SMS or email attempt is findable by its provider id from the
  write that completes it on (``notification_for_provider_id``, read consistently), and
  ``record_receipt`` keeps the strongest receipt per attempt in one conditional write (any
  order, any number of repeats), without a lease: the record is final by then. A receipt that
  arrives before the delivery is recorded is kept on the record by ``park_receipt`` (its
  message carries the key and attempt) and applied by the caller once the record is DELIVERED.
* Infrastructure failures surface as :class:`~exec_assistant.errors.StoreUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from exec_assistant.models import (
    Acknowledgement,
    AckResult,
    Channel,
    ChatMessage,
    ChatSession,
    ChatState,
    Claim,
    DeliveryAttempt,
    DeliveryReceipt,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingStatus,
    NotificationStatus,
    ParkedReceipt,
    ReceiptResult,
    User,
)

#: How long ledger records and finished chat sessions are kept (DynamoDB TTL, SQLite purge).
LEDGER_RETENTION_DAYS = 30
#: The longest prep window (``Meeting.prep_hours_before`` is at most 14 days): a window open at
#: ``now`` opened after ``now - MAX_PREP_WINDOW``, which bounds the prep-window index reads.
MAX_PREP_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class MeetingMark:
    """The meeting's side of a delivery, written by ``finish_notification(..., mark=...)`` with
    the DELIVERED finish: what ``record_meeting_notification(record.meeting_id,
    status=DELIVERED, channel=<the delivering channel>, cycle=cycle, at=<the delivery's time>,
    move_to=move_to, move_from=move_from, key=<the record's key>)`` writes. Built by the caller
    (the prep trigger), so not validated again."""

    cycle: str
    move_to: MeetingStatus | None = None
    move_from: tuple[MeetingStatus, ...] | None = None


@runtime_checkable
class Store(Protocol):
    # users ----------------------------------------------------------------------------------
    def put_user(self, user: User) -> User: ...
    def get_user(self, user_id: str) -> User | None: ...
    def get_user_by_slack_id(self, slack_user_id: str) -> User | None: ...
    def list_users(self) -> list[User]: ...
    def delete_user(self, user_id: str) -> bool:
        """Delete the user's record; True if it existed. Only the record: their meetings,
        chat sessions and ledger records are the caller's to remove (``exec-assistant users
        remove`` removes the meetings first)."""
        ...

    # meetings -------------------------------------------------------------------------------
    def upsert_meeting_calendar(self, meeting: Meeting) -> Meeting:
        """Create the meeting, or update only its calendar fields. Returns the stored meeting."""
        ...

    def get_meeting(self, meeting_id: str) -> Meeting | None: ...

    def get_meeting_and_user(
        self, meeting_id: str, user_id: str
    ) -> tuple[Meeting | None, User | None]:
        """``get_meeting(meeting_id)`` and ``get_user(user_id)`` in one round trip (one query on
        SQLite, one ``BatchGetItem`` on DynamoDB), both strongly consistent."""
        ...

    def delete_meeting(self, meeting_id: str) -> bool:
        """Delete the meeting's record; True if it existed. Its ledger records stay (the
        history of what was sent, which expires with the ledger's retention)."""
        ...

    def list_meetings_for_user(
        self,
        user_id: str,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
        exclude: Collection[MeetingStatus] = (),
    ) -> list[Meeting]:
        """Meetings of one owner with ``start_from <= start_time < start_until``, by start (then
        id), leaving out those in an ``exclude`` status; at most ``limit`` of them (the first
        ones), read and validated only that far."""
        ...

    def list_meetings_by_status(
        self,
        status: MeetingStatus,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
    ) -> list[Meeting]:
        """Meetings in one status with ``start_from <= start_time < start_until``, by start
        (then id); at most ``limit`` of them (the first ones)."""
        ...

    def list_meetings_in_prep_window(
        self, status: MeetingStatus, now: datetime, *, limit: int | None = None
    ) -> list[Meeting]:
        """Meetings in one status whose prep window is open at ``now``
        (``prep_window_start <= now < start_time``), by window opening (then id); at most
        ``limit``. Read through an index on the window's opening, so only meetings whose window
        opened within :data:`MAX_PREP_WINDOW` before ``now`` are looked at (those that already
        started are dropped by the query), never the ones still waiting for their window."""
        ...

    def transition_meeting(
        self,
        meeting_id: str,
        to_status: MeetingStatus,
        *,
        now: datetime,
        expected: Sequence[MeetingStatus] | None = None,
        chat_session_id: str | None = None,
    ) -> bool:
        """Move the status if the current one allows it (and is in ``expected`` when given).

        Optionally sets ``chat_session_id`` in the same write. Returns whether it moved.
        """
        ...

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
        """Set the meeting's notification fields (``updated_at`` = ``at``).

        With ``move_to``, the same write also moves the status as
        ``transition_meeting(move_to, expected=move_from)`` would have just before; the fields
        are set whether or not the status moves. Returns whether it moved.

        With ``key``, the ledger record of that cycle then gets ``meeting_recorded_at = at``
        (if it exists), never before the meeting's write: in the same transaction on SQLite, a
        second write right after it on DynamoDB (a crash between the two leaves the mark unset,
        and whoever reads the record redoes the steps, which are idempotent).
        """
        ...

    def save_meeting_brief(self, meeting_id: str, brief: str, *, now: datetime) -> None:
        """Store the meeting's prep brief (``Meeting.brief``, JSON), replacing an earlier one;
        nothing else changes but ``updated_at``. ``NotFoundError`` for a missing meeting."""
        ...

    # chat sessions --------------------------------------------------------------------------
    def create_chat_session(self, session: ChatSession) -> tuple[ChatSession, bool]:
        """Create the meeting's session unless one exists. Returns (session, created)."""
        ...

    def get_chat_session(self, session_id: str) -> ChatSession | None: ...

    def get_active_chat_session(self, slack_user_id: str) -> ChatSession | None:
        """The most recently updated ACTIVE session of a Slack user, if any."""
        ...

    def append_chat_message(
        self, session_id: str, message: ChatMessage, *, now: datetime
    ) -> None: ...

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
        """Save progress if the session is still at ``expected_step``. Returns whether it saved."""
        ...

    # notification ledger ---------------------------------------------------------------------
    def claim_notification(
        self,
        key: str,
        meeting_id: str,
        *,
        owner: str,
        now: datetime,
        lease_seconds: float,
    ) -> Claim:
        """Claim ``key``: WON (new), RECOVERED (expired lease or released claim taken over,
        prior attempts kept), DONE (final record returned) or BUSY (live lease elsewhere).

        A claim whose record shows ``owner`` already (its own earlier write, whose answer was
        lost) is the caller's: WON if that write created the record, else RECOVERED.
        """
        ...

    def record_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        """Append an attempt (its ``seq`` must equal the number of attempts so far).

        Idempotent for its owner: if the record already holds this attempt (same owner, seq and
        channel: a resent write), nothing changes and no error is raised."""
        ...

    def complete_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        """Replace attempt ``attempt.seq`` with its completed form."""
        ...

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
        """Mark the claim DELIVERED, EXHAUSTED or RELEASED (lease given back).

        ``completed``: an attempt already recorded (``record_attempt``) to complete in the same
        conditional write, as ``complete_attempt`` would (``ValueError`` if its seq was never
        recorded): the last attempt's outcome and the final state land together. A record
        already finished by ``owner`` in ``state`` (a resent write) is returned as it is.

        ``mark`` (used with DELIVERED only): then the meeting's notification fields are written
        as ``record_meeting_notification(..., key=key)`` would (``at``: the delivering
        attempt's completion, :func:`~exec_assistant.store.ledger_rules.delivered_at`), after
        the ledger's write and never before it: in the same transaction on SQLite, right after
        it on DynamoDB (a crash between them leaves what a crash between the two calls left).
        The returned record's ``meeting_recorded_at`` is set when they were written; it stays
        None when the meeting is missing (the caller's own ``record_meeting_notification``
        then says so) and on a resent write whose first answer was lost.
        """
        ...

    def acknowledge_notification(self, key: str, acknowledgement: Acknowledgement) -> AckResult:
        """Record the executive's answer to cycle ``key`` once, in one conditional write.

        The first call sets it (``recorded=True``); any later one, from any channel, changes
        nothing and gets the acknowledgement that stands (``recorded=False``). A resent write
        whose first answer was lost (same ``ack_id``) is the caller's: ``recorded=True``.
        The record's other fields are left alone. ``NotFoundError`` if ``key`` has no record.
        """
        ...

    def record_receipt(
        self, key: str, *, seq: int, provider_id: str, receipt: DeliveryReceipt
    ) -> ReceiptResult:
        """Set the delivery receipt of attempt ``seq`` of the DELIVERED record ``key`` (the
        attempt must carry ``provider_id``), in one conditional write, if the standing receipt
        is weaker (``models.RECEIPT_RANK``): ``recorded=True``. Otherwise nothing changes and
        the standing one is returned (``recorded=False``; a resent write of the same receipt
        whose first answer was lost: ``recorded=True``). ``NotFoundError`` (code
        ``no_receipt_target``) if there is no such delivered attempt."""
        ...

    def park_receipt(self, key: str, parked: ParkedReceipt) -> bool:
        """Keep a receipt that arrived before its delivery was recorded, in one conditional
        write: appended to ``early_receipts`` of record ``key`` while it is IN_PROGRESS or
        RELEASED, its attempt ``parked.seq`` is on ``parked.channel``, and fewer than
        :data:`~exec_assistant.store.ledger_rules.MAX_PARKED_RECEIPTS` are kept: True. False
        (nothing written) when the record is final — DELIVERED: the caller records the receipt
        (``record_receipt``); EXHAUSTED: nothing was delivered — or full. ``NotFoundError``
        (``no_receipt_target``) without such a record and attempt. No lease: the write is
        ordered with the DELIVERED finish on the same item, so a receipt is either parked
        before it (and the finish returns it) or refused after it (and recorded)."""
        ...

    def notification_for_provider_id(self, provider_id: str) -> LedgerRecord | None:
        """The record whose delivered SMS or email attempt has ``provider_id`` (Twilio SID, SES
        MessageId), read consistently; None if there is none (or it expired)."""
        ...

    def get_notification(self, key: str) -> LedgerRecord | None: ...

    def list_notifications_for_meeting(self, meeting_id: str) -> list[LedgerRecord]: ...

    def close(self) -> None: ...
