"""The morning digest's message: a header, one line per meeting (time, title, prep state and a
**Start Prep** button while prep is still to do), and what a click on that button changes.

Each meeting's line is a section whose ``block_id`` is :func:`digest_block_id` (``digest:…``):
the button's click carries it, so the Slack bot knows the click came from a digest and rewrites
that one line (:func:`with_prep_started`), leaving the rest of the digest as it was sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from exec_assistant.models import Meeting, MeetingStatus, User
from exec_assistant.notifications.rendering import (
    START_PREP_ACTION,
    mrkdwn_escape,
    one_line,
    truncate,
)

#: Meetings listed at most (a message holds 50 blocks: header, one per meeting, the rest line).
MAX_LISTED = 45
DIGEST_BLOCK_PREFIX = "digest:"
#: The state a line shows once Start Prep was pressed on it.
PREP_STARTED = "Prep started: answer the questions in our DM"
_TO_PREPARE = frozenset(
    {MeetingStatus.DISCOVERED, MeetingStatus.PREP_REQUIRED, MeetingStatus.PREP_SCHEDULED}
)
_STATE = {
    MeetingStatus.DISCOVERED: "prep not started",
    MeetingStatus.PREP_REQUIRED: "prep due",
    MeetingStatus.PREP_SCHEDULED: "prep due",
    MeetingStatus.PREP_IN_PROGRESS: "prep in progress",
    MeetingStatus.PREP_COMPLETED: "prep done",
    MeetingStatus.COMPLETED: "over",
}


class DigestMessage(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    text: str
    blocks: list[dict[str, Any]]
    meeting_ids: list[str]


def digest_block_id(meeting_id: str) -> str:
    """The ``block_id`` of a meeting's line (Slack allows 255 characters)."""
    return f"{DIGEST_BLOCK_PREFIX}{meeting_id}"[:255]


def _when(meeting: Meeting, user: User) -> str:
    zone = user.zone
    start, end = meeting.start_time.astimezone(zone), meeting.end_time.astimezone(zone)
    return f"{start:%H:%M}\u2013{end:%H:%M}"


def _line(meeting: Meeting, user: User, state: str, *, button: bool) -> dict[str, Any]:
    title = truncate(one_line(meeting.title), 200)
    section: dict[str, Any] = {
        "type": "section",
        "block_id": digest_block_id(meeting.meeting_id),
        "text": {
            "type": "mrkdwn",
            "text": f"*{_when(meeting, user)}*  {mrkdwn_escape(title)}\n_{state}_",
        },
    }
    if button:
        section["accessory"] = {
            "type": "button",
            "action_id": START_PREP_ACTION,
            "text": {"type": "plain_text", "text": "Start Prep"},
            "style": "primary",
            "value": meeting.meeting_id,
        }
    return section


def compose_digest(meetings: list[Meeting], user: User, now: datetime) -> DigestMessage | None:
    """The digest of ``meetings`` (the day's, by start) or None when there is none to list."""
    listed = [m for m in meetings if m.status != MeetingStatus.CANCELLED]
    if not listed:
        return None
    local_day = now.astimezone(user.zone)
    header = f"Today, {local_day:%a} {local_day.day} {local_day:%b}: {len(listed)} meeting" + (
        "s" if len(listed) != 1 else ""
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}}
    ]
    lines = []
    for meeting in listed[:MAX_LISTED]:
        state = _STATE.get(meeting.status, meeting.status.value.lower())
        button = meeting.status in _TO_PREPARE and meeting.start_time > now
        blocks.append(_line(meeting, user, state, button=button))
        lines.append(f"{_when(meeting, user)} {truncate(one_line(meeting.title), 200)} ({state})")
    if len(listed) > MAX_LISTED:
        rest = len(listed) - MAX_LISTED
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"…and {rest} more. Type /meetings today."}
                ],
            }
        )
    text = truncate(f"{header}\n" + "\n".join(lines), 3000)
    return DigestMessage(text=text, blocks=blocks, meeting_ids=[m.meeting_id for m in listed])


def is_digest_line(block_id: str | None) -> bool:
    return bool(block_id) and str(block_id).startswith(DIGEST_BLOCK_PREFIX)


def with_prep_started(
    blocks: list[dict[str, Any]], block_id: str, meeting: Meeting, user: User
) -> list[dict[str, Any]] | None:
    """The digest's ``blocks`` (as the click's payload carries them) with the line ``block_id``
    saying :data:`PREP_STARTED`, without its button; every other block unchanged. None when the
    digest has no such line (nothing to rewrite)."""
    if not any(b.get("block_id") == block_id for b in blocks):
        return None
    started = _line(meeting, user, PREP_STARTED, button=False)
    started["block_id"] = block_id  # the id the digest was sent with
    return [started if b.get("block_id") == block_id else b for b in blocks]
