"""``GET``/``POST /actions/{token}``: the email's Start Prep and Remind Later links.

``GET`` only shows a small confirmation page (mail scanners and link previews follow GET links,
so a GET must change nothing); the action happens on the page's ``POST``. An altered, expired or
already-used link gets a clear page and changes nothing. Pages are self-contained HTML (no
script, no outside resource), every value escaped.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import timedelta

from exec_assistant.components import Runtime
from exec_assistant.logs import log_event
from exec_assistant.models import AckAction, Channel, Meeting, MeetingStatus, User
from exec_assistant.notifications.action_links import (
    ACTIONS_PATH,
    ActionClaims,
    LinkError,
    LinkProblem,
    read_token,
)
from exec_assistant.notifications.rendering import SMS_SNOOZE_MINUTES, format_when
from exec_assistant.workflows.acknowledge import answer, can_open_prep
from exec_assistant.workflows.prep_conversation import ConversationEngine

logger = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
#: Remind Later from an email snoozes for as long as ``LATER`` does by SMS.
EMAIL_SNOOZE = timedelta(minutes=SMS_SNOOZE_MINUTES)
_VERBS = {AckAction.START_PREP: "Start prep", AckAction.REMIND_LATER: "Remind me later"}


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    content_type: str = HTML


def page(status: int, title: str, message: str, *, form: str = "") -> Page:
    e = html.escape
    return Page(
        status,
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{e(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em">'
        f'<h1>{e(title)}</h1><p id="message">{e(message)}</p>{form}</body></html>',
    )


_PROBLEM_PAGES = {
    LinkProblem.INVALID: (
        404,
        "Link not recognised",
        "This link is not valid (it may have been cut or changed). Nothing was done. "
        "Use the buttons in Slack or reply to the SMS instead.",
    ),
    LinkProblem.EXPIRED: (
        410,
        "Link expired",
        "This link has expired. Nothing was done. Use the buttons in Slack or reply to the SMS.",
    ),
}


def _claims(runtime: Runtime, token: str) -> ActionClaims | Page:
    secret = runtime.settings.secret("action_link_secret")
    if not secret:
        log_event(logger, logging.ERROR, "action_link.not_configured")
        return page(503, "Not available", "Email links are not set up here. Nothing was done.")
    try:
        return read_token(secret, token, now=runtime.clock())
    except LinkError as exc:
        log_event(logger, logging.WARNING, "action_link.refused", problem=exc.problem.value)
        return page(*_PROBLEM_PAGES[exc.problem])


def _owner(runtime: Runtime, claims: ActionClaims) -> tuple[Meeting, User] | Page:
    meeting = runtime.store.get_meeting(claims.meeting_id)
    user = runtime.store.get_user(meeting.user_id) if meeting else None
    if meeting is None or user is None:
        return page(404, "Meeting not found", "This meeting is no longer here. Nothing was done.")
    if meeting.status in (MeetingStatus.CANCELLED, MeetingStatus.COMPLETED) or (
        runtime.clock() >= meeting.start_time
    ):
        return page(410, "Too late", "This meeting has started or was cancelled. Nothing was done.")
    return meeting, user


def _resolve(runtime: Runtime, token: str) -> tuple[ActionClaims, Meeting, User] | Page:
    """The link's claims, meeting and owner, or the page saying why the link does nothing."""
    claims = _claims(runtime, token)
    if isinstance(claims, Page):
        return claims
    found = _owner(runtime, claims)
    if isinstance(found, Page):
        return found
    return claims, *found


def show(runtime: Runtime, token: str) -> Page:
    """``GET``: the confirmation page; nothing changes."""
    resolved = _resolve(runtime, token)
    if isinstance(resolved, Page):
        return resolved
    claims, meeting, user = resolved
    verb = _VERBS[claims.action]
    action = html.escape(ACTIONS_PATH + token, quote=True)
    form = (
        f'<form method="post" action="{action}">'
        f'<button type="submit" id="confirm" style="font-size:1.1em;padding:.5em 1.2em">'
        f"{html.escape(verb)}</button></form>"
    )
    what = (
        "The prep conversation will open in your Slack DM."
        if claims.action == AckAction.START_PREP
        else f"I'll remind you again in {SMS_SNOOZE_MINUTES} minutes."
    )
    return page(
        200, f"{verb}?", f"{meeting.title} — {format_when(meeting, user)}. {what}", form=form
    )


def confirm(runtime: Runtime, engine: ConversationEngine, token: str) -> Page:
    """``POST``: do the action once for this cycle; any other answer already given stands."""
    resolved = _resolve(runtime, token)
    if isinstance(resolved, Page):
        return resolved
    claims, meeting, user = resolved
    remind_at = None
    if claims.action == AckAction.REMIND_LATER:
        remind_at = runtime.clock() + EMAIL_SNOOZE
        if remind_at >= meeting.start_time:
            return page(409, "Too soon", "The meeting starts before then. Nothing was done.")
    elif not can_open_prep(runtime, user):
        return page(409, "Prep is in Slack", "Prep happens in Slack, which is not set up for you.")
    outcome, done = answer(
        runtime,
        engine,
        meeting,
        user,
        channel=Channel.EMAIL,
        action=claims.action,
        remind_at=remind_at,
        detail=f"link:{claims.nonce}",
        key=claims.key,
    )
    standing = outcome.acknowledgement
    if not outcome.recorded:
        if standing is not None and standing.detail == f"link:{claims.nonce}":
            return page(409, "Link already used", f"This link was already used: {outcome.text}")
        return page(409, "Already handled", outcome.text)
    if not done:
        return page(
            200, "Recorded", f"{outcome.text}, but it could not be completed: use Slack instead."
        )
    return page(200, "Done", f"{outcome.text}.")
