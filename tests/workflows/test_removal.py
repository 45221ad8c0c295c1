"""Cancel and remove a meeting, remove a user (exec_assistant/workflows/removal.py), through the
real pipeline: SQLite store, local scheduler, prep trigger and the Slack channel on the loopback
fake. Each meeting was first notified by the calendar monitor, so it has a delivered DM and a
pending escalation check to drop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exec_assistant.errors import NotFoundError, PermanentError
from exec_assistant.models import (
    Channel,
    ChatSession,
    ChatState,
    MeetingStatus,
    User,
    chat_session_id_for,
)
from exec_assistant.runtime import Runtime
from exec_assistant.store.feeds import CalendarFeed
from exec_assistant.workflows import calendar_monitor
from exec_assistant.workflows.calendar_changes import CANCELLED_HEADER
from exec_assistant.workflows.digest import digest_schedule_name, plan_digest
from exec_assistant.workflows.feeds import feed_store
from exec_assistant.workflows.reminders import meeting_schedule_prefixes
from exec_assistant.workflows.removal import cancel_meeting, remove_meeting, remove_user
from tests.fakes.slack_api import FakeSlackAPI
from tests.workflows.conftest import Clock, CountingChannel, add_meeting, slack_runtime

T0 = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def rt(tmp_path: Path, fake: FakeSlackAPI) -> Iterator[Runtime]:
    sms = CountingChannel(Channel.SMS)  # a next channel, so each DM gets an escalation check
    runtime = slack_runtime(tmp_path / "ea.db", fake.url, Clock(T0), sms=sms)
    user = runtime.store.put_user(
        User(
            user_id="usr-ada",
            name="Ada Exec",
            slack_user_id="U0ADA",
            phone="+14155550123",
            timezone="UTC",
        )
    )
    add_meeting(runtime, user, "mtg-a", start=T0 + timedelta(hours=3))
    add_meeting(runtime, user, "mtg-b", start=T0 + timedelta(hours=5))
    assert sorted(calendar_monitor.run_once(runtime).published) == ["mtg-a", "mtg-b"]
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert pending(runtime, "mtg-a") and pending(runtime, "mtg-b")  # escalation checks
    yield runtime
    runtime.close()


def pending(runtime: Runtime, meeting_id: str) -> list[str]:
    return [
        i.name for p in meeting_schedule_prefixes(meeting_id) for i in runtime.scheduler.pending(p)
    ]


def edits_of(fake: FakeSlackAPI) -> list[str]:
    """The header of every chat.update the fake received."""
    return [str(c.params.get("blocks", "")) for c in fake.calls_to("chat.update")]


def test_cancel_drops_the_work_edits_the_dm_and_keeps_the_meeting(
    rt: Runtime, fake: FakeSlackAPI
) -> None:
    result = cancel_meeting(rt, "mtg-a")
    assert result.cancelled and not result.removed
    meeting = rt.store.get_meeting("mtg-a")
    assert meeting is not None and meeting.status is MeetingStatus.CANCELLED
    assert pending(rt, "mtg-a") == [] and result.schedules_deleted
    (edit,) = edits_of(fake)
    assert CANCELLED_HEADER in edit and "start_prep" not in edit.lower()
    assert pending(rt, "mtg-b")  # the other meeting keeps its work

    again = cancel_meeting(rt, "mtg-a")  # twice: nothing new besides the same edit
    assert not again.cancelled and again.schedules_deleted == []
    assert len(fake.calls_to("chat.postMessage")) == 2
    calendar_monitor.run_once(rt)
    assert len(fake.calls_to("chat.postMessage")) == 2  # nothing is sent for it again


def test_remove_deletes_the_record_and_keeps_the_history(rt: Runtime, fake: FakeSlackAPI) -> None:
    result = remove_meeting(rt, "mtg-a")
    assert result.removed and result.messages_edited
    assert rt.store.get_meeting("mtg-a") is None
    assert pending(rt, "mtg-a") == []
    assert [r.key for r in rt.store.list_notifications_for_meeting("mtg-a")] == ["mtg-a#prep"]
    calendar_monitor.run_once(rt)
    assert len(fake.calls_to("chat.postMessage")) == 2
    with pytest.raises(NotFoundError):
        remove_meeting(rt, "mtg-a")


def test_an_unfinished_prep_conversation_ends(rt: Runtime) -> None:
    session_id = chat_session_id_for("mtg-a")
    rt.store.create_chat_session(
        ChatSession(
            session_id=session_id,
            meeting_id="mtg-a",
            user_id="usr-ada",
            slack_user_id="U0ADA",
            step=1,
            expires_at=T0 + timedelta(days=1),
        )
    )
    assert rt.store.transition_meeting("mtg-a", MeetingStatus.PREP_IN_PROGRESS, now=T0)
    assert rt.store.get_active_chat_session("U0ADA") is not None
    assert remove_meeting(rt, "mtg-a").conversation_ended
    session = rt.store.get_chat_session(session_id)
    assert session is not None and session.state is ChatState.EXPIRED
    assert rt.store.get_active_chat_session("U0ADA") is None


def test_a_completed_meeting_cannot_be_cancelled_and_nothing_changes(
    rt: Runtime, fake: FakeSlackAPI
) -> None:
    assert rt.store.transition_meeting("mtg-a", MeetingStatus.COMPLETED, now=T0)
    before = pending(rt, "mtg-a")
    with pytest.raises(PermanentError, match="COMPLETED"):
        cancel_meeting(rt, "mtg-a")
    assert pending(rt, "mtg-a") == before and fake.calls_to("chat.update") == []


def test_a_user_with_meetings_is_refused_unless_asked(rt: Runtime, fake: FakeSlackAPI) -> None:
    feeds = feed_store(rt)
    feeds.put_feed(
        CalendarFeed(
            feed_id="feed-1",
            user_id="usr-ada",
            url="https://calendar.example.com/secret.ics",
            next_check_at=T0,
        )
    )
    user = rt.store.get_user("usr-ada")
    assert user is not None and plan_digest(rt, user) is not None
    assert rt.scheduler.pending(digest_schedule_name("usr-ada"))

    with pytest.raises(PermanentError, match="--with-meetings"):
        remove_user(rt, "usr-ada")
    assert rt.store.get_user("usr-ada") is not None  # refused: nothing changed
    assert rt.store.get_meeting("mtg-a") is not None and pending(rt, "mtg-a")
    assert feeds.get_feed("feed-1") is not None

    result = remove_user(rt, "usr-ada", with_meetings=True)
    assert sorted(m.meeting_id for m in result.meetings) == ["mtg-a", "mtg-b"]
    assert result.feeds_removed == 1
    assert rt.store.get_user("usr-ada") is None
    assert rt.store.get_meeting("mtg-a") is None and rt.store.get_meeting("mtg-b") is None
    assert pending(rt, "mtg-a") == [] and pending(rt, "mtg-b") == []
    assert rt.scheduler.pending(digest_schedule_name("usr-ada")) == []
    assert feeds.get_feed("feed-1") is None
    assert len(edits_of(fake)) == 2
    feeds.close()
    with pytest.raises(NotFoundError):
        remove_user(rt, "usr-ada")
