"""The App Home tab: the executive's upcoming meetings and their prep status, the last
notification (from the meeting's timeline), and the executive's own settings with an **Edit
settings** button that opens a modal.

* ``views.publish`` replaces the whole view, so publishing twice shows the same (a retried
  ``app_home_opened`` repeats nothing).
* The settings modal (:mod:`~exec_assistant.interfaces.settings_views`) is checked when it is
  submitted, before the acknowledgement: a field that does not parse is answered with
  ``response_action: errors`` (the modal stays open, showing it) and nothing changes. A valid
  submission is acknowledged (the modal closes), then saved through
  :func:`~exec_assistant.workflows.user_settings.change_settings`, as ``exec-assistant users
  set`` saves (the digest re-planned on EventBridge Scheduler or the local scheduler), and the
  Home tab is published again.
* Only the executive's own settings: the user is the one whose Slack id submitted the modal,
  never one named in the payload.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from exec_assistant.errors import ConfigurationError
from exec_assistant.interfaces import settings_views, slack_views
from exec_assistant.interfaces.listener_kit import logged, payload, refuse
from exec_assistant.interfaces.slack_payloads import BlockActions, HomeOpened, ViewSubmission, parse
from exec_assistant.logs import log_event
from exec_assistant.models import Meeting, MeetingStatus, User
from exec_assistant.notifications.rendering import Block
from exec_assistant.runtime import Runtime
from exec_assistant.store.base import Store
from exec_assistant.workflows.digest import plan_digest
from exec_assistant.workflows.timeline import build_timeline
from exec_assistant.workflows.user_settings import change_settings

logger = logging.getLogger(__name__)

HOME_DAYS = 7


def upcoming(store: Store, user: User, now: datetime, until: datetime) -> list[Meeting]:
    """What a listing shows, and one more: the store reads and validates no further."""
    return store.list_meetings_for_user(
        user.user_id,
        now,
        until,
        limit=slack_views.LIST_READ,
        exclude=(MeetingStatus.CANCELLED,),
    )


def last_notification(store: Store, meetings: list[Meeting], user: User) -> Block | None:
    """The line for the most recently notified of ``meetings``: its timeline's latest cycle
    (one ledger read); None when none of them has been notified."""
    notified = [m for m in meetings if m.notified_at is not None]
    if not notified:
        return None
    meeting = max(notified, key=lambda m: (m.notified_at, m.meeting_id))
    timeline = build_timeline(meeting, store.list_notifications_for_meeting(meeting.meeting_id))
    if not timeline.cycles:
        return None
    return slack_views.last_notification_block(meeting, timeline.cycles[-1], user)


def settings_errors(body: dict[str, Any]) -> dict[str, Any] | None:
    """The acknowledgement of a settings submission with fields that do not parse (the modal
    shows each field's error and stays open), or None to go on."""
    submitted = parse(ViewSubmission, body)
    if not isinstance(submitted, ViewSubmission):
        return None  # the work logs it and drops it
    _, errors = settings_views.read_settings(submitted.view.state.values)
    if not errors:
        return None
    log_event(logger, logging.INFO, "slack.settings_refused", fields=sorted(errors))
    return {"response_action": "errors", "errors": errors}


class HomeTab:
    """The App Home listeners, bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store = runtime.store

    @logged
    def home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        opened = payload(HomeOpened, event, "home_opened")
        if opened is None or opened.tab != "home":
            return
        self.publish(client, opened.user)

    def publish(self, client: WebClient, slack_user: str) -> None:
        user = self.store.get_user_by_slack_id(slack_user)
        now = self.runtime.clock()
        if user is None:
            client.views_publish(
                user_id=slack_user, view=slack_views.home_view(None, slack_user, [], now)
            )
            return
        meetings = upcoming(self.store, user, now, now + timedelta(days=HOME_DAYS))
        view = slack_views.home_view(
            user,
            slack_user,
            meetings,
            now,
            complete=len(meetings) < slack_views.LIST_READ,
            last_notification=last_notification(self.store, meetings, user),
            settings=settings_views.settings_blocks(user),
        )
        client.views_publish(user_id=slack_user, view=view)

    @logged
    def edit_settings(self, body: dict[str, Any], client: WebClient) -> None:
        """The Edit settings button: the modal with the clicking executive's own settings."""
        clicked = payload(BlockActions, body, "edit_settings")
        if clicked is None:
            return
        user = self.store.get_user_by_slack_id(clicked.user.id)
        if user is None:
            refuse(clicked, client, slack_views.setup_text(clicked.user.id))
            return
        if not clicked.trigger_id:
            log_event(logger, logging.WARNING, "slack.payload_malformed", fields=["trigger_id"])
            return
        client.views_open(trigger_id=clicked.trigger_id, view=settings_views.settings_modal(user))
        log_event(logger, logging.INFO, "slack.settings_opened", user_id=user.user_id)

    @logged
    def save_settings(self, body: dict[str, Any], client: WebClient) -> None:
        """A settings submission that :func:`settings_errors` let through: save it for the
        executive who submitted it, then show the Home tab again."""
        submitted = payload(ViewSubmission, body, "save_settings")
        if submitted is None:
            return
        user = self.store.get_user_by_slack_id(submitted.user.id)
        if user is None:
            log_event(
                logger,
                logging.WARNING,
                "slack.settings_unknown_user",
                slack_user_id=submitted.user.id,
            )
            return
        preferences, errors = settings_views.read_settings(submitted.view.state.values)
        if errors:  # answered with the errors already
            return
        update = change_settings(
            self.store,
            user.user_id,
            fields={},
            preferences=preferences,
            plan_digest=self._plan_digest,
        )
        log_event(
            logger,
            logging.INFO,
            "slack.settings_saved",
            user_id=user.user_id,
            digest_replanned=update.replanned,
            digest_planned=update.planned,
        )
        self.publish(client, submitted.user.id)

    def _plan_digest(self, user: User) -> str | None:
        """Re-plan the digest; a deployment without schedules (``enable_prep_notification``
        off) has no digest to plan: the settings are saved all the same, and that is logged."""
        try:
            return plan_digest(self.runtime, user)
        except ConfigurationError as exc:
            log_event(
                logger,
                logging.WARNING,
                "slack.settings_digest_not_planned",
                user_id=user.user_id,
                code=exc.code,
            )
            return None
