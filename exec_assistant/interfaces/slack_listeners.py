"""What each Slack interaction does. :func:`exec_assistant.interfaces.slack_bot.create_app`
registers these methods with Bolt; Bolt injects the arguments by name.

Every listener acknowledges first and works afterwards, with retries, the deadline and a dead
letter (:func:`exec_assistant.interfaces.post_response.ack_then`). Each is idempotent by
construction, so a Slack retry (``X-Slack-Retry-Num``) or a double click repeats nothing:

* Start Prep: the chat session id is derived from the meeting and created at most once
  (``Store.create_chat_session``); only the call that created it (or its own retry after a
  transient failure) posts the first question and updates the message.
* Remind Later: the reminder id comes from the time offered in the menu, and schedule names are
  derived from it, so choosing twice schedules once.
* Direct messages: progress is saved with ``advance_chat_session(expected_step=...)`` and the
  Slack ``ts`` of each answer is stored, so a redelivered message is recognised and not answered
  again. Help replies (no session, unknown user) are not repeated for a retried event.
* App Home (:mod:`~exec_assistant.interfaces.slack_home`): ``views.publish`` replaces the
  whole view; publishing twice shows the same.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltRequest, Respond
from slack_sdk import WebClient

from exec_assistant.errors import ConfigurationError, PermanentError
from exec_assistant.interfaces import slack_views as views
from exec_assistant.interfaces.listener_kit import dm_channel, logged, payload, refuse
from exec_assistant.interfaces.post_response import retrying
from exec_assistant.interfaces.slack_home import HomeTab, upcoming
from exec_assistant.interfaces.slack_payloads import (
    BlockActions,
    Message,
    MessageEvent,
    SlashCommand,
)
from exec_assistant.logs import log_event
from exec_assistant.models import (
    AckAction,
    Channel,
    ChatSession,
    Meeting,
    MeetingStatus,
    User,
)
from exec_assistant.notifications.rendering import Block
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.acknowledge import acknowledge
from exec_assistant.workflows.digest_blocks import PREP_STARTED, is_digest_line, with_prep_started
from exec_assistant.workflows.prep_conversation import ConversationEngine
from exec_assistant.workflows.reminders import reminder_choices, schedule_reminder

logger = logging.getLogger(__name__)


class SlackListeners:
    """The listeners, bound to one runtime and one conversation engine."""

    def __init__(self, runtime: Runtime, engine: ConversationEngine) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.engine = engine
        self.home = HomeTab(runtime)

    # --- /meetings ----------------------------------------------------------------------------

    @logged
    def meetings_command(self, respond: Respond, command: dict[str, Any]) -> None:
        """Answered through the command's ``response_url`` after the acknowledgement (the
        50-meeting read and its rendering stay out of the ack)."""
        parsed = payload(SlashCommand, command, "meetings_command")
        if parsed is None:
            return
        slack_user = parsed.user_id
        arg = parsed.text.strip().lower()
        if arg not in ("", "today", "week"):
            respond(response_type="ephemeral", text=views.HELP_TEXT)
            return
        user = self.store.get_user_by_slack_id(slack_user)
        if user is None:
            respond(response_type="ephemeral", text=views.setup_text(slack_user))
            return
        now = self.runtime.clock()
        if arg == "today":
            local = now.astimezone(user.zone)
            until = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            heading = "Your meetings for the rest of today"
        else:
            until = now + timedelta(days=7)
            heading = "Your meetings in the next 7 days"
        meetings = upcoming(self.store, user, now, until)
        complete = len(meetings) < views.LIST_READ
        blocks = views.meeting_list_blocks(
            meetings, user, heading=heading, now=now, complete=complete
        )
        respond(response_type="ephemeral", text=heading, blocks=blocks)
        log_event(
            logger, logging.INFO, "slack.meetings_listed", user_id=user.user_id, count=len(meetings)
        )

    # --- Start Prep ---------------------------------------------------------------------------

    @logged
    def start_prep(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        clicked = payload(BlockActions, body, "start_prep")
        if clicked is None:
            return
        found = self._owned_meeting(clicked, client, clicked.action.value or "")
        if found is None:
            return
        meeting, user = found
        if meeting.status not in views.ACTIONABLE | {MeetingStatus.PREP_IN_PROGRESS}:
            refuse(
                clicked,
                client,
                f"Nothing to prep for this meeting ({views.status_label(meeting)}).",
            )
            return
        from_digest = is_digest_line(clicked.action.block_id)
        if not self._acknowledged(
            clicked, client, meeting, user, AckAction.START_PREP, edit_dm=from_digest
        ):
            return
        now = self.runtime.clock()
        channel = dm_channel(clicked, client)
        session, created = self.store.create_chat_session(
            ChatSession.for_meeting(meeting, user, now=now, channel_id=channel)
        )
        moved = self.store.transition_meeting(
            meeting.meeting_id,
            MeetingStatus.PREP_IN_PROGRESS,
            now=now,
            chat_session_id=session.session_id,
        )
        log_event(
            logger,
            logging.INFO,
            "slack.start_prep",
            meeting_id=meeting.meeting_id,
            session_id=session.session_id,
            created=created,
            status_moved=moved,
        )
        resume = not created and retrying() and not any(m.role == "user" for m in session.messages)
        if not created and not resume:
            # a double click or a Slack retry: the first call posted and updated. From a digest
            # (prep perhaps started elsewhere), bring its line up to date all the same.
            if from_digest:
                self._show_in_digest(clicked, client, meeting, user)
            return
        # a retry after a transient failure resumes with the opening the first attempt stored
        stored = [m.text for m in session.messages if m.role == "assistant"] if resume else []
        opening = stored[0] if stored else self.engine.start(session, meeting, user)
        client.chat_postMessage(channel=session.slack_channel_id or channel, text=opening)
        if from_digest:
            self._show_in_digest(clicked, client, meeting, user)
            return
        self._show(
            clicked,
            client,
            respond,
            blocks=views.state_blocks(meeting, user, views.IN_PROGRESS_TEXT),
            text=views.IN_PROGRESS_TEXT,
            meeting_id=meeting.meeting_id,
        )

    # --- Remind Later -------------------------------------------------------------------------

    def _remindable_meeting(
        self, body: BlockActions, client: WebClient, meeting_id: str
    ) -> tuple[Meeting, User] | None:
        """The caller's own meeting if a reminder still makes sense for it (else refuse)."""
        found = self._owned_meeting(body, client, meeting_id)
        if found is not None and found[0].status not in views.ACTIONABLE:
            refuse(
                body,
                client,
                f"No reminder needed for this meeting ({views.status_label(found[0])}).",
            )
            return None
        return found

    @logged
    def remind_later(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The button: offer the reminder times that still come before the meeting."""
        clicked = payload(BlockActions, body, "remind_later")
        if clicked is None:
            return
        found = self._remindable_meeting(clicked, client, clicked.action.value or "")
        if found is None:
            return
        meeting, user = found
        choices = reminder_choices(self.runtime.clock(), meeting, user)
        if not choices:
            refuse(clicked, client, "The meeting starts too soon for a reminder: press Start Prep.")
            return
        blocks = views.reminder_choice_blocks(meeting, user, choices)
        self._show(
            clicked,
            client,
            respond,
            blocks=blocks,
            text="When should I remind you?",
            meeting_id=meeting.meeting_id,
        )

    @logged
    def remind_choice(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """A time picked in the Remind Later menu: schedule it and say when it comes back."""
        clicked = payload(BlockActions, body, "remind_choice")
        if clicked is None:
            return
        selected = clicked.action.selected_option
        value = selected.value if selected is not None else ""
        try:
            fire_at, meeting_id = views.parse_choice_value(value)
        except ValueError:
            log_event(logger, logging.WARNING, "slack.remind_choice_malformed", value=value[:80])
            return
        found = self._remindable_meeting(clicked, client, meeting_id)
        if found is None:
            return
        meeting, user = found
        if not self._acknowledged(
            clicked, client, meeting, user, AckAction.REMIND_LATER, remind_at=fire_at
        ):
            return
        try:
            item = schedule_reminder(
                self.runtime,
                meeting,
                user,
                fire_at,
                reminder_id=f"later-{int(fire_at.timestamp())}",
            )
        except PermanentError as exc:  # the time has passed, is after the start, or no scheduler
            log_event(
                logger,
                logging.INFO,
                "slack.remind_choice_refused",
                meeting_id=meeting.meeting_id,
                code=exc.code,
            )
            refuse(
                clicked,
                client,
                "Reminders are not enabled in this deployment."
                if isinstance(exc, ConfigurationError)
                else "That time no longer works: press Remind Later again.",
            )
            return
        text = views.reminder_set_text(item.fire_at, user)
        self._show(
            clicked,
            client,
            respond,
            blocks=views.state_blocks(meeting, user, text),
            text=text,
            meeting_id=meeting.meeting_id,
        )

    # --- direct messages ----------------------------------------------------------------------

    @logged
    def direct_message(self, event: dict[str, Any], client: WebClient, req: BoltRequest) -> None:
        message = payload(MessageEvent, event, "direct_message")
        if message is None:
            return
        slack_user, channel = message.user, message.channel
        retry = bool(req.headers.get("x-slack-retry-num"))
        user = self.store.get_user_by_slack_id(slack_user)
        session = self.store.get_active_chat_session(slack_user) if user is not None else None
        if user is None or session is None:
            if not retry:  # a help reply is not worth repeating for a redelivered event
                text = views.setup_text(slack_user) if user is None else views.NO_SESSION_TEXT
                client.chat_postMessage(channel=channel, text=text)
            return
        meeting = self.store.get_meeting(session.meeting_id)
        if meeting is None:
            log_event(
                logger,
                logging.WARNING,
                "slack.session_meeting_missing",
                session_id=session.session_id,
            )
            client.chat_postMessage(
                channel=channel, text="That meeting no longer exists, so there is nothing to prep."
            )
            return
        turn = self.engine.reply(
            session,
            meeting,
            user,
            message.text or "",
            message_ts=message.ts or None,
        )
        if not turn.accepted:
            return
        client.chat_postMessage(channel=channel, text=turn.reply_text, blocks=turn.blocks)

    # --- helpers ------------------------------------------------------------------------------

    def _owned_meeting(
        self, body: BlockActions, client: WebClient, meeting_id: str
    ) -> tuple[Meeting, User] | None:
        """The meeting and its owner, if the clicking Slack user owns it; else refuse."""
        slack_user = body.user.id
        meeting = self.store.get_meeting(meeting_id) if meeting_id else None
        if meeting is None:
            refuse(body, client, "I can't find that meeting any more.")
            return None
        user = self.store.get_user_by_slack_id(slack_user)
        if user is None or user.user_id != meeting.user_id:
            log_event(
                logger,
                logging.WARNING,
                "slack.action_refused",
                meeting_id=meeting_id,
                slack_user_id=slack_user,
                reason="not the owner",
            )
            refuse(body, client, "Only the person this meeting belongs to can do that.")
            return None
        return meeting, user

    def _acknowledged(
        self,
        body: BlockActions,
        client: WebClient,
        meeting: Meeting,
        user: User,
        action: AckAction,
        *,
        remind_at: datetime | None = None,
        edit_dm: bool = False,
    ) -> bool:
        """Record the click as the cycle's acknowledgement (:mod:`~exec_assistant.workflows.
        acknowledge`). False (and an "already handled" answer) when another answer stands; a
        Slack answer of the same action goes on (a double click or a retry is idempotent)."""
        outcome = acknowledge(
            self.runtime,
            meeting,
            user,
            channel=Channel.SLACK,
            action=action,
            remind_at=remind_at,
            detail=body.user.id,
            edit_dm=edit_dm,
        )
        standing = outcome.acknowledgement
        if outcome.recorded or (
            standing is not None and standing.channel == Channel.SLACK and standing.action == action
        ):
            return True
        refuse(body, client, outcome.text)
        return False

    def _show_in_digest(
        self, body: BlockActions, client: WebClient, meeting: Meeting, user: User
    ) -> None:
        """Rewrite only the clicked meeting's line of the morning digest (the rest as sent)."""
        location, message = body.message_location(), body.message or Message()
        blocks = with_prep_started(message.blocks or [], body.action.block_id or "", meeting, user)
        if location is None or blocks is None:  # a payload without the digest's blocks
            log_event(
                logger, logging.WARNING, "slack.digest_line_missing", meeting_id=meeting.meeting_id
            )
            return
        text = message.text or PREP_STARTED
        client.chat_update(channel=location[0], ts=location[1], text=text, blocks=blocks)
        log_event(logger, logging.INFO, "slack.digest_updated", meeting_id=meeting.meeting_id)

    def _show(
        self,
        body: BlockActions,
        client: WebClient,
        respond: Respond,
        *,
        blocks: list[Block],
        text: str,
        meeting_id: str,
    ) -> None:
        """Replace the clicked message (or refresh the Home tab it was clicked on)."""
        location = body.message_location()
        if body.container.type == "view":
            self.home.publish(client, body.user.id)
        elif body.container.is_ephemeral:
            respond(replace_original=True, text=text, blocks=blocks)
        elif location is not None:
            client.chat_update(channel=location[0], ts=location[1], text=text, blocks=blocks)
        else:  # a click on a message the payload does not locate: nothing to replace
            log_event(logger, logging.WARNING, "slack.payload_malformed", fields=["container"])
            return
        log_event(logger, logging.INFO, "slack.message_updated", meeting_id=meeting_id, state=text)
