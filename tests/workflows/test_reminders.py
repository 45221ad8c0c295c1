"""Remind Later and escalation loops through the local scheduler and the real trigger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exec_assistant.errors import PermanentError
from exec_assistant.events.local_scheduler import LocalScheduler
from exec_assistant.models import Channel, Meeting, MeetingStatus, User
from exec_assistant.notifications.types import NotificationKind
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.prep_trigger_handler import handle_event
from exec_assistant.workflows.reminders import (
    cancel_escalation,
    reminder_choices,
    reminder_schedule_name,
    schedule_reminder,
)
from tests.workflows.conftest import NOW, Clock, CountingChannel, add_meeting
from tests.workflows.test_prep_trigger import envelope


def _scheduler(runtime: Runtime) -> LocalScheduler:
    assert isinstance(runtime.scheduler, LocalScheduler)
    return runtime.scheduler


def _notify_initial(runtime: Runtime) -> None:
    assert handle_event(envelope(), runtime).action == "notified"


def test_remind_later_fires_once_and_notifies_exactly_once_more(
    runtime: Runtime,
    meeting: Meeting,
    user: User,
    slack: CountingChannel,
    sms: CountingChannel,
    clock: Clock,
) -> None:
    _notify_initial(runtime)
    clock.advance(timedelta(minutes=5))
    # The user clicks Remind Later → "in 1 hour": what the Slack listener does.
    cancel_escalation(runtime, meeting)
    item = schedule_reminder(runtime, meeting, user, clock() + timedelta(hours=1))
    assert [p.name for p in _scheduler(runtime).pending()] == [item.name]
    assert len(item.name) <= 64

    assert _scheduler(runtime).run_due(clock() + timedelta(minutes=59)) == 0
    clock.advance(timedelta(hours=1))
    assert _scheduler(runtime).run_due() == 1
    assert _scheduler(runtime).run_due() == 0

    assert [n.kind for n in slack.sent] == [NotificationKind.INITIAL, NotificationKind.REMINDER]
    assert sms.sent == []
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.status == MeetingStatus.PREP_SCHEDULED
    assert stored.notification_cycle == f"reminder:{item.event.detail['reminder_id']}"


def test_the_same_reminder_scheduled_twice_fires_once(
    runtime: Runtime, meeting: Meeting, user: User, slack: CountingChannel, clock: Clock
) -> None:
    fire_at = clock() + timedelta(minutes=15)
    first = schedule_reminder(runtime, meeting, user, fire_at, reminder_id="click-1")
    second = schedule_reminder(runtime, meeting, user, fire_at, reminder_id="click-1")
    assert first == second
    clock.advance(timedelta(minutes=15))
    assert _scheduler(runtime).run_due() == 1
    assert len(slack.sent) == 1
    assert first.name == reminder_schedule_name(meeting.meeting_id, "click-1")


def test_reminders_are_refused_at_or_after_the_start_in_the_past_or_for_another_user(
    runtime: Runtime, meeting: Meeting, user: User
) -> None:
    with pytest.raises(PermanentError, match="after meeting"):
        schedule_reminder(runtime, meeting, user, meeting.start_time)
    with pytest.raises(PermanentError, match="future"):
        schedule_reminder(runtime, meeting, user, NOW - timedelta(minutes=1))
    stranger = user.model_copy(update={"user_id": "usr-other"})
    with pytest.raises(PermanentError, match="does not own"):
        schedule_reminder(runtime, meeting, stranger, NOW + timedelta(minutes=15))
    assert _scheduler(runtime).pending() == []


def test_unanswered_delivery_escalates_to_the_next_channel(
    runtime: Runtime,
    meeting: Meeting,
    slack: CountingChannel,
    sms: CountingChannel,
    clock: Clock,
) -> None:
    _notify_initial(runtime)
    assert _scheduler(runtime).run_due(clock() + timedelta(minutes=29)) == 0

    clock.advance(timedelta(minutes=30))
    assert _scheduler(runtime).run_due() == 1

    assert [n.kind for n in slack.sent] == [NotificationKind.INITIAL]
    assert [n.kind for n in sms.sent] == [NotificationKind.ESCALATION]
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    assert stored.notification_channel == Channel.SMS
    # Email is not configured here: nothing is left to escalate to, so no further check.
    assert _scheduler(runtime).pending() == []


def test_start_prep_cancels_the_escalation(
    runtime: Runtime,
    meeting: Meeting,
    sms: CountingChannel,
    clock: Clock,
) -> None:
    _notify_initial(runtime)
    assert len(_scheduler(runtime).pending()) == 1

    runtime.store.transition_meeting(meeting.meeting_id, MeetingStatus.PREP_IN_PROGRESS, now=NOW)
    cancel_escalation(runtime, meeting)

    assert _scheduler(runtime).pending() == []
    clock.advance(timedelta(hours=1))
    assert _scheduler(runtime).run_due() == 0
    assert sms.sent == []


def test_an_escalation_that_fires_after_the_user_acted_is_skipped(
    runtime: Runtime, meeting: Meeting, sms: CountingChannel, clock: Clock
) -> None:
    _notify_initial(runtime)
    runtime.store.transition_meeting(meeting.meeting_id, MeetingStatus.PREP_IN_PROGRESS, now=NOW)
    clock.advance(timedelta(minutes=30))

    assert _scheduler(runtime).run_due() == 1  # the check fires (cancel never came) ...
    assert sms.sent == []  # ... and finds the user already acted


def test_no_escalation_is_scheduled_when_it_would_come_after_the_start(
    runtime: Runtime, user: User, slack: CountingChannel
) -> None:
    add_meeting(runtime, user, "mtg-2026-11-25-qbr", start=NOW + timedelta(minutes=20))
    _notify_initial(runtime)
    assert len(slack.sent) == 1
    assert _scheduler(runtime).pending() == []


def _meeting(start: datetime) -> Meeting:
    return Meeting(
        meeting_id="m",
        user_id="usr-7f3c",
        title="t",
        start_time=start,
        end_time=start + timedelta(hours=1),
    )


def test_reminder_choices_in_the_users_time_zone(user: User) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 04:00 in New York
    far = reminder_choices(now, _meeting(now + timedelta(days=2)), user)
    assert [c.key for c in far] == ["15m", "1h", "3h", "tomorrow"]
    assert far[0].fire_at == now + timedelta(minutes=15)
    assert far[3].fire_at == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert "08:00" in far[3].label

    near = reminder_choices(now, _meeting(now + timedelta(hours=2)), user)
    assert [c.key for c in near] == ["15m", "1h"]
    assert reminder_choices(now, _meeting(now + timedelta(minutes=10)), user) == []


def test_tomorrow_morning_across_a_dst_change(user: User) -> None:
    now = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)  # Saturday 15:00 EST; DST starts Sunday
    choices = reminder_choices(now, _meeting(now + timedelta(days=3)), user)
    assert choices[-1].fire_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT
