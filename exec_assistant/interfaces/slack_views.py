"""Block Kit the Slack bot shows besides the notification itself: the /meetings list, the App
Home, the Remind Later choices, and the state lines that replace the buttons.

The meeting card and its buttons come from :mod:`exec_assistant.notifications.rendering`, so a
meeting looks the same in the DM, after a click, in /meetings and on the Home tab.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exec_assistant.models import (
    AttemptStatus,
    LedgerState,
    Meeting,
    MeetingStatus,
    ReceiptStatus,
    User,
)
from exec_assistant.notifications.rendering import (
    ACTIONS_BLOCK_ID,
    Block,
    format_when,
    meeting_blocks,
    mrkdwn_escape,
    prep_actions_block,
    status_block,
    truncate,
)
from exec_assistant.workflows.acknowledge import describe
from exec_assistant.workflows.reminders import ReminderChoice
from exec_assistant.workflows.timeline import CycleEntry, CycleKind

REMIND_CHOICE_ACTION = "remind_later_choice"
#: Meetings listed at most (a message holds 50 blocks, the Home tab 100).
LIST_LIMIT = 15
#: How many meetings a listing reads: one more than it shows, to know there are more.
LIST_READ = LIST_LIMIT + 1
#: Slack refuses a message with more blocks than this (``invalid_blocks``).
MESSAGE_MAX_BLOCKS = 50

#: Statuses in which prep has not started: the card offers Start Prep / Remind Later.
ACTIONABLE = frozenset(
    {MeetingStatus.DISCOVERED, MeetingStatus.PREP_REQUIRED, MeetingStatus.PREP_SCHEDULED}
)

_STATUS_LABELS: dict[MeetingStatus, str] = {
    MeetingStatus.DISCOVERED: "prep not started",
    MeetingStatus.PREP_REQUIRED: "prep due",
    MeetingStatus.PREP_SCHEDULED: "prep due (notified)",
    MeetingStatus.PREP_IN_PROGRESS: "prep in progress: answer the questions in our DM",
    MeetingStatus.PREP_COMPLETED: "prep done",
    MeetingStatus.COMPLETED: "meeting over",
    MeetingStatus.CANCELLED: "cancelled",
}

HELP_TEXT = (
    "*/meetings* lists your upcoming meetings and their prep status.\n"
    "• `/meetings` or `/meetings week`: the next 7 days\n"
    "• `/meetings today`: the rest of today (your time zone)\n"
    "• `/meetings help`: this help\n"
    "Press *Start Prep* to answer a few questions in our DM and get a prep brief, or "
    "*Remind Later* to be nudged again before the meeting."
)


def setup_text(slack_user_id: str) -> str:
    """What an unknown Slack user is told: how to get set up."""
    return (
        "I don't know you yet, so I have no meetings for you. Ask an admin to run "
        f"`exec-assistant users add --slack-user-id {slack_user_id}` (with your name and time "
        "zone), then import your calendar with `exec-assistant meetings import`."
    )


NO_SESSION_TEXT = (
    "I have no prep conversation open with you right now. Type `/meetings` to see your upcoming "
    "meetings, then press *Start Prep* on one and I'll ask you a few questions here."
)


def status_label(meeting: Meeting) -> str:
    return _STATUS_LABELS[meeting.status]


IN_PROGRESS_TEXT = "Prep started: answer the questions in our DM."
COMPLETED_TEXT = "Prep done: the brief is in our DM."


def reminder_set_text(fire_at: datetime, user: User) -> str:
    local = fire_at.astimezone(user.zone)
    zone = local.tzname() or user.timezone
    return f"I'll bring this back {local:%a} {local.day} {local:%b} at {local:%H:%M} {zone}."


def state_blocks(meeting: Meeting, user: User, text: str) -> list[Block]:
    """The meeting card with a state line in place of the buttons."""
    return meeting_blocks(meeting, user, footer=status_block(text))


def reminder_choice_blocks(
    meeting: Meeting, user: User, choices: list[ReminderChoice]
) -> list[Block]:
    """The card with Start Prep and a select of reminder times in place of Remind Later.

    Each option's value is ``{epoch seconds}|{meeting_id}``: the time is fixed when offered, so
    choosing the same option twice schedules the same reminder once.
    """
    start_button = prep_actions_block(meeting.meeting_id)["elements"][0]
    select = {
        "type": "static_select",
        "action_id": REMIND_CHOICE_ACTION,
        "placeholder": {"type": "plain_text", "text": "Remind me…"},
        "options": [
            {
                "text": {"type": "plain_text", "text": truncate(choice.label, 75)},
                "value": f"{int(choice.fire_at.timestamp())}|{meeting.meeting_id}",
            }
            for choice in choices
        ],
    }
    footer = {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": [start_button, select]}
    return meeting_blocks(meeting, user, footer=footer)


def parse_choice_value(value: str) -> tuple[datetime, str]:
    """Inverse of the option value written by :func:`reminder_choice_blocks`."""
    epoch, _, meeting_id = value.partition("|")
    if not epoch.isdigit() or not meeting_id:
        raise ValueError(f"malformed reminder choice {value!r}")
    return datetime.fromtimestamp(int(epoch), UTC), meeting_id


def _list_item(meeting: Meeting, user: User, index: int, now: datetime) -> list[Block]:
    lines = [
        f"*{mrkdwn_escape(truncate(meeting.title, 200))}*",
        mrkdwn_escape(format_when(meeting, user)),
    ]
    if meeting.location:
        lines[-1] += f" · {mrkdwn_escape(truncate(meeting.location, 100))}"
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Status: {status_label(meeting)}"}],
        },
    ]
    if meeting.status in ACTIONABLE and now < meeting.start_time:
        # unique block ids: one message may list several meetings
        blocks.append(
            {**prep_actions_block(meeting.meeting_id), "block_id": f"{ACTIONS_BLOCK_ID}.{index}"}
        )
    return blocks


def meeting_list_blocks(
    meetings: list[Meeting], user: User, *, heading: str, now: datetime, complete: bool = True
) -> list[Block]:
    """A heading, then each meeting with its status and the buttons that fit, within
    :data:`MESSAGE_MAX_BLOCKS` (the Home tab adds one more block: it allows 100).

    ``complete=False``: ``meetings`` is only the start of the window (the listeners read
    :data:`LIST_READ`), so the tail says "…and more." without a
    count."""
    shown = [m for m in meetings if m.status != MeetingStatus.CANCELLED]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(heading, 150)}}
    ]
    if not shown:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No upcoming meetings."}}
        )
        return blocks
    listed = 0
    for index, meeting in enumerate(shown[:LIST_LIMIT]):
        item = [{"type": "divider"}, *_list_item(meeting, user, index, now)]
        if len(blocks) + len(item) > MESSAGE_MAX_BLOCKS - 1:  # one left for "…and N more"
            break
        blocks += item
        listed += 1
    if len(shown) > listed:
        more = f"…and {len(shown) - listed} more." if complete else "…and more."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return blocks


def home_view(
    user: User | None,
    slack_user_id: str,
    meetings: list[Meeting],
    now: datetime,
    *,
    complete: bool = True,
    last_notification: Block | None = None,
    settings: list[Block] | None = None,
) -> dict[str, Any]:
    """The App Home tab: upcoming meetings and their prep status, the last notification, the
    executive's settings (or how to get set up)."""
    if user is None:
        blocks: list[Block] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": setup_text(slack_user_id)}}
        ]
    else:
        blocks = meeting_list_blocks(
            meetings, user, heading="Your meetings in the next 7 days", now=now, complete=complete
        )
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Times in {user.timezone}. `/meetings help` for more.",
                    }
                ],
            }
        )
        if last_notification is not None:
            blocks.append(last_notification)
        blocks += settings or []
    return {"type": "home", "blocks": blocks}


_KIND_NAMES = {
    CycleKind.PREP: "prep notification",
    CycleKind.REMINDER: "reminder",
    CycleKind.ESCALATION: "escalation",
    CycleKind.RECEIPT: "follow-up after a failed delivery",
}


def last_notification_block(meeting: Meeting, cycle: CycleEntry, user: User) -> Block:
    """One context line: the meeting's latest notification cycle (from its timeline), how it
    went out and what the executive answered."""
    kind = _KIND_NAMES[cycle.kind]
    delivered = next(
        (a for a in reversed(cycle.attempts) if a.status == AttemptStatus.DELIVERED), None
    )
    if delivered is not None:
        at = (delivered.completed_at or delivered.started_at).astimezone(user.zone)
        how = f"sent by {delivered.channel.value} {at:%a} {at:%H:%M}"
        receipt = delivered.receipt
        if receipt is not None and receipt.status == ReceiptStatus.FAILED:
            code = f" {receipt.error_code}" if receipt.error_code else ""
            how += f", then failed ({receipt.provider_status}{code})"
        elif receipt is not None:
            how += f", {receipt.status.value}"
    elif cycle.state == LedgerState.EXHAUSTED:
        how = "not delivered: every channel failed"
    else:
        how = "being sent"
    answer = (
        describe(cycle.acknowledgement, user)
        if cycle.acknowledgement is not None
        else ("not answered yet" if delivered is not None else "")
    )
    title = mrkdwn_escape(truncate(meeting.title, 150))
    text = f"Last notification: {kind} for *{title}*, {how}" + (f" · {answer}" if answer else "")
    return {
        "type": "context",
        "block_id": "last_notification",
        "elements": [{"type": "mrkdwn", "text": text}],
    }
