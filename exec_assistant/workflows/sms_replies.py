"""What an SMS reply means: keywords, the sender's latest notified meeting, the answer to send.

The reply is matched to a user by the sender's number (E.164) and to the meeting that user was
notified about last among those still to come. Keywords are case-insensitive:

* ``PREP`` or ``1`` — start prep: the conversation opens in the Slack DM, as Start Prep does;
* ``LATER`` or ``2``, optionally followed by minutes (``LATER 45``; default 30) — snooze: a
  reminder cycle is scheduled;
* ``HELP`` — what the keywords do; anything else gets a short help answer;
* ``STOP`` (and Twilio's other opt-out words) / ``START`` — Twilio's opt-out: recorded on the user
  so the SMS channel skips them until START (Twilio answers these itself).

Both actions go through :func:`exec_assistant.workflows.acknowledge.acknowledge`, so an SMS reply
and a Slack click are one acknowledgement of the cycle.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from exec_assistant.components import Runtime
from exec_assistant.logs import log_event
from exec_assistant.models import AckAction, Channel, Meeting, MeetingStatus, User
from exec_assistant.notifications.rendering import SMS_SNOOZE_MINUTES
from exec_assistant.notifications.sms_opt_out import record_sms_opt_out
from exec_assistant.workflows.acknowledge import answer, can_open_prep
from exec_assistant.workflows.prep_conversation import ConversationEngine

logger = logging.getLogger(__name__)

DEFAULT_SNOOZE_MINUTES = SMS_SNOOZE_MINUTES
MAX_SNOOZE_MINUTES = 24 * 60
#: Twilio's default opt-out and opt-in keywords (Advanced Opt-Out's defaults).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
#: How far ahead a notified meeting may start (the longest prep window: 14 days).
LOOKAHEAD = timedelta(days=14)

HELP_TEXT = (
    "Exec Assistant: reply PREP (or 1) to start prep in Slack, LATER (or 2) to be reminded in "
    f"{DEFAULT_SNOOZE_MINUTES} min (LATER 60 for an hour), STOP to stop texts."
)
UNKNOWN_SENDER_TEXT = "Exec Assistant: this number is not linked to anyone here."
NOTHING_OPEN_TEXT = "Exec Assistant: there is no upcoming meeting waiting for an answer."


class Keyword(StrEnum):
    PREP = "prep"
    LATER = "later"
    HELP = "help"
    STOP = "stop"
    START = "start"
    OTHER = "other"


class SmsCommand(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    keyword: Keyword
    minutes: int = DEFAULT_SNOOZE_MINUTES


_LATER = re.compile(r"^(?:LATER|2)(?:\s+(\d{1,5})\s*(?:M|MIN|MINS|MINUTES)?)?$")


def parse_reply(body: str) -> SmsCommand:
    """The command in an SMS body (whitespace and case ignored)."""
    text = " ".join(body.split()).upper().rstrip(".!")
    if text in ("PREP", "1"):
        return SmsCommand(keyword=Keyword.PREP)
    if text in ("HELP", "INFO", "?"):
        return SmsCommand(keyword=Keyword.HELP)
    if text in OPT_OUT_WORDS:
        return SmsCommand(keyword=Keyword.STOP)
    if text in OPT_IN_WORDS:
        return SmsCommand(keyword=Keyword.START)
    match = _LATER.match(text)
    if match:
        minutes = int(match.group(1)) if match.group(1) else DEFAULT_SNOOZE_MINUTES
        if 1 <= minutes <= MAX_SNOOZE_MINUTES:
            return SmsCommand(keyword=Keyword.LATER, minutes=minutes)
    return SmsCommand(keyword=Keyword.OTHER)


def user_by_phone(runtime: Runtime, phone: str) -> User | None:
    """The user whose phone is ``phone`` (E.164). A scan of the users: an assistant serves a
    handful of executives, so no index is kept for it."""
    compact = re.sub(r"[\s\-().]", "", phone)
    return next((u for u in runtime.store.list_users() if u.phone == compact), None)


def latest_notified_meeting(runtime: Runtime, user: User) -> Meeting | None:
    """The user's meeting notified most recently among those that have not started."""
    now = runtime.clock()
    meetings = runtime.store.list_meetings_for_user(
        user.user_id,
        now,
        now + LOOKAHEAD,
        exclude=(MeetingStatus.CANCELLED, MeetingStatus.COMPLETED),
    )
    notified = [m for m in meetings if m.notification_cycle and m.notified_at is not None]
    return max(notified, key=lambda m: (m.notified_at, m.meeting_id), default=None)


def answer_sms(
    runtime: Runtime, engine: ConversationEngine, *, sender: str, body: str
) -> str | None:
    """Act on an SMS reply from ``sender`` and return the answer to send back (None: none)."""
    command = parse_reply(body)
    user = user_by_phone(runtime, sender)
    if user is None:
        log_event(logger, logging.INFO, "sms_reply.unknown_sender", keyword=command.keyword.value)
        return None if command.keyword in (Keyword.STOP, Keyword.START) else UNKNOWN_SENDER_TEXT
    if command.keyword in (Keyword.STOP, Keyword.START):
        record_sms_opt_out(
            runtime.store,
            user.user_id,
            opted_out=command.keyword == Keyword.STOP,
            now=runtime.clock(),
            source="reply",
        )
        return None  # Twilio answers STOP and START itself
    if command.keyword in (Keyword.HELP, Keyword.OTHER):
        return HELP_TEXT
    meeting = latest_notified_meeting(runtime, user)
    if meeting is None:
        return NOTHING_OPEN_TEXT
    if command.keyword == Keyword.PREP:
        return _start_prep(runtime, engine, meeting, user)
    return _snooze(runtime, engine, meeting, user, command.minutes)


def _start_prep(runtime: Runtime, engine: ConversationEngine, meeting: Meeting, user: User) -> str:
    if not can_open_prep(runtime, user):
        return "Exec Assistant: prep happens in Slack, which is not set up for you."
    outcome, done = answer(
        runtime,
        engine,
        meeting,
        user,
        channel=Channel.SMS,
        action=AckAction.START_PREP,
        detail="PREP",
    )
    if not outcome.recorded:
        return f"Exec Assistant: {outcome.text}"
    if not done:
        return "Exec Assistant: prep is started, but Slack could not be reached; open our DM."
    return f"Exec Assistant: {outcome.text}. The first question is in your Slack DM."


def _snooze(
    runtime: Runtime, engine: ConversationEngine, meeting: Meeting, user: User, minutes: int
) -> str:
    remind_at = runtime.clock() + timedelta(minutes=minutes)
    if remind_at >= meeting.start_time:
        return "Exec Assistant: the meeting starts before then. Reply PREP to start prep now."
    outcome, done = answer(
        runtime,
        engine,
        meeting,
        user,
        channel=Channel.SMS,
        action=AckAction.REMIND_LATER,
        remind_at=remind_at,
        detail=f"LATER {minutes}",
    )
    if outcome.recorded and not done:
        return "Exec Assistant: noted, but reminders are not enabled here."
    return f"Exec Assistant: {outcome.text}" + ("." if outcome.recorded else "")
