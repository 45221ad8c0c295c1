"""What a prep notification says, rendered for each channel from one set of facts.

The facts (:class:`MeetingFacts`): the title, the time in the user's time zone, the location,
the attendee count and what to do. Slack gets Block Kit blocks plus a plain ``text`` fallback
(:func:`slack_message`); the block builders are public so the Slack bot can re-render the same
meeting in another state (:func:`meeting_blocks` with :func:`status_block`, e.g. "Prep started"
in place of the buttons). SMS gets at most :data:`SMS_MAX_CHARS` characters (:func:`sms_text`);
email a subject, an HTML body (every value escaped) and a plain-text body (:func:`email_message`).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from exec_assistant.models import Meeting, User
from exec_assistant.notifications.types import NotificationKind, PrepNotification

SMS_MAX_CHARS = 320
#: What an SMS reply can do (exec_assistant.workflows.sms_replies): every SMS ends with one.
#: What ``LATER`` without a number snoozes for, in minutes.
SMS_SNOOZE_MINUTES = 30
SMS_KEYWORDS = (
    f"Reply PREP to start prep in your Slack DM, LATER to be reminded in {SMS_SNOOZE_MINUTES} min."
)
SMS_KEYWORDS_WITHOUT_SLACK = f"Reply LATER to be reminded in {SMS_SNOOZE_MINUTES} min."
START_PREP_ACTION = "start_prep"
REMIND_LATER_ACTION = "remind_later"
ACTIONS_BLOCK_ID = "prep_actions"
_HEADER_MAX = 150  # Slack's limit for a header block's text
_ELLIPSIS = "..."

Block = dict[str, Any]

_HEADLINES: dict[NotificationKind, str] = {
    NotificationKind.INITIAL: "Time to prep for your meeting",
    NotificationKind.REMINDER: "Reminder: prep for your meeting",
    NotificationKind.ESCALATION: "Still to do: prep for your meeting",
}


class MeetingFacts(BaseModel):
    """The channel-independent content of one notification."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting_id: str
    headline: str
    title: str
    when: str  # e.g. "Tue 3 Dec, 14:00-15:00 CET", in the user's time zone
    location: str  # "" when the meeting has none
    attendees: str  # "4 attendees"
    action: str  # what the user should do, phrased for text channels


def one_line(text: str) -> str:
    """Collapse whitespace (titles from calendars may carry newlines and tabs)."""
    return " ".join(text.split())


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "..." when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(_ELLIPSIS))]
    head, space, _ = cut.rpartition(" ")
    if space and len(head) >= len(cut) - 12:  # end on a word boundary when one is near
        cut = head
    return cut.rstrip(" ,;:-") + _ELLIPSIS


def format_when(meeting: Meeting, user: User, *, dash: str = "\u2013") -> str:
    """Start and end in the user's zone, ``dash`` between: ``Tue 3 Dec, 14:00-15:00 CET``."""
    zone_info = user.zone
    start = meeting.start_time.astimezone(zone_info)
    end = meeting.end_time.astimezone(zone_info)
    zone = start.tzname() or user.timezone
    if start.date() == end.date():
        return f"{_day(start)}, {_hm(start)}{dash}{_hm(end)} {zone}"
    return f"{_day(start)} {_hm(start)} {dash} {_day(end)} {_hm(end)} {zone}"


def _day(moment: datetime) -> str:
    """``Tue 3 Dec``: one strftime call (each costs microseconds; the day is not zero-padded)."""
    return moment.strftime(f"%a {moment.day} %b")


def _hm(moment: datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def attendee_count(meeting: Meeting) -> str:
    count = len(meeting.attendees)
    if count == 0:
        return "no attendees listed"
    return f"{count} attendee{'s' if count != 1 else ''}"


def meeting_facts(
    meeting: Meeting, user: User, kind: NotificationKind = NotificationKind.INITIAL
) -> MeetingFacts:
    if user.slack_user_id:
        action = "Open your Slack DM from Exec Assistant and press Start Prep."
    else:
        action = "Take a few minutes to review the agenda and attendees before it starts."
    return MeetingFacts(
        meeting_id=meeting.meeting_id,
        headline=_HEADLINES[kind],
        title=one_line(meeting.title),
        when=format_when(meeting, user),
        location=one_line(meeting.location),
        attendees=attendee_count(meeting),
        action=action,
    )


# --- Slack ----------------------------------------------------------------------------------


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def prep_actions_block(meeting_id: str) -> Block:
    """The Start Prep / Remind Later buttons; each button's ``value`` is the meeting id."""
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": START_PREP_ACTION,
                "text": _plain("Start Prep"),
                "style": "primary",
                "value": meeting_id,
            },
            {
                "type": "button",
                "action_id": REMIND_LATER_ACTION,
                "text": _plain("Remind Later"),
                "value": meeting_id,
            },
        ],
    }


def status_block(text: str) -> Block:
    """A context line that replaces the buttons once the user acted ("Prep started")."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(text)}]}


def meeting_blocks(
    meeting: Meeting,
    user: User,
    *,
    kind: NotificationKind = NotificationKind.INITIAL,
    footer: Block | None = None,
) -> list[Block]:
    """Header, title, time/location/attendees, then ``footer`` (default: the prep buttons)."""
    return _blocks(meeting_facts(meeting, user, kind), footer)


def _blocks(facts: MeetingFacts, footer: Block | None) -> list[Block]:
    fields = [{"type": "mrkdwn", "text": f"*When*\n{mrkdwn_escape(facts.when)}"}]
    if facts.location:
        location = mrkdwn_escape(truncate(facts.location, 300))
        fields.append({"type": "mrkdwn", "text": f"*Where*\n{location}"})
    fields.append({"type": "mrkdwn", "text": f"*Attendees*\n{facts.attendees}"})
    return [
        {"type": "header", "text": _plain(truncate(facts.headline, _HEADER_MAX))},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{mrkdwn_escape(truncate(facts.title, 2000))}*"},
        },
        {"type": "section", "fields": fields},
        footer if footer is not None else prep_actions_block(facts.meeting_id),
    ]


def fallback_text(facts: MeetingFacts) -> str:
    """The plain ``text`` Slack shows in notifications and to clients without blocks."""
    where = f", {facts.location}" if facts.location else ""
    return f"{facts.headline}: {facts.title} ({facts.when}{where}; {facts.attendees})."


class SlackMessage(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    text: str
    blocks: list[Block]


def slack_message(notification: PrepNotification) -> SlackMessage:
    facts = meeting_facts(notification.meeting, notification.user, notification.kind)
    return SlackMessage(text=truncate(fallback_text(facts), 3000), blocks=_blocks(facts, None))


# --- SMS ------------------------------------------------------------------------------------


def sms_text(notification: PrepNotification, *, limit: int = SMS_MAX_CHARS) -> str:
    """At most ``limit`` characters; the title (then the location) is shortened, never the
    time, what to do or the reply keywords (:data:`SMS_KEYWORDS`). ASCII punctuation keeps
    the message in the GSM-7 alphabet."""
    meeting, user = notification.meeting, notification.user
    facts = meeting_facts(meeting, user, notification.kind)
    when = format_when(meeting, user, dash="-")
    # Prep happens in Slack: with a Slack id the reply starts it; without, only LATER helps.
    action = SMS_KEYWORDS if user.slack_user_id else f"{facts.action} {SMS_KEYWORDS_WITHOUT_SLACK}"
    prefix = {
        NotificationKind.INITIAL: "Prep for",
        NotificationKind.REMINDER: "Reminder: prep for",
        NotificationKind.ESCALATION: "Still to do: prep for",
    }[notification.kind]

    def compose(title: str, location: str, attendees: bool) -> str:
        where = f" at {location}" if location else ""
        who = f" {facts.attendees[:1].upper()}{facts.attendees[1:]}." if attendees else ""
        return f'{prefix} "{title}", {when}{where}.{who} {action}'

    location = truncate(facts.location, 60)
    for attendees in (True, False):
        for loc in (location, ""):
            budget = limit - len(compose("", loc, attendees))
            if budget >= 12:  # room for a recognisable piece of the title
                return compose(truncate(facts.title, budget), loc, attendees)
    return truncate(compose("", "", attendees=False), limit)


# --- email ----------------------------------------------------------------------------------


class EmailContent(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    subject: str
    html: str
    text: str


def email_message(
    notification: PrepNotification, links: dict[str, str] | None = None
) -> EmailContent:
    """Subject, HTML and text bodies. ``links``: the Start Prep and Remind Later action links
    (label -> URL), shown as buttons in the HTML and as lines in the text."""
    facts = meeting_facts(notification.meeting, notification.user, notification.kind)
    subject = f"{facts.headline}: {truncate(facts.title, 120)} ({facts.when})"
    rows = [("When", facts.when)]
    if facts.location:
        rows.append(("Where", facts.location))
    rows.append(("Attendees", facts.attendees))
    e = html.escape
    html_rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in rows
    )
    body_html = (
        '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        f"<h2>{e(facts.headline)}</h2>"
        f"<p><strong>{e(facts.title)}</strong></p>"
        f"<table>{html_rows}</table>"
        f"<p>{e(facts.action)}</p>"
        f"{_html_links(links or {})}"
        "</body></html>"
    )
    text_rows = "\n".join(f"{label}: {value}" for label, value in rows)
    text_links = "".join(f"\n{label}: {url}\n" for label, url in (links or {}).items())
    body_text = f"{facts.headline}\n\n{facts.title}\n\n{text_rows}\n\n{facts.action}\n{text_links}"
    return EmailContent(subject=one_line(subject), html=body_html, text=body_text)


def _html_links(links: dict[str, str]) -> str:
    """Buttons as links (email clients run no forms or scripts); the URL is escaped."""
    e = html.escape
    return "".join(
        f'<p><a href="{e(url, quote=True)}" style="display:inline-block;padding:8px 16px;'
        f'border:1px solid #1d6f42;border-radius:4px;text-decoration:none">{e(label)}</a></p>'
        for label, url in links.items()
    )
