"""One acknowledgement per prep cycle, whichever channel it comes from.

A Slack button, an SMS reply (``PREP``/``LATER``) and an email link are the same thing: the
executive answered the cycle that reached them. :func:`acknowledge` records that answer once in the
ledger (``Store.acknowledge_notification``, a conditional write on the meeting's latest delivered
cycle). Only the call that recorded it goes on: pending escalations are cancelled and, when the
answer came from SMS or email, the Slack DM that delivered the cycle is edited (``chat.update``)
to say what happened and where, its buttons removed. Any later answer gets the standing one back
("already handled") and changes nothing.

The actions themselves (:func:`open_prep`, :func:`snooze`) are here too, for the channels that
are not Slack; the Slack listeners keep their own (they also redraw the clicked message).
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from exec_assistant import metrics
from exec_assistant.components import Runtime
from exec_assistant.errors import NotFoundError, PermanentError
from exec_assistant.logs import log_event
from exec_assistant.models import (
    AckAction,
    Acknowledgement,
    AttemptStatus,
    Channel,
    ChatSession,
    Meeting,
    MeetingStatus,
    User,
)
from exec_assistant.notifications.rendering import meeting_blocks, status_block
from exec_assistant.notifications.types import DeliveryError, DirectMessenger, MessageEditor
from exec_assistant.workflows.prep_conversation import ConversationEngine
from exec_assistant.workflows.reminders import cancel_escalation, schedule_reminder

logger = logging.getLogger(__name__)

_CHANNEL_NAMES = {Channel.SLACK: "Slack", Channel.SMS: "SMS", Channel.EMAIL: "email"}


class AckOutcome(BaseModel):
    """What :func:`acknowledge` did. ``recorded``: this answer is the cycle's (go on and act);
    otherwise ``acknowledgement`` is the earlier one that stands and ``text`` says so."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    recorded: bool
    key: str | None
    acknowledgement: Acknowledgement | None
    text: str


def latest_cycle_key(meeting: Meeting) -> str | None:
    """Ledger key of the meeting's latest delivered cycle (None before any delivery)."""
    if not meeting.notification_cycle:
        return None
    return f"{meeting.meeting_id}#{meeting.notification_cycle}"


def describe(ack: Acknowledgement, user: User) -> str:
    """ "Prep started from SMS at 08:02", "Snoozed until 10:30 from email" (the user's zone)."""
    where = _CHANNEL_NAMES.get(ack.channel, ack.channel.value)
    if ack.action == AckAction.REMIND_LATER and ack.remind_at is not None:
        until = ack.remind_at.astimezone(user.zone)
        return f"Snoozed until {until:%H:%M} from {where}"
    at = ack.at.astimezone(user.zone)
    return f"Prep started from {where} at {at:%H:%M}"


def acknowledge(
    runtime: Runtime,
    meeting: Meeting,
    user: User,
    *,
    channel: Channel,
    action: AckAction,
    remind_at: datetime | None = None,
    detail: str = "",
    key: str | None = None,
    edit_dm: bool | None = None,
) -> AckOutcome:
    """Record ``user``'s answer to ``meeting``'s latest delivered cycle (or to cycle ``key``,
    the one an email link was sent for), once.

    ``edit_dm``: whether to bring the Slack DMs that delivered the meeting's cycles up to date;
    by default only for an answer from SMS or email (a click on the DM redraws it itself; a click
    elsewhere in Slack, such as the morning digest, passes True).

    A meeting with no delivered cycle in the ledger (acted on from the App Home before any
    notification, or its record expired) has nothing to hold the answer: ``recorded`` is True
    with no key, and the caller acts as before.
    """
    ack = Acknowledgement(
        channel=channel,
        action=action,
        at=runtime.clock(),
        remind_at=remind_at,
        detail=detail[:200],
    )
    key = key or latest_cycle_key(meeting)
    if key is None:
        return AckOutcome(recorded=True, key=None, acknowledgement=None, text=describe(ack, user))
    try:
        result = runtime.store.acknowledge_notification(key, ack)
    except NotFoundError:
        return AckOutcome(recorded=True, key=None, acknowledgement=None, text=describe(ack, user))
    standing = result.acknowledgement
    if (
        not result.recorded
        and standing.action == AckAction.REMIND_LATER
        and action == AckAction.START_PREP
    ):
        # Snoozed, then ready after all: starting prep is always welcome. The snooze stays the
        # cycle's answer (escalations are already cancelled); the pending reminder finds the
        # meeting in progress and sends nothing.
        log_event(
            logger,
            logging.INFO,
            "ack.prep_after_snooze",
            meeting_id=meeting.meeting_id,
            key=key,
            channel=channel.value,
        )
        return AckOutcome(
            recorded=True, key=key, acknowledgement=standing, text=describe(ack, user)
        )
    if not result.recorded:
        log_event(
            logger,
            logging.INFO,
            "ack.already_handled",
            meeting_id=meeting.meeting_id,
            key=key,
            channel=channel.value,
            standing_channel=standing.channel.value,
            standing_action=standing.action.value,
        )
        return AckOutcome(
            recorded=False,
            key=key,
            acknowledgement=standing,
            text=f"Already handled: {describe(standing, user)}.",
        )
    log_event(
        logger,
        logging.INFO,
        "ack.recorded",
        meeting_id=meeting.meeting_id,
        key=key,
        channel=channel.value,
        action=action.value,
    )
    metrics.emit(
        metrics.Metric.ACKNOWLEDGEMENT, channel=channel.value, action=action.value, key=key
    )
    cancel_escalation(runtime, meeting)
    text = describe(standing, user)
    if channel != Channel.SLACK if edit_dm is None else edit_dm:
        _edit_slack_dm(runtime, meeting, user, key, text)
    return AckOutcome(recorded=True, key=key, acknowledgement=standing, text=text)


def _edit_slack_dm(runtime: Runtime, meeting: Meeting, user: User, key: str, text: str) -> None:
    """Bring the meeting's Slack DMs up to date (the cycle's, read consistently by key, and any
    earlier cycle's): the card with ``text`` in place of the buttons. A failed edit is logged
    and left — the answer is recorded, and a later click on a stale button is told so."""
    editor = runtime.channels.get(Channel.SLACK)
    if not isinstance(editor, MessageEditor):
        return
    current = runtime.store.get_notification(key)
    records = runtime.store.list_notifications_for_meeting(meeting.meeting_id)
    messages = sorted(
        {
            attempt.provider_id
            for record in [*records, *([current] if current else [])]
            for attempt in record.attempts
            if attempt.channel == Channel.SLACK
            and attempt.status == AttemptStatus.DELIVERED
            and attempt.provider_id
        }
    )
    blocks = meeting_blocks(meeting, user, footer=status_block(text))
    for message in messages:
        try:
            editor.update(message, text=text, blocks=blocks)
        except DeliveryError as exc:
            log_event(
                logger,
                logging.WARNING,
                "ack.dm_edit_failed",
                meeting_id=meeting.meeting_id,
                key=key,
                message=message,
                error_class=exc.error_class.value,
                error_code=exc.code,
            )
            continue
        log_event(
            logger, logging.INFO, "ack.dm_edited", meeting_id=meeting.meeting_id, message=message
        )


def can_open_prep(runtime: Runtime, user: User) -> bool:
    """Prep happens in the Slack DM: the deployment needs Slack and the user a Slack id."""
    return isinstance(runtime.channels.get(Channel.SLACK), DirectMessenger) and bool(
        user.slack_user_id
    )


def open_prep(runtime: Runtime, meeting: Meeting, user: User, engine: ConversationEngine) -> bool:
    """Start the prep conversation in the Slack DM as the Start Prep button does (idempotent:
    the session is created once and only its creator posts the opening). Returns whether this
    call opened it. Raises :class:`DeliveryError` if Slack could not take the opening."""
    messenger = runtime.channels.get(Channel.SLACK)
    if not isinstance(messenger, DirectMessenger):
        raise PermanentError("Slack is not configured", code="no_slack")
    now = runtime.clock()
    session, created = runtime.store.create_chat_session(
        ChatSession.for_meeting(meeting, user, now=now)
    )
    runtime.store.transition_meeting(
        meeting.meeting_id,
        MeetingStatus.PREP_IN_PROGRESS,
        now=now,
        chat_session_id=session.session_id,
    )
    if created:
        messenger.post_dm(user, engine.start(session, meeting, user))
    log_event(
        logger,
        logging.INFO,
        "ack.prep_opened",
        meeting_id=meeting.meeting_id,
        session_id=session.session_id,
        created=created,
    )
    return created


def snooze(runtime: Runtime, meeting: Meeting, user: User, remind_at: datetime) -> None:
    """Schedule the reminder cycle of a Remind Later answered outside Slack (idempotent per
    time: the reminder id is derived from it, as the Slack menu's is)."""
    schedule_reminder(
        runtime, meeting, user, remind_at, reminder_id=f"later-{int(remind_at.timestamp())}"
    )


def answer(
    runtime: Runtime,
    engine: ConversationEngine,
    meeting: Meeting,
    user: User,
    *,
    channel: Channel,
    action: AckAction,
    remind_at: datetime | None = None,
    detail: str = "",
    key: str | None = None,
) -> tuple[AckOutcome, bool]:
    """An answer from SMS or email: :func:`acknowledge`, then, if it was recorded, the action
    (:func:`open_prep` or :func:`snooze` at ``remind_at``). Returns the outcome and whether the
    action was done; an action that fails after the answer was recorded is logged (the answer
    stands, and the executive is told to use Slack)."""
    outcome = acknowledge(
        runtime,
        meeting,
        user,
        channel=channel,
        action=action,
        remind_at=remind_at,
        detail=detail,
        key=key,
    )
    if not outcome.recorded:
        return outcome, False
    try:
        if action == AckAction.START_PREP:
            open_prep(runtime, meeting, user, engine)
        elif remind_at is not None:
            snooze(runtime, meeting, user, remind_at)
    except (DeliveryError, PermanentError) as exc:  # Slack refused; no scheduler here
        log_event(
            logger,
            logging.ERROR,
            "ack.action_failed",
            meeting_id=meeting.meeting_id,
            channel=channel.value,
            action=action.value,
            error_class=exc.error_class.value,
            error_code=exc.code,
        )
        return outcome, False
    return outcome, True
