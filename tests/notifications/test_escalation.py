"""Escalation decision: when, to which channels, and when not at all."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from datetime import datetime, timedelta

import pytest

from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    MeetingStatus,
    NotificationPreferences,
    User,
)
from exec_assistant.notifications.escalation import (
    EscalationPlan,
    escalation_due_at,
    escalation_targets,
    plan_escalation,
)
from tests.notifications.conftest import NOW, make_meeting, make_user

S, M, E = Channel.SLACK, Channel.SMS, Channel.EMAIL
ALL = {S, M, E}


def delivered_record(
    channel: Channel, at: datetime, *, key: str = "mtg-qbr-1#prep", failed: tuple[Channel, ...] = ()
) -> LedgerRecord:
    attempts = [
        DeliveryAttempt(
            seq=i,
            channel=c,
            status=AttemptStatus.FAILED,
            error_class=ErrorClass.PERMANENT,
            error_code="x",
            started_at=at,
            completed_at=at,
        )
        for i, c in enumerate(failed)
    ]
    attempts.append(
        DeliveryAttempt(
            seq=len(attempts),
            channel=channel,
            status=AttemptStatus.DELIVERED,
            provider_id="p",
            started_at=at,
            completed_at=at,
        )
    )
    return LedgerRecord(
        key=key,
        meeting_id="mtg-qbr-1",
        state=LedgerState.DELIVERED,
        owner="w",
        lease_expires_at=at,
        attempts=attempts,
        delivered_channel=channel,
        created_at=at,
        updated_at=at,
        expires_at=at + timedelta(days=30),
    )


def plan(
    records: list[LedgerRecord],
    *,
    status: MeetingStatus = MeetingStatus.PREP_SCHEDULED,
    user: User | None = None,
    configured: Collection[Channel] = ALL,
    now: datetime = NOW,
) -> EscalationPlan:
    meeting = make_meeting(status=status)
    return plan_escalation(meeting, user or make_user(), records, configured, now)


def test_slack_delivered_escalates_to_sms_then_email_after_the_delay() -> None:
    result = plan([delivered_record(S, NOW)])
    assert result.escalate
    assert result.due_at == NOW + timedelta(minutes=30)
    assert result.channel_order == [M, E]
    assert "30 min" in result.reason


def test_the_users_delay_and_reachability_and_the_deployment_are_respected() -> None:
    user = make_user(phone=None, preferences=NotificationPreferences(escalation_delay_minutes=5))
    result = plan([delivered_record(S, NOW)], user=user)
    assert (result.due_at, result.channel_order) == (NOW + timedelta(minutes=5), [E])
    assert plan([delivered_record(S, NOW)], configured={S, M}).channel_order == [M]
    assert not plan([delivered_record(S, NOW)], configured={S}).escalate


def test_channels_after_the_last_delivery_and_never_one_that_delivered() -> None:
    first = delivered_record(S, NOW)
    escalated = delivered_record(M, NOW + timedelta(minutes=30), key="mtg-qbr-1#escalation:1")
    result = plan([first, escalated], now=NOW + timedelta(minutes=31))
    assert result.channel_order == [E]
    assert result.due_at == NOW + timedelta(minutes=60)
    last = delivered_record(E, NOW + timedelta(minutes=60), key="mtg-qbr-1#escalation:2")
    final = plan([first, escalated, last])
    assert not final.escalate and final.due_at is None and final.channel_order == []
    assert final.reason == "no channel after email to escalate to"


def test_a_fallback_delivery_escalates_only_past_the_channel_that_delivered() -> None:
    result = plan([delivered_record(M, NOW, failed=(S,))])
    assert result.channel_order == [E]


@pytest.mark.parametrize(
    "status",
    [MeetingStatus.PREP_IN_PROGRESS, MeetingStatus.PREP_COMPLETED, MeetingStatus.CANCELLED],
)
def test_no_escalation_once_the_user_acted_or_the_meeting_moved_on(
    status: MeetingStatus,
) -> None:
    result = plan([delivered_record(S, NOW)], status=status)
    assert not result.escalate and result.due_at is None
    assert status.value in result.reason


def test_no_escalation_without_a_delivery() -> None:
    exhausted = delivered_record(S, NOW).model_copy(update={"state": LedgerState.EXHAUSTED})
    assert plan([exhausted]).reason == "nothing has been delivered yet"
    assert not plan([]).escalate


def test_never_at_or_after_the_meeting_start() -> None:
    meeting = make_meeting()  # starts NOW + 20 h
    user = make_user()
    just_in_time = meeting.start_time - timedelta(minutes=31)
    assert escalation_due_at(meeting, user, just_in_time) == meeting.start_time - timedelta(
        minutes=1
    )
    assert escalation_due_at(meeting, user, meeting.start_time - timedelta(minutes=30)) is None
    late = plan([delivered_record(S, meeting.start_time - timedelta(minutes=10))])
    assert not late.escalate
    assert late.reason == "the escalation delay ends at or after the meeting's start"
    started = plan([delivered_record(S, NOW)], now=meeting.start_time)
    assert started.reason == "the meeting has started"


def test_an_overdue_escalation_is_due_now() -> None:
    later = NOW + timedelta(hours=2)
    assert plan([delivered_record(S, NOW)], now=later).due_at == later


@pytest.mark.parametrize(
    "configured", [set(c) for n in range(4) for c in itertools.combinations([S, M, E], n)]
)
@pytest.mark.parametrize("phone", [None, "+14155550123"])
def test_no_escalation_target_means_the_plan_never_escalates(
    configured: set[Channel], phone: str | None
) -> None:
    # The shortcut schedule_escalation takes (no ledger read) agrees with the full plan for a
    # delivery on any channel, reachable now or not.
    user = make_user(phone=phone)
    targets = escalation_targets(user, configured)
    assert targets == [c for c in (M, E) if c in configured and (c != M or phone)]
    for delivered in (S, M, E, Channel.CONSOLE):
        full = plan([delivered_record(delivered, NOW)], user=user, configured=configured)
        if not targets:
            assert not full.escalate
    if targets:  # the shortcut is not vacuous: a Slack delivery then escalates
        assert plan([delivered_record(S, NOW)], user=user, configured=configured).escalate
