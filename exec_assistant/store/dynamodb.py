"""DynamoDB store: the :class:`~exec_assistant.store.base.Store` on four on-demand tables.

Every model field is its own top-level attribute (nested models are maps and lists), so each
operation writes only the attributes it owns: writes are ``UpdateItem`` with SET/REMOVE and a
``ConditionExpression``; ``PutItem`` is used only to create, guarded by ``attribute_not_exists``.
``None`` is never stored at top level (the attribute is removed), so sparse GSIs stay sparse.
Timestamps are :func:`~exec_assistant.models.iso_utc` strings (fixed width: lexical order is time
order, which the GSI range keys and the lease comparison rely on); TTL attributes are epoch seconds.

The parts: :mod:`~exec_assistant.store.dynamodb_codec` (items and expressions),
:mod:`~exec_assistant.store.dynamodb_tables` (schema, client, calls),
:mod:`~exec_assistant.store.dynamodb_ledger` (the notification ledger),
:mod:`~exec_assistant.store.dynamodb_listings` (meeting listings over the GSIs); this module adds
users, meetings and chat sessions. Reads that decide something are strongly consistent
(``GetItem``); GSI queries (always eventually consistent) only list.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from exec_assistant.errors import NotFoundError
from exec_assistant.models import (
    CALENDAR_FIELDS,
    Channel,
    ChatMessage,
    ChatSession,
    ChatState,
    DeliveryAttempt,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingStatus,
    NotificationStatus,
    User,
    allowed_sources,
    chat_session_id_for,
    iso_utc,
)
from exec_assistant.store import ledger_rules
from exec_assistant.store.base import MeetingMark
from exec_assistant.store.dynamodb_codec import (
    ConditionFailed,
    Expr,
    epoch,
    item_fields,
    parse_item,
    to_av,
)
from exec_assistant.store.dynamodb_listings import DynamoDBMeetingListings
from exec_assistant.store.dynamodb_tables import (
    ACTIVE_SLACK_USER_ATTR,
    CHAT_ACTIVE_INDEX,
    PREP_OPENS_ATTR,
    TABLE_SPECS,
    TTL_ATTR,
    USERS_SLACK_INDEX,
)

__all__ = ["TABLE_SPECS", "DynamoDBStore"]


class DynamoDBStore(DynamoDBMeetingListings):
    """The :class:`~exec_assistant.store.base.Store` on DynamoDB (see module docstring)."""

    # users -----------------------------------------------------------------------------------

    def put_user(self, user: User) -> User:
        expr = Expr()
        for name, value in user.model_dump().items():
            if name == "created_at":  # the first write's creation time is kept
                expr.set_if_absent(name, value)
            elif name != "user_id":
                expr.set(name, value)
        item = self._update("users", user.user_id, expr, None, return_values="ALL_NEW")
        return parse_item(User, item)

    def get_user(self, user_id: str) -> User | None:
        item = self._get("users", user_id)
        return parse_item(User, item) if item else None

    def get_user_by_slack_id(self, slack_user_id: str) -> User | None:
        expr = Expr()
        items = self._call(
            "query",
            "users",
            IndexName=USERS_SLACK_INDEX,
            KeyConditionExpression=f"{expr.n('slack_user_id')} = {expr.v(slack_user_id)}",
            Limit=1,
            **expr.kwargs(),
        ).get("Items", [])
        return parse_item(User, items[0]) if items else None

    def list_users(self) -> list[User]:
        users = [parse_item(User, item) for item in self._query("users", ConsistentRead=True)]
        return sorted(users, key=lambda u: u.user_id)

    def delete_user(self, user_id: str) -> bool:
        return self._delete("users", user_id)

    # meetings --------------------------------------------------------------------------------

    def upsert_meeting_calendar(self, meeting: Meeting) -> Meeting:
        opens_at = iso_utc(meeting.prep_window_start)  # follows start and prep_hours_before
        item = {k: to_av(v) for k, v in item_fields(meeting).items()}
        item[PREP_OPENS_ATTR] = to_av(opens_at)
        try:
            self._create("meetings", item)
        except ConditionFailed:
            pass  # it exists: update the calendar fields only
        else:
            return meeting
        expr = Expr()
        for name in CALENDAR_FIELDS:
            expr.set(name, getattr(meeting, name))
        expr.set(PREP_OPENS_ATTR, opens_at)
        expr.set("updated_at", meeting.updated_at)
        try:
            item = self._update(
                "meetings",
                meeting.meeting_id,
                expr,
                f"attribute_exists({expr.n('meeting_id')})",
                return_values="ALL_NEW",
            )
        except ConditionFailed as exc:  # only if it vanished between the two calls
            raise NotFoundError(f"meeting {meeting.meeting_id} not found") from exc
        return parse_item(Meeting, item)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        item = self._get("meetings", meeting_id)
        return parse_item(Meeting, item) if item else None

    def get_meeting_and_user(
        self, meeting_id: str, user_id: str
    ) -> tuple[Meeting | None, User | None]:
        found = self._get_many([("meetings", meeting_id), ("users", user_id)])
        meeting, user = found.get(("meetings", meeting_id)), found.get(("users", user_id))
        return (
            parse_item(Meeting, meeting) if meeting else None,
            parse_item(User, user) if user else None,
        )

    def delete_meeting(self, meeting_id: str) -> bool:
        return self._delete("meetings", meeting_id)

    def transition_meeting(
        self,
        meeting_id: str,
        to_status: MeetingStatus,
        *,
        now: datetime,
        expected: Sequence[MeetingStatus] | None = None,
        chat_session_id: str | None = None,
    ) -> bool:
        sources = allowed_sources(to_status)
        if expected is not None:
            sources &= frozenset(expected)
        if not sources:  # nothing could move; still report a missing meeting like a write would
            if self._get("meetings", meeting_id) is None:
                raise NotFoundError(f"meeting {meeting_id} not found")
            return False
        expr = Expr()
        expr.set("updated_at", now)
        if chat_session_id is not None:
            expr.set("chat_session_id", chat_session_id)
        return self._move_with(meeting_id, expr, to_status, sources)

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
        def fields() -> Expr:
            expr = Expr()
            expr.set("notification_status", status.value)
            expr.set("notification_channel", channel.value if channel else None)
            expr.set("notification_cycle", cycle)
            expr.set("notified_at", at)
            expr.set("updated_at", at)
            return expr

        sources = allowed_sources(move_to) if move_to is not None else frozenset()
        if move_from is not None:
            sources &= frozenset(move_from)
        moved = (
            move_to is not None
            and bool(sources)
            and self._move_with(meeting_id, fields(), move_to, sources)
        )
        if not moved:
            expr = fields()
            condition = f"attribute_exists({expr.n('meeting_id')})"
            try:
                self._update("meetings", meeting_id, expr, condition)
            except ConditionFailed as exc:
                raise NotFoundError(f"meeting {meeting_id} not found") from exc
        if key is not None:  # after the meeting's write: the steps after the delivery are done
            self._mark_meeting_recorded(key, at)
        return moved

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
        """The ledger's conditional finish; with ``mark``, then the meeting's write and the
        record's mark, exactly the writes (and their order) of ``record_meeting_notification(...,
        key=key)`` called after it: DynamoDB has no conditional status move inside a
        transaction that must not fail with it, so a crash between them leaves what it left."""
        ledger_rules.check_finish_args(state, completed, marks_meeting=mark is not None)
        record = super().finish_notification(
            key,
            owner=owner,
            state=state,
            delivered_channel=delivered_channel,
            now=now,
            completed=completed,
        )
        if mark is None:
            return record
        at = ledger_rules.delivered_at(record)
        try:
            self.record_meeting_notification(
                record.meeting_id,
                status=NotificationStatus.DELIVERED,
                channel=delivered_channel,
                cycle=mark.cycle,
                at=at,
                move_to=mark.move_to,
                move_from=mark.move_from,
                key=key,
            )
        except NotFoundError:
            return record  # unmarked: the caller's own record_meeting_notification reports it
        return record.model_copy(update={"meeting_recorded_at": at})

    def _move_with(
        self, meeting_id: str, expr: Expr, to: MeetingStatus, sources: frozenset[MeetingStatus]
    ) -> bool:
        """One conditional write that moves the status and sets ``expr``'s fields; False if the
        status does not allow the move (the caller then sets the fields alone)."""
        allowed = ", ".join(expr.v(s.value) for s in sorted(sources))
        condition = (
            f"attribute_exists({expr.n('meeting_id')}) AND {expr.n('status')} IN ({allowed})"
        )
        expr.set("status", to.value)
        try:
            self._update("meetings", meeting_id, expr, condition)
        except ConditionFailed as exc:
            if exc.item is None:
                raise NotFoundError(f"meeting {meeting_id} not found") from exc
            return False
        return True

    def save_meeting_brief(self, meeting_id: str, brief: str, *, now: datetime) -> None:
        expr = Expr()
        expr.set("brief", brief)
        expr.set("updated_at", now)
        try:
            self._update("meetings", meeting_id, expr, f"attribute_exists({expr.n('meeting_id')})")
        except ConditionFailed as exc:
            raise NotFoundError(f"meeting {meeting_id} not found") from exc

    # chat sessions ---------------------------------------------------------------------------

    def create_chat_session(self, session: ChatSession) -> tuple[ChatSession, bool]:
        if session.session_id != chat_session_id_for(session.meeting_id):
            raise ValueError(
                f"session_id must be chat_session_id_for(meeting_id) = "
                f"{chat_session_id_for(session.meeting_id)!r} (one session per meeting)"
            )
        item = {k: to_av(v) for k, v in item_fields(session).items()}
        item[TTL_ATTR] = to_av(epoch(session.expires_at))
        if session.state == ChatState.ACTIVE and session.slack_user_id:
            item[ACTIVE_SLACK_USER_ATTR] = to_av(session.slack_user_id)
        try:
            self._create("chat_sessions", item)
        except ConditionFailed as exc:
            if exc.item is None:  # expired (TTL) between the refusal and the read: try again
                return self.create_chat_session(session)
            return parse_item(ChatSession, exc.item), False
        return session, True

    def get_chat_session(self, session_id: str) -> ChatSession | None:
        item = self._get("chat_sessions", session_id)
        return parse_item(ChatSession, item) if item else None

    def get_active_chat_session(self, slack_user_id: str) -> ChatSession | None:
        expr = Expr()
        items = self._call(
            "query",
            "chat_sessions",
            IndexName=CHAT_ACTIVE_INDEX,
            KeyConditionExpression=f"{expr.n(ACTIVE_SLACK_USER_ATTR)} = {expr.v(slack_user_id)}",
            ScanIndexForward=False,
            Limit=1,
            **expr.kwargs(),
        ).get("Items", [])
        return parse_item(ChatSession, items[0]) if items else None

    def append_chat_message(self, session_id: str, message: ChatMessage, *, now: datetime) -> None:
        expr = Expr()
        messages = expr.n("messages")
        expr.sets.append(f"{messages} = list_append({messages}, {expr.v([message.model_dump()])})")
        expr.set("updated_at", now)
        try:
            self._update(
                "chat_sessions", session_id, expr, f"attribute_exists({expr.n('session_id')})"
            )
        except ConditionFailed as exc:
            raise NotFoundError(f"chat session {session_id} not found") from exc

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
        expr = Expr()
        condition = (
            f"{expr.n('step')} = {expr.v(expected_step)} AND "
            f"{expr.n('state')} = {expr.v(ChatState.ACTIVE.value)}"
        )
        expr.set("step", step)
        expr.set("prep_answers", dict(prep_answers))
        expr.set("state", state.value)
        expr.set("updated_at", now)
        if state != ChatState.ACTIVE:
            expr.removes.append(expr.n(ACTIVE_SLACK_USER_ATTR))
        try:
            self._update("chat_sessions", session_id, expr, condition)
        except ConditionFailed as exc:
            if exc.item is None:
                raise NotFoundError(f"chat session {session_id} not found") from exc
            return False
        return True
