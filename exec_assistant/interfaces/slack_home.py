"""The App Home tab: the executive's upcoming meetings and their prep status.

``views.publish`` replaces the whole view, so publishing twice shows the same (a retried
``app_home_opened`` repeats nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from exec_assistant.interfaces import slack_views as views
from exec_assistant.interfaces.listener_kit import logged, payload
from exec_assistant.interfaces.slack_payloads import HomeOpened
from exec_assistant.models import Meeting, MeetingStatus, User
from exec_assistant.runtime import Runtime
from exec_assistant.store.base import Store

HOME_DAYS = 7


def upcoming(store: Store, user: User, now: datetime, until: datetime) -> list[Meeting]:
    """What a listing shows, and one more: the store reads and validates no further."""
    return store.list_meetings_for_user(
        user.user_id,
        now,
        until,
        limit=views.LIST_READ,
        exclude=(MeetingStatus.CANCELLED,),
    )


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
        meetings = (
            upcoming(self.store, user, now, now + timedelta(days=HOME_DAYS))
            if user is not None
            else []
        )
        complete = len(meetings) < views.LIST_READ
        client.views_publish(
            user_id=slack_user,
            view=views.home_view(user, slack_user, meetings, now, complete=complete),
        )
