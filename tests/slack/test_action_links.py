"""Email action links: signed, expiring, single-use; GET confirms, POST acts.

The real runtime with the Slack channel on the loopback Slack fake; links are made by the email
channel's own :class:`ActionLinks` and taken apart by the pages, as in production.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr

from exec_assistant.config import Settings
from exec_assistant.interfaces import action_pages
from exec_assistant.models import AckAction, Channel, Meeting, MeetingStatus, User
from exec_assistant.notifications.action_links import (
    ACTIONS_PATH,
    ActionLinks,
    make_token,
)
from exec_assistant.notifications.rendering import email_message
from exec_assistant.notifications.types import PrepNotification
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.acknowledge import latest_cycle_key
from exec_assistant.workflows.prep_conversation import QuestionnaireEngine
from exec_assistant.workflows.reminders import meeting_schedule_prefixes
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import T0, Clock, bot_settings
from tests.slack.test_acknowledgements import escalations, notify, standing

LINK_KEY = "link-signing-key-0123456789abcdef0123456789"
PUBLIC = "https://hooks.example.test"


@pytest.fixture
def settings(fake_slack: FakeSlackAPI, tmp_path: Any) -> Settings:
    return bot_settings(
        fake_slack, tmp_path, action_link_secret=SecretStr(LINK_KEY), public_base_url=PUBLIC
    )


def links(runtime: Runtime, meeting: Meeting, user: User) -> dict[AckAction, str]:
    """The tokens of the links the email for the meeting's latest cycle carries."""
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    notification = PrepNotification(meeting=stored, user=user, key=latest_cycle_key(stored) or "")
    built = ActionLinks(secret=lambda: LINK_KEY, base_url=PUBLIC, clock=runtime.clock)
    urls = built.for_notification(notification)
    content = email_message(notification, urls)
    tokens: dict[AckAction, str] = {}
    for label, url in urls.items():
        assert url in content.text
        assert f'href="{url}"' in content.html
        assert url.startswith(PUBLIC + ACTIONS_PATH)
        action = AckAction.START_PREP if label == "Start Prep" else AckAction.REMIND_LATER
        tokens[action] = urlsplit(url).path.removeprefix(ACTIONS_PATH)
    return tokens


def engine(runtime: Runtime) -> QuestionnaireEngine:
    return QuestionnaireEngine(runtime.store, clock=runtime.clock)


def snapshot(runtime: Runtime, meeting: Meeting) -> tuple[Any, ...]:
    return (
        runtime.store.get_meeting(meeting.meeting_id),
        runtime.store.list_notifications_for_meeting(meeting.meeting_id),
        runtime.scheduler.pending(""),
    )


def test_get_confirms_and_post_starts_prep_once(
    runtime: Runtime, owner: User, meeting: Meeting, fake_slack: FakeSlackAPI
) -> None:
    notify(runtime, meeting)
    tokens = links(runtime, meeting, owner)
    fake_slack.reset()
    before = snapshot(runtime, meeting)

    shown = action_pages.show(runtime, tokens[AckAction.START_PREP])
    assert shown.status == 200
    assert '<form method="post"' in shown.body
    assert "Q1 board review" in shown.body
    assert snapshot(runtime, meeting) == before  # a GET (a mail scanner) changes nothing
    assert fake_slack.calls == []

    done = action_pages.confirm(runtime, engine(runtime), tokens[AckAction.START_PREP])
    assert done.status == 200
    assert "Prep started from email at 10:00" in done.body
    ack = standing(runtime, meeting)
    assert (ack.channel, ack.action) == (Channel.EMAIL, AckAction.START_PREP)
    assert escalations(runtime, meeting) == []
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.PREP_IN_PROGRESS
    (update,) = fake_slack.calls_to("chat.update")
    assert update.params["text"] == "Prep started from email at 10:00"
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # the opening question
    fake_slack.reset()
    after = snapshot(runtime, meeting)

    replayed = action_pages.confirm(runtime, engine(runtime), tokens[AckAction.START_PREP])
    assert replayed.status == 409
    assert "Link already used" in replayed.body
    other = action_pages.confirm(runtime, engine(runtime), tokens[AckAction.REMIND_LATER])
    assert other.status == 409
    assert "Already handled: Prep started from email at 10:00." in other.body
    assert snapshot(runtime, meeting) == after
    assert fake_slack.calls == []


def test_remind_later_link_snoozes(
    runtime: Runtime, owner: User, meeting: Meeting, fake_slack: FakeSlackAPI
) -> None:
    notify(runtime, meeting)
    tokens = links(runtime, meeting, owner)
    done = action_pages.confirm(runtime, engine(runtime), tokens[AckAction.REMIND_LATER])
    assert "Snoozed until 10:30 from email" in done.body
    (reminder,) = runtime.scheduler.pending(meeting_schedule_prefixes(meeting.meeting_id)[0])
    assert reminder.fire_at == T0 + timedelta(minutes=30)


def _tampered(token: str) -> list[str]:
    payload, _, signature = token.rpartition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return [
        f"{payload}.{flipped}",  # signature altered
        f"{payload[:-2]}xx.{signature}",  # payload altered
        token[: len(token) // 2],  # cut
        make_token(
            "another-key-0123456789abcdef0123456789",
            key="mtg-board-review#prep",
            meeting_id="mtg-board-review",
            action=AckAction.START_PREP,
            now=T0,
            meeting_start=T0 + timedelta(hours=5),
        ),  # signed with another key
    ]


def test_tampered_links_show_a_clear_page_and_change_nothing(
    runtime: Runtime, owner: User, meeting: Meeting, fake_slack: FakeSlackAPI
) -> None:
    notify(runtime, meeting)
    tokens = links(runtime, meeting, owner)
    fake_slack.reset()
    before = snapshot(runtime, meeting)
    for bad in _tampered(tokens[AckAction.START_PREP]):
        for reply in (
            action_pages.show(runtime, bad),
            action_pages.confirm(runtime, engine(runtime), bad),
        ):
            assert reply.status == 404
            assert "Link not recognised" in reply.body
    assert snapshot(runtime, meeting) == before
    assert fake_slack.calls == []


def test_expired_links_show_a_clear_page_and_change_nothing(
    runtime: Runtime, owner: User, meeting: Meeting, clock: Clock, fake_slack: FakeSlackAPI
) -> None:
    notify(runtime, meeting)
    tokens = links(runtime, meeting, owner)
    fake_slack.reset()
    before = snapshot(runtime, meeting)
    clock.advance(timedelta(hours=5))  # the meeting starts: its links expire with it
    for reply in (
        action_pages.show(runtime, tokens[AckAction.START_PREP]),
        action_pages.confirm(runtime, engine(runtime), tokens[AckAction.REMIND_LATER]),
    ):
        assert reply.status == 410
        assert "Link expired" in reply.body
    assert snapshot(runtime, meeting) == before
    assert fake_slack.calls == []


def test_links_from_a_deployment_without_a_key_change_nothing(
    runtime: Runtime, owner: User, meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify(runtime, meeting)
    tokens = links(runtime, meeting, owner)
    monkeypatch.setattr(runtime.settings, "action_link_secret", None)
    before = snapshot(runtime, meeting)
    assert (
        action_pages.confirm(runtime, engine(runtime), tokens[AckAction.START_PREP]).status == 503
    )
    assert snapshot(runtime, meeting) == before


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(max_size=300))
def test_fuzzed_tokens_never_5xx_and_change_nothing(
    runtime: Runtime, owner: User, meeting: Meeting, token: str
) -> None:
    before = snapshot(runtime, meeting)
    for reply in (
        action_pages.show(runtime, token),
        action_pages.confirm(runtime, engine(runtime), token),
    ):
        assert reply.status in (404, 410)
        assert reply.body.startswith("<!DOCTYPE html>")
    assert snapshot(runtime, meeting) == before


def test_email_values_and_links_are_escaped(owner: User, meeting: Meeting) -> None:
    hostile = meeting.model_copy(update={"title": '<script>alert(1)</script>"'})
    notification = PrepNotification(meeting=hostile, user=owner, key="k")
    content = email_message(notification, {"Start Prep": 'https://x.test/actions/a"b<c'})
    assert "<script>" not in content.html
    assert 'href="https://x.test/actions/a&quot;b&lt;c"' in content.html
