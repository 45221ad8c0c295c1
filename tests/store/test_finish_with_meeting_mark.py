"""The Store contract of ``finish_notification(..., mark=...)``: a DELIVERED finish that also
writes the meeting's side of the delivery (the prep trigger's last step when nothing can be
escalated to), on every implementation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exec_assistant.errors import LeaseLostError
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    LedgerRecord,
    LedgerState,
    MeetingStatus,
    NotificationStatus,
)
from exec_assistant.store.base import MeetingMark, Store
from tests.store.conftest import NOW, make_meeting

S = MeetingStatus
KEY = "mtg-1#prep"
MARK = MeetingMark("prep", S.PREP_SCHEDULED, (S.DISCOVERED, S.PREP_REQUIRED))
DONE_AT = NOW + timedelta(seconds=2)


def _claimed_with_attempt(store: Store) -> DeliveryAttempt:
    """A live claim of ``owner-a`` on KEY with its Slack attempt STARTED; returns that attempt
    completed as delivered (what the finish writes)."""
    store.claim_notification(KEY, "mtg-1", owner="owner-a", now=NOW, lease_seconds=60)
    started = DeliveryAttempt(seq=0, channel=Channel.SLACK, owner="owner-a", started_at=NOW)
    store.record_attempt(KEY, owner="owner-a", attempt=started)
    return started.model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": "D1:1.2", "completed_at": DONE_AT}
    )


def _finish(store: Store, completed: DeliveryAttempt, owner: str = "owner-a") -> LedgerRecord:
    return store.finish_notification(
        KEY,
        owner=owner,
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SLACK,
        now=DONE_AT,
        completed=completed,
        mark=MARK,
    )


@pytest.mark.parametrize(("status", "moves"), [(S.DISCOVERED, True), (S.PREP_SCHEDULED, False)])
def test_a_marked_finish_writes_the_meeting_and_marks_the_record(
    store: Store, status: MeetingStatus, moves: bool
) -> None:
    store.upsert_meeting_calendar(make_meeting())
    if status != S.DISCOVERED:
        assert store.transition_meeting("mtg-1", status, now=NOW)
    delivered = _claimed_with_attempt(store)

    record = _finish(store, delivered)

    assert record == store.get_notification(KEY)
    assert record.state == LedgerState.DELIVERED and record.attempts == [delivered]
    assert record.meeting_recorded_at == DONE_AT
    meeting = store.get_meeting("mtg-1")
    assert meeting is not None
    assert meeting.status == (S.PREP_SCHEDULED if moves else status)
    assert (meeting.notification_status, meeting.notification_channel) == (
        NotificationStatus.DELIVERED,
        Channel.SLACK,
    )
    assert (meeting.notification_cycle, meeting.notified_at) == ("prep", DONE_AT)
    assert meeting.updated_at == DONE_AT


def test_a_marked_finish_of_a_missing_meeting_finishes_the_ledger_unmarked(store: Store) -> None:
    delivered = _claimed_with_attempt(store)  # no meeting stored

    record = _finish(store, delivered)

    assert record.state == LedgerState.DELIVERED
    assert record.meeting_recorded_at is None
    assert store.get_notification(KEY) == record
    assert store.get_meeting("mtg-1") is None


def test_a_refused_marked_finish_writes_nothing(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    delivered = _claimed_with_attempt(store)
    before = store.get_meeting("mtg-1")

    with pytest.raises(LeaseLostError):
        _finish(store, delivered, owner="intruder")

    assert store.get_meeting("mtg-1") == before
    record = store.get_notification(KEY)
    assert record is not None
    assert (record.state, record.meeting_recorded_at) == (LedgerState.IN_PROGRESS, None)


def test_a_resent_marked_finish_is_the_senders_own(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    delivered = _claimed_with_attempt(store)
    first = _finish(store, delivered)

    again = _finish(store, delivered)  # its first answer lost: the same write sent again

    assert again == store.get_notification(KEY) == first


@pytest.mark.parametrize("state", [LedgerState.RELEASED, LedgerState.EXHAUSTED])
def test_a_mark_goes_with_a_delivered_finish_only(store: Store, state: LedgerState) -> None:
    store.claim_notification(KEY, "mtg-1", owner="owner-a", now=NOW, lease_seconds=60)
    with pytest.raises(ValueError, match="DELIVERED"):
        store.finish_notification(
            KEY, owner="owner-a", state=state, delivered_channel=None, now=NOW, mark=MARK
        )
