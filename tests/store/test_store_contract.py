"""The Store contract (exec_assistant/store/base.py), run against every implementation."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exec_assistant.errors import LeaseLostError, NotFoundError
from exec_assistant.models import (
    ALLOWED_TRANSITIONS,
    AckAction,
    Acknowledgement,
    AttemptStatus,
    Channel,
    ChatMessage,
    ChatSession,
    ChatState,
    ClaimOutcome,
    DeliveryAttempt,
    ErrorClass,
    LedgerRecord,
    LedgerState,
    MeetingStatus,
    NotificationStatus,
    chat_session_id_for,
)
from exec_assistant.store.base import LEDGER_RETENTION_DAYS, Store
from tests.store.conftest import NOW, make_meeting, make_user

S = MeetingStatus


# --- users --------------------------------------------------------------------------------


def test_user_round_trip_and_missing(store: Store) -> None:
    user = make_user()
    assert store.put_user(user) == user
    assert store.get_user("usr-1") == user
    assert store.get_user("nobody") is None


def test_put_user_replaces_fields_but_keeps_created_at(store: Store) -> None:
    store.put_user(make_user())
    later = NOW + timedelta(days=1)
    updated = make_user(
        name="Ada Lovelace", phone=None, slack_user_id="UNEW1", created_at=later, updated_at=later
    )
    stored = store.put_user(updated)
    assert stored.created_at == NOW
    assert stored.name == "Ada Lovelace"
    assert stored.phone is None
    assert store.get_user("usr-1") == stored
    assert store.get_user_by_slack_id("UNEW1") == stored
    assert store.get_user_by_slack_id("U0USR1") is None  # the old Slack id no longer resolves


def test_user_by_slack_id(store: Store) -> None:
    store.put_user(make_user("usr-1"))
    store.put_user(make_user("usr-2", slack_user_id="U222"))
    store.put_user(make_user("usr-3", slack_user_id=None))
    found = store.get_user_by_slack_id("U222")
    assert found is not None
    assert found.user_id == "usr-2"
    assert store.get_user_by_slack_id("U999") is None


def test_list_users_sorted_by_id(store: Store) -> None:
    for user_id in ("usr-b", "usr-c", "usr-a"):
        store.put_user(make_user(user_id))
    assert [u.user_id for u in store.list_users()] == ["usr-a", "usr-b", "usr-c"]


def test_user_preferences_round_trip(store: Store) -> None:
    user = make_user(
        preferences={
            "channel_order": ["email", "slack"],
            "quiet_hours": {"start": "22:00", "end": "07:00"},
            "escalation_delay_minutes": 45,
        }
    )
    store.put_user(user)
    assert store.get_user(user.user_id) == user


def test_delete_user_removes_it_from_every_read(store: Store) -> None:
    store.put_user(make_user("usr-1"))
    store.put_user(make_user("usr-2"))
    assert store.delete_user("usr-1") is True
    assert store.get_user("usr-1") is None
    assert store.get_user_by_slack_id("U0USR1") is None
    assert [u.user_id for u in store.list_users()] == ["usr-2"]
    assert store.delete_user("usr-1") is False  # twice: nothing there, nothing else touched
    assert store.delete_user("nobody") is False
    assert store.get_user("usr-2") is not None


# --- meetings -----------------------------------------------------------------------------


def test_meeting_created_by_upsert(store: Store) -> None:
    meeting = make_meeting()
    assert store.upsert_meeting_calendar(meeting) == meeting
    assert store.get_meeting("mtg-1") == meeting
    assert store.get_meeting("mtg-missing") is None


def test_reimport_updates_calendar_fields_and_never_wipes_workflow_state(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    assert store.transition_meeting(
        "mtg-1", S.PREP_IN_PROGRESS, now=NOW, chat_session_id="chat-mtg-1"
    )
    store.record_meeting_notification(
        "mtg-1", status=NotificationStatus.DELIVERED, channel=Channel.SMS, cycle="prep", at=NOW
    )
    later = NOW + timedelta(hours=2)
    reimported = make_meeting(
        title="QBR (moved)",
        hours=48,
        organizer=None,
        attendees=["cfo@example.com", "coo@example.com"],
        created_at=later,
        updated_at=later,
    )
    assert reimported.status == S.DISCOVERED  # a fresh import knows nothing of the workflow
    stored = store.upsert_meeting_calendar(reimported)
    assert store.get_meeting("mtg-1") == stored
    assert stored.title == "QBR (moved)"
    assert stored.start_time == NOW + timedelta(hours=48)
    assert stored.organizer is None
    assert stored.attendees == ["cfo@example.com", "coo@example.com"]
    assert stored.updated_at == later
    assert stored.created_at == NOW
    assert stored.status == S.PREP_IN_PROGRESS
    assert stored.chat_session_id == "chat-mtg-1"
    assert stored.notification_status == NotificationStatus.DELIVERED
    assert stored.notification_channel == Channel.SMS
    assert stored.notification_cycle == "prep"
    assert stored.notified_at == NOW


def test_meetings_for_user_in_window_ordered_and_bounded(store: Store) -> None:
    for meeting_id, hours in [("m-c", 30), ("m-a", 10), ("m-b", 20), ("m-edge", 40), ("m-x", 5)]:
        store.upsert_meeting_calendar(make_meeting(meeting_id, hours=hours))
    store.upsert_meeting_calendar(make_meeting("m-other", user_id="usr-2", hours=20))
    start, end = NOW + timedelta(hours=10), NOW + timedelta(hours=40)
    found = store.list_meetings_for_user("usr-1", start, end)
    # start_from is inclusive (m-a starts exactly then), start_until exclusive (m-edge excluded)
    assert [m.meeting_id for m in found] == ["m-a", "m-b", "m-c"]
    assert store.list_meetings_for_user("usr-nobody", start, end) == []


def test_meetings_with_equal_start_are_ordered_by_id(store: Store) -> None:
    for meeting_id in ("m-2", "m-3", "m-1"):
        store.upsert_meeting_calendar(make_meeting(meeting_id, hours=5))
    found = store.list_meetings_for_user("usr-1", NOW, NOW + timedelta(days=1))
    assert [m.meeting_id for m in found] == ["m-1", "m-2", "m-3"]


def test_window_query_follows_a_rescheduled_meeting(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting("m-1", hours=5))
    store.upsert_meeting_calendar(make_meeting("m-1", hours=50))
    assert store.list_meetings_for_user("usr-1", NOW, NOW + timedelta(hours=10)) == []
    moved = store.list_meetings_for_user("usr-1", NOW, NOW + timedelta(hours=60))
    assert [m.meeting_id for m in moved] == ["m-1"]


def test_meetings_by_status_in_window(store: Store) -> None:
    for meeting_id, hours in [("m-late", 30), ("m-early", 10), ("m-out", 100)]:
        store.upsert_meeting_calendar(make_meeting(meeting_id, hours=hours))
        store.transition_meeting(meeting_id, S.PREP_REQUIRED, now=NOW)
    store.upsert_meeting_calendar(make_meeting("m-disc", user_id="usr-2", hours=20))
    start, end = NOW, NOW + timedelta(hours=50)
    required = store.list_meetings_by_status(S.PREP_REQUIRED, start, end)
    assert [m.meeting_id for m in required] == ["m-early", "m-late"]
    assert [m.meeting_id for m in store.list_meetings_by_status(S.DISCOVERED, start, end)] == [
        "m-disc"
    ]
    store.transition_meeting("m-early", S.PREP_SCHEDULED, now=NOW)
    assert [m.meeting_id for m in store.list_meetings_by_status(S.PREP_REQUIRED, start, end)] == [
        "m-late"
    ]
    assert [m.meeting_id for m in store.list_meetings_by_status(S.PREP_SCHEDULED, start, end)] == [
        "m-early"
    ]


def test_transitions_along_the_lifecycle(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    path = [S.PREP_REQUIRED, S.PREP_SCHEDULED, S.PREP_IN_PROGRESS, S.PREP_COMPLETED, S.COMPLETED]
    for step, target in enumerate(path, start=1):
        assert store.transition_meeting("mtg-1", target, now=NOW + timedelta(minutes=step))
        stored = store.get_meeting("mtg-1")
        assert stored is not None
        assert stored.status == target
        assert stored.updated_at == NOW + timedelta(minutes=step)
    for target in S:  # COMPLETED is terminal
        assert not store.transition_meeting("mtg-1", target, now=NOW)


def test_backwards_and_duplicate_transitions_are_refused(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    assert store.transition_meeting("mtg-1", S.PREP_SCHEDULED, now=NOW)
    assert not store.transition_meeting("mtg-1", S.PREP_SCHEDULED, now=NOW)  # duplicate
    assert not store.transition_meeting("mtg-1", S.PREP_REQUIRED, now=NOW)  # stale, backwards
    assert not store.transition_meeting("mtg-1", S.DISCOVERED, now=NOW)
    stored = store.get_meeting("mtg-1")
    assert stored is not None
    assert stored.status == S.PREP_SCHEDULED


def test_transition_with_expected_and_chat_session(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    assert store.transition_meeting("mtg-1", S.PREP_REQUIRED, now=NOW)
    # allowed by the table, but the caller read PREP_SCHEDULED: refused
    assert not store.transition_meeting(
        "mtg-1", S.PREP_IN_PROGRESS, now=NOW, expected=[S.PREP_SCHEDULED], chat_session_id="c-x"
    )
    stored = store.get_meeting("mtg-1")
    assert stored is not None
    assert (stored.status, stored.chat_session_id) == (S.PREP_REQUIRED, None)
    assert store.transition_meeting(
        "mtg-1",
        S.PREP_IN_PROGRESS,
        now=NOW,
        expected=[S.PREP_REQUIRED, S.PREP_SCHEDULED],
        chat_session_id="chat-mtg-1",
    )
    stored = store.get_meeting("mtg-1")
    assert stored is not None
    assert (stored.status, stored.chat_session_id) == (S.PREP_IN_PROGRESS, "chat-mtg-1")
    # an expected set that no allowed source satisfies still answers "did not move"
    assert not store.transition_meeting("mtg-1", S.PREP_COMPLETED, now=NOW, expected=[S.COMPLETED])


def test_transition_of_missing_meeting_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.transition_meeting("mtg-missing", S.PREP_REQUIRED, now=NOW)
    with pytest.raises(NotFoundError):
        store.transition_meeting("mtg-missing", S.PREP_COMPLETED, now=NOW, expected=[S.COMPLETED])


_ids = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from(list(S)),
            st.none() | st.lists(st.sampled_from(list(S)), max_size=3),
        ),
        max_size=8,
    )
)
def test_random_transitions_never_leave_the_table(
    store: Store, moves: list[tuple[S, list[S] | None]]
) -> None:
    meeting_id = f"mtg-h{next(_ids)}"
    store.upsert_meeting_calendar(make_meeting(meeting_id))
    status = S.DISCOVERED
    for target, expected in moves:
        should_move = target in ALLOWED_TRANSITIONS[status] and (
            expected is None or status in expected
        )
        moved = store.transition_meeting(meeting_id, target, now=NOW, expected=expected)
        assert moved == should_move
        if moved:
            status = target
        stored = store.get_meeting(meeting_id)
        assert stored is not None
        assert stored.status == status


def test_get_meeting_and_user_reads_both_by_key_in_one_call(store: Store) -> None:
    store.put_user(make_user("usr-1"))
    store.upsert_meeting_calendar(make_meeting("mtg-1"))
    meeting, user = store.get_meeting_and_user("mtg-1", "usr-1")
    assert (meeting, user) == (store.get_meeting("mtg-1"), store.get_user("usr-1"))
    assert meeting is not None and user is not None
    assert store.get_meeting_and_user("mtg-missing", "usr-1") == (None, user)
    assert store.get_meeting_and_user("mtg-1", "usr-missing") == (meeting, None)
    assert store.get_meeting_and_user("mtg-missing", "usr-missing") == (None, None)


def test_record_meeting_notification(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    at = NOW + timedelta(minutes=5)
    store.record_meeting_notification(
        "mtg-1", status=NotificationStatus.DELIVERED, channel=Channel.SLACK, cycle="prep", at=at
    )
    stored = store.get_meeting("mtg-1")
    assert stored is not None
    assert stored.notification_status == NotificationStatus.DELIVERED
    assert stored.notification_channel == Channel.SLACK
    assert (stored.notification_cycle, stored.notified_at, stored.updated_at) == ("prep", at, at)
    assert stored.status == S.DISCOVERED
    store.record_meeting_notification(
        "mtg-1", status=NotificationStatus.FAILED, channel=None, cycle="reminder:r1", at=at
    )
    stored = store.get_meeting("mtg-1")
    assert stored is not None
    assert (stored.notification_status, stored.notification_channel) == (
        NotificationStatus.FAILED,
        None,
    )
    with pytest.raises(NotFoundError):
        store.record_meeting_notification(
            "mtg-missing", status=NotificationStatus.FAILED, channel=None, cycle="prep", at=at
        )


def test_record_meeting_notification_with_a_key_marks_that_ledger_record(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting())
    store.claim_notification("mtg-1#prep", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    finished = store.finish_notification(
        "mtg-1#prep", owner="a", state=LedgerState.DELIVERED, delivered_channel=None, now=NOW
    )
    assert finished.meeting_recorded_at is None
    at = NOW + timedelta(minutes=5)
    store.record_meeting_notification(
        "mtg-1",
        status=NotificationStatus.DELIVERED,
        channel=Channel.SLACK,
        cycle="prep",
        at=at,
        key="mtg-1#prep",
    )
    marked = store.get_notification("mtg-1#prep")
    assert marked is not None
    assert marked.meeting_recorded_at == at
    assert marked.model_copy(update={"meeting_recorded_at": None}) == finished  # nothing else
    # a key without a record: the meeting is written, no record appears
    store.record_meeting_notification(
        "mtg-1", status=NotificationStatus.FAILED, channel=None, cycle="r", at=at, key="mtg-1#r"
    )
    assert store.get_notification("mtg-1#r") is None
    stored = store.get_meeting("mtg-1")
    assert stored is not None and stored.notification_cycle == "r"


@pytest.mark.parametrize(
    ("status", "moves"),
    [
        (S.DISCOVERED, True),
        (S.PREP_REQUIRED, True),
        (S.PREP_SCHEDULED, False),  # a reminder cycle: already there, not in move_from
        (S.PREP_IN_PROGRESS, False),  # the user clicked first: move_from refuses it
        (S.CANCELLED, False),  # no transition allows it
    ],
)
def test_record_meeting_notification_with_a_status_move(
    store: Store, status: MeetingStatus, moves: bool
) -> None:
    store.upsert_meeting_calendar(make_meeting())
    if status == S.PREP_IN_PROGRESS:
        assert store.transition_meeting("mtg-1", S.PREP_SCHEDULED, now=NOW)
    if status != S.DISCOVERED:
        assert store.transition_meeting("mtg-1", status, now=NOW)
    at = NOW + timedelta(minutes=5)
    moved = store.record_meeting_notification(
        "mtg-1",
        status=NotificationStatus.DELIVERED,
        channel=Channel.SLACK,
        cycle="prep",
        at=at,
        move_to=S.PREP_SCHEDULED,
        move_from=(S.DISCOVERED, S.PREP_REQUIRED),
    )
    assert moved is moves
    stored = store.get_meeting("mtg-1")
    assert stored is not None
    assert stored.status == (S.PREP_SCHEDULED if moves else status)
    assert (stored.notification_status, stored.notification_channel) == (
        NotificationStatus.DELIVERED,
        Channel.SLACK,
    )
    assert (stored.notification_cycle, stored.notified_at, stored.updated_at) == ("prep", at, at)
    with pytest.raises(NotFoundError):
        store.record_meeting_notification(
            "mtg-missing",
            status=NotificationStatus.DELIVERED,
            channel=Channel.SLACK,
            cycle="prep",
            at=at,
            move_to=S.PREP_SCHEDULED,
        )


# --- chat sessions ------------------------------------------------------------------------


def _session(meeting_id: str = "mtg-1", *, user_id: str = "usr-1", **kw: object) -> ChatSession:
    meeting = make_meeting(meeting_id, user_id=user_id)
    return ChatSession.for_meeting(meeting, make_user(user_id), now=NOW).model_copy(update=kw)


def test_chat_session_created_once_per_meeting(store: Store) -> None:
    first = _session()
    assert store.create_chat_session(first) == (first, True)
    second = _session(step=3, updated_at=NOW + timedelta(hours=1))
    existing, created = store.create_chat_session(second)
    assert created is False
    assert existing == first
    assert store.get_chat_session(first.session_id) == first
    assert store.get_chat_session("chat-missing") is None


def test_chat_session_id_must_be_derived_from_the_meeting(store: Store) -> None:
    with pytest.raises(ValueError, match="chat_session_id_for"):
        store.create_chat_session(_session().model_copy(update={"session_id": "other-id"}))
    assert store.get_chat_session("other-id") is None


def test_active_chat_session_of_a_slack_user(store: Store) -> None:
    older = _session("mtg-1")
    newer = _session("mtg-2", updated_at=NOW + timedelta(minutes=10))
    store.create_chat_session(older)
    store.create_chat_session(newer)
    store.create_chat_session(_session("mtg-3", user_id="usr-2"))
    active = store.get_active_chat_session("U0USR1")
    assert active is not None
    assert active.session_id == chat_session_id_for("mtg-2")
    # a message makes the older one the most recently updated
    store.append_chat_message(
        older.session_id, ChatMessage(role="user", text="hi", ts=NOW), now=NOW + timedelta(hours=1)
    )
    active = store.get_active_chat_session("U0USR1")
    assert active is not None
    assert active.session_id == older.session_id
    # completing it leaves the other active session
    assert store.advance_chat_session(
        older.session_id,
        expected_step=0,
        step=1,
        prep_answers={},
        state=ChatState.COMPLETED,
        now=NOW + timedelta(hours=2),
    )
    active = store.get_active_chat_session("U0USR1")
    assert active is not None
    assert active.session_id == newer.session_id
    assert store.get_active_chat_session("U0NOBODY") is None


def test_no_active_session_once_all_are_finished(store: Store) -> None:
    session = _session()
    store.create_chat_session(session)
    assert store.advance_chat_session(
        session.session_id,
        expected_step=0,
        step=0,
        prep_answers={},
        state=ChatState.EXPIRED,
        now=NOW,
    )
    assert store.get_active_chat_session("U0USR1") is None


def test_append_chat_messages_in_order(store: Store) -> None:
    session = _session()
    store.create_chat_session(session)
    messages = [
        ChatMessage(role="assistant", text="What outcome do you want?", ts=NOW, slack_ts="1.1"),
        ChatMessage(role="user", text="Budget approval", ts=NOW + timedelta(minutes=1)),
    ]
    for i, message in enumerate(messages):
        store.append_chat_message(session.session_id, message, now=NOW + timedelta(minutes=i))
    stored = store.get_chat_session(session.session_id)
    assert stored is not None
    assert stored.messages == messages
    assert stored.updated_at == NOW + timedelta(minutes=1)
    with pytest.raises(NotFoundError):
        store.append_chat_message("chat-missing", messages[0], now=NOW)


def test_advance_chat_session_is_conditional_on_step(store: Store) -> None:
    session = _session()
    store.create_chat_session(session)
    sid = session.session_id
    assert store.advance_chat_session(
        sid,
        expected_step=0,
        step=1,
        prep_answers={"goal": "budget"},
        state=ChatState.ACTIVE,
        now=NOW,
    )
    # a stale writer that also read step 0 is refused and changes nothing
    assert not store.advance_chat_session(
        sid,
        expected_step=0,
        step=1,
        prep_answers={"goal": "other"},
        state=ChatState.ACTIVE,
        now=NOW,
    )
    stored = store.get_chat_session(sid)
    assert stored is not None
    assert (stored.step, stored.prep_answers) == (1, {"goal": "budget"})
    answers = {"goal": "budget", "risks": "none"}
    assert store.advance_chat_session(
        sid, expected_step=1, step=2, prep_answers=answers, state=ChatState.COMPLETED, now=NOW
    )
    # a finished session does not move any more
    assert not store.advance_chat_session(
        sid, expected_step=2, step=3, prep_answers={}, state=ChatState.ACTIVE, now=NOW
    )
    stored = store.get_chat_session(sid)
    assert stored is not None
    assert (stored.step, stored.state, stored.prep_answers) == (2, ChatState.COMPLETED, answers)
    with pytest.raises(NotFoundError):
        store.advance_chat_session(
            "chat-missing",
            expected_step=0,
            step=1,
            prep_answers={},
            state=ChatState.ACTIVE,
            now=NOW,
        )


# --- notification ledger ------------------------------------------------------------------


def _attempt(seq: int, channel: Channel = Channel.SLACK) -> DeliveryAttempt:
    return DeliveryAttempt(seq=seq, channel=channel, started_at=NOW)


def test_first_claim_wins_and_others_are_busy(store: Store) -> None:
    claim = store.claim_notification("mtg-1#prep", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    assert claim.outcome == ClaimOutcome.WON
    assert claim.owned
    record = claim.record
    assert (record.key, record.meeting_id, record.state, record.owner) == (
        "mtg-1#prep",
        "mtg-1",
        LedgerState.IN_PROGRESS,
        "a",
    )
    assert record.lease_expires_at == NOW + timedelta(seconds=60)
    assert record.expires_at == NOW + timedelta(days=LEDGER_RETENTION_DAYS)
    assert store.get_notification("mtg-1#prep") == record
    busy = store.claim_notification(
        "mtg-1#prep", "mtg-1", owner="b", now=NOW + timedelta(seconds=59), lease_seconds=60
    )
    assert busy.outcome == ClaimOutcome.BUSY
    assert not busy.owned
    assert busy.record.owner == "a"


def test_attempts_recorded_in_order_and_completed(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt("k", owner="a", attempt=_attempt(0, Channel.SLACK))
    failed = _attempt(0, Channel.SLACK).model_copy(
        update={
            "status": AttemptStatus.FAILED,
            "error_class": ErrorClass.PERMANENT,
            "error_code": "channel_not_found",
            "completed_at": NOW,
        }
    )
    store.complete_attempt("k", owner="a", attempt=failed)
    store.record_attempt("k", owner="a", attempt=_attempt(1, Channel.SMS))
    record = store.get_notification("k")
    assert record is not None
    assert record.attempts == [failed, _attempt(1, Channel.SMS)]
    with pytest.raises(ValueError):
        store.record_attempt("k", owner="a", attempt=_attempt(1))  # seq 1 is taken
    with pytest.raises(ValueError):
        store.record_attempt("k", owner="a", attempt=_attempt(5))  # gap
    with pytest.raises(ValueError):
        store.complete_attempt("k", owner="a", attempt=_attempt(2))  # never recorded
    delivered = _attempt(1, Channel.SMS).model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": "SM123", "completed_at": NOW}
    )
    store.complete_attempt("k", owner="a", attempt=delivered)
    final = store.finish_notification(
        "k", owner="a", state=LedgerState.DELIVERED, delivered_channel=Channel.SMS, now=NOW
    )
    assert final.attempts == [failed, delivered]
    assert (final.state, final.delivered_channel) == (LedgerState.DELIVERED, Channel.SMS)
    assert store.get_notification("k") == final


def test_finish_completes_the_last_attempt_in_the_same_write(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt("k", owner="a", attempt=_attempt(0, Channel.SLACK))
    delivered = _attempt(0, Channel.SLACK).model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": "D1:1.2", "completed_at": NOW}
    )
    never_recorded = delivered.model_copy(update={"seq": 1})
    with pytest.raises(ValueError):
        store.finish_notification(
            "k",
            owner="a",
            state=LedgerState.DELIVERED,
            delivered_channel=Channel.SLACK,
            now=NOW,
            completed=never_recorded,
        )
    unchanged = store.get_notification("k")
    assert unchanged is not None
    assert (unchanged.state, unchanged.attempts) == (LedgerState.IN_PROGRESS, [_attempt(0)])
    with pytest.raises(LeaseLostError):
        store.finish_notification(
            "k",
            owner="intruder",
            state=LedgerState.DELIVERED,
            delivered_channel=Channel.SLACK,
            now=NOW,
            completed=delivered,
        )
    final = store.finish_notification(
        "k",
        owner="a",
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SLACK,
        now=NOW,
        completed=delivered,
    )
    assert (final.state, final.attempts) == (LedgerState.DELIVERED, [delivered])
    assert store.get_notification("k") == final


def _owned(seq: int, owner: str, channel: Channel = Channel.SLACK) -> DeliveryAttempt:
    return _attempt(seq, channel).model_copy(update={"owner": owner})


def test_a_resent_claim_is_the_senders_own(store: Store) -> None:
    # The claim was applied but its answer lost; the client sends it again (botocore does).
    first = store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    again = store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    assert (first.outcome, again.outcome) == (ClaimOutcome.WON, ClaimOutcome.WON)
    assert again.record == first.record == store.get_notification("k")
    # a take-over resent: still the sender's, as RECOVERED, with the attempts it found
    store.record_attempt("k", owner="a", attempt=_owned(0, "a"))
    later = NOW + timedelta(seconds=60)
    taken = store.claim_notification("k", "mtg-1", owner="b", now=later, lease_seconds=60)
    resent = store.claim_notification("k", "mtg-1", owner="b", now=later, lease_seconds=60)
    assert (taken.outcome, resent.outcome) == (ClaimOutcome.RECOVERED, ClaimOutcome.RECOVERED)
    assert resent.record.attempts == [_owned(0, "a")]
    assert resent.record.owner == "b"


def test_a_resent_attempt_is_the_senders_own(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt("k", owner="a", attempt=_owned(0, "a"))
    store.record_attempt("k", owner="a", attempt=_owned(0, "a"))  # its answer was lost: resent
    record = store.get_notification("k")
    assert record is not None and record.attempts == [_owned(0, "a")]
    with pytest.raises(ValueError):  # a different attempt at a taken seq is still refused
        store.record_attempt("k", owner="a", attempt=_owned(0, "a", Channel.SMS))
    with pytest.raises(ValueError):  # and so is one recorded without an owner token
        store.record_attempt("k", owner="a", attempt=_attempt(0))
    done = _owned(0, "a").model_copy(update={"status": AttemptStatus.FAILED, "completed_at": NOW})
    store.complete_attempt("k", owner="a", attempt=done)
    store.complete_attempt("k", owner="a", attempt=done)  # resent: the same write again
    record = store.get_notification("k")
    assert record is not None and record.attempts == [done]


def test_a_resent_finish_returns_the_finished_record(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt("k", owner="a", attempt=_owned(0, "a"))
    delivered = _owned(0, "a").model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": "D1:1.2", "completed_at": NOW}
    )

    def finish(owner: str, state: LedgerState) -> LedgerRecord:
        return store.finish_notification(
            "k",
            owner=owner,
            state=state,
            delivered_channel=Channel.SLACK,
            now=NOW,
            completed=delivered,
        )

    first = finish("a", LedgerState.DELIVERED)
    assert finish("a", LedgerState.DELIVERED) == first == store.get_notification("k")
    with pytest.raises(LeaseLostError):  # not what this owner wrote: refused as before
        finish("a", LedgerState.EXHAUSTED)
    with pytest.raises(LeaseLostError):
        finish("b", LedgerState.DELIVERED)


@pytest.mark.parametrize("final_state", [LedgerState.DELIVERED, LedgerState.EXHAUSTED])
def test_finished_claim_is_done(store: Store, final_state: LedgerState) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    channel = Channel.SLACK if final_state == LedgerState.DELIVERED else None
    finished = store.finish_notification(
        "k", owner="a", state=final_state, delivered_channel=channel, now=NOW
    )
    assert finished.final
    # even long after any lease would have expired, a duplicate gets the stored result
    done = store.claim_notification(
        "k", "mtg-1", owner="b", now=NOW + timedelta(days=1), lease_seconds=60
    )
    assert done.outcome == ClaimOutcome.DONE
    assert done.record == finished
    assert (done.record.state, done.record.delivered_channel) == (final_state, channel)


def test_expired_lease_is_recovered_with_its_attempts(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt("k", owner="a", attempt=_attempt(0))  # then "a" crashed
    at_expiry = NOW + timedelta(seconds=60)
    claim = store.claim_notification("k", "mtg-1", owner="b", now=at_expiry, lease_seconds=60)
    assert claim.outcome == ClaimOutcome.RECOVERED
    assert claim.owned
    assert claim.record.owner == "b"
    assert claim.record.attempts == [_attempt(0)]  # b sees a's unknown attempt: no resend there
    assert claim.record.lease_expires_at == at_expiry + timedelta(seconds=60)
    assert claim.record.created_at == NOW
    assert store.get_notification("k") == claim.record
    # the old owner lost the lease: every write of theirs is refused
    with pytest.raises(LeaseLostError):
        store.record_attempt("k", owner="a", attempt=_attempt(1))
    with pytest.raises(LeaseLostError):
        store.complete_attempt("k", owner="a", attempt=_attempt(0))
    with pytest.raises(LeaseLostError):
        store.finish_notification(
            "k", owner="a", state=LedgerState.DELIVERED, delivered_channel=None, now=at_expiry
        )
    store.record_attempt("k", owner="b", attempt=_attempt(1, Channel.SMS))


def test_released_claim_is_recovered_at_once(store: Store) -> None:
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=600)
    store.record_attempt("k", owner="a", attempt=_attempt(0))
    released = store.finish_notification(
        "k", owner="a", state=LedgerState.RELEASED, delivered_channel=None, now=NOW
    )
    assert released.state == LedgerState.RELEASED
    assert not released.final
    claim = store.claim_notification("k", "mtg-1", owner="b", now=NOW, lease_seconds=60)
    assert claim.outcome == ClaimOutcome.RECOVERED
    assert claim.record.attempts == released.attempts
    with pytest.raises(LeaseLostError):  # a released claim is no longer the releaser's
        store.record_attempt("k", owner="a", attempt=_attempt(1))


def test_ledger_writes_need_the_lease(store: Store) -> None:
    with pytest.raises(LeaseLostError):  # no such key
        store.record_attempt("k", owner="a", attempt=_attempt(0))
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    with pytest.raises(LeaseLostError):
        store.record_attempt("k", owner="intruder", attempt=_attempt(0))
    store.record_attempt("k", owner="a", attempt=_attempt(0))
    with pytest.raises(LeaseLostError):
        store.complete_attempt("k", owner="intruder", attempt=_attempt(0))
    with pytest.raises(LeaseLostError):
        store.finish_notification(
            "k", owner="intruder", state=LedgerState.DELIVERED, delivered_channel=None, now=NOW
        )
    with pytest.raises(ValueError):
        store.finish_notification(
            "k", owner="a", state=LedgerState.IN_PROGRESS, delivered_channel=None, now=NOW
        )
    store.finish_notification(
        "k", owner="a", state=LedgerState.EXHAUSTED, delivered_channel=None, now=NOW
    )
    with pytest.raises(LeaseLostError):  # finished: even the owner cannot write any more
        store.record_attempt("k", owner="a", attempt=_attempt(1))
    record = store.get_notification("k")
    assert record is not None
    assert (record.state, record.attempts) == (LedgerState.EXHAUSTED, [_attempt(0)])


def test_notifications_for_meeting(store: Store) -> None:
    store.claim_notification("mtg-1#prep", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    later = NOW + timedelta(hours=1)
    store.claim_notification("mtg-1#reminder:r1", "mtg-1", owner="a", now=later, lease_seconds=60)
    store.claim_notification("mtg-2#prep", "mtg-2", owner="a", now=NOW, lease_seconds=60)
    records = store.list_notifications_for_meeting("mtg-1")
    assert [r.key for r in records] == ["mtg-1#prep", "mtg-1#reminder:r1"]
    assert store.list_notifications_for_meeting("mtg-none") == []
    assert store.get_notification("nope") is None


def test_delete_meeting_leaves_other_meetings_and_the_ledger(store: Store) -> None:
    store.upsert_meeting_calendar(make_meeting("mtg-1"))
    store.upsert_meeting_calendar(make_meeting("mtg-2", hours=25))
    store.claim_notification("mtg-1#prep", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    assert store.delete_meeting("mtg-1") is True
    assert store.get_meeting("mtg-1") is None
    window = (NOW, NOW + timedelta(days=3))
    assert [m.meeting_id for m in store.list_meetings_for_user("usr-1", *window)] == ["mtg-2"]
    assert [
        m.meeting_id for m in store.list_meetings_by_status(MeetingStatus.DISCOVERED, *window)
    ] == ["mtg-2"]
    assert [r.key for r in store.list_notifications_for_meeting("mtg-1")] == ["mtg-1#prep"]
    assert store.delete_meeting("mtg-1") is False
    with pytest.raises(NotFoundError):
        store.transition_meeting("mtg-1", MeetingStatus.PREP_REQUIRED, now=NOW)


def test_twenty_concurrent_claims_exactly_one_wins(store: Store) -> None:
    workers = 20
    barrier = threading.Barrier(workers)
    outcomes: list[ClaimOutcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def claim(owner: str) -> None:
        try:
            barrier.wait(timeout=30)
            result = store.claim_notification(
                "mtg-1#prep",
                "mtg-1",
                owner=owner,
                now=NOW,
                lease_seconds=60,
            )
            with lock:
                outcomes.append(result.outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Counter(outcomes) == Counter({ClaimOutcome.WON: 1, ClaimOutcome.BUSY: workers - 1})
    record = store.get_notification("mtg-1#prep")
    assert record is not None
    assert record.state == LedgerState.IN_PROGRESS
    assert record.attempts == []


# --- acknowledgements ---------------------------------------------------------------------


def _ack(
    channel: Channel, action: AckAction = AckAction.START_PREP, **kw: object
) -> Acknowledgement:
    return Acknowledgement.model_validate(
        {"channel": channel, "action": action, "at": NOW + timedelta(minutes=5), **kw}
    )


def _delivered(store: Store, key: str = "mtg-1#prep") -> LedgerRecord:
    store.claim_notification(key, "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt(key, owner="a", attempt=_owned(0, "a"))
    done = _owned(0, "a").model_copy(
        update={"status": AttemptStatus.DELIVERED, "provider_id": "D1:1.2", "completed_at": NOW}
    )
    return store.finish_notification(
        key,
        owner="a",
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SLACK,
        now=NOW,
        completed=done,
    )


def test_first_acknowledgement_stands_and_a_second_changes_nothing(store: Store) -> None:
    before = _delivered(store)
    first = _ack(Channel.SMS, detail="PREP")
    result = store.acknowledge_notification("mtg-1#prep", first)
    assert result.recorded
    assert result.acknowledgement == first
    stored = store.get_notification("mtg-1#prep")
    assert stored == before.model_copy(update={"acknowledgement": first})
    later = _ack(Channel.EMAIL, AckAction.REMIND_LATER, remind_at=NOW + timedelta(hours=1))
    again = store.acknowledge_notification("mtg-1#prep", later)
    assert not again.recorded
    assert again.acknowledgement == first
    assert store.get_notification("mtg-1#prep") == stored


def test_a_resent_acknowledgement_is_the_senders_own(store: Store) -> None:
    _delivered(store)
    ack = _ack(Channel.SLACK, AckAction.REMIND_LATER, remind_at=NOW + timedelta(minutes=30))
    assert store.acknowledge_notification("mtg-1#prep", ack).recorded
    resent = store.acknowledge_notification("mtg-1#prep", ack)
    assert resent.recorded  # the same ack_id: its first answer was lost, not a second answer
    assert resent.acknowledgement == ack


def test_acknowledging_a_missing_cycle_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.acknowledge_notification("mtg-1#nope", _ack(Channel.SMS))
    assert store.get_notification("mtg-1#nope") is None


def test_acknowledgement_survives_the_owners_later_writes(store: Store) -> None:
    """An answer can come while the walk still holds the claim (Slack delivered, SMS next)."""
    store.claim_notification("k", "mtg-1", owner="a", now=NOW, lease_seconds=60)
    store.record_attempt("k", owner="a", attempt=_owned(0, "a"))
    ack = _ack(Channel.SLACK)
    assert store.acknowledge_notification("k", ack).recorded
    record = store.finish_notification(
        "k", owner="a", state=LedgerState.DELIVERED, delivered_channel=Channel.SLACK, now=NOW
    )
    assert record.acknowledgement == ack
    stored = store.get_notification("k")
    assert stored is not None
    assert stored.acknowledgement == ack
    assert stored.state == LedgerState.DELIVERED


def test_twenty_concurrent_acknowledgements_exactly_one_is_recorded(store: Store) -> None:
    _delivered(store)
    workers = 20
    barrier = threading.Barrier(workers)
    results: list[tuple[Acknowledgement, bool, Acknowledgement]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    channels = itertools.cycle([Channel.SLACK, Channel.SMS, Channel.EMAIL])

    def acknowledge(ack: Acknowledgement) -> None:
        try:
            barrier.wait(timeout=30)
            result = store.acknowledge_notification("mtg-1#prep", ack)
            with lock:
                results.append((ack, result.recorded, result.acknowledgement))
        except BaseException as exc:
            with lock:
                errors.append(exc)

    acks = [_ack(next(channels)) for _ in range(workers)]
    threads = [threading.Thread(target=acknowledge, args=(ack,)) for ack in acks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    winners = [ack for ack, recorded, _ in results if recorded]
    assert len(winners) == 1
    assert {standing.ack_id for _, _, standing in results} == {winners[0].ack_id}
    stored = store.get_notification("mtg-1#prep")
    assert stored is not None
    assert stored.acknowledgement == winners[0]
