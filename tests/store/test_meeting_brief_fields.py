"""The calendar fields the brief reads (join link, attendee names, feed) round-trip on every store,
and re-import updates them like any calendar field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exec_assistant.models import Meeting, MeetingSource
from exec_assistant.store.base import Store

START = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def test_brief_fields_round_trip_and_update(store: Store) -> None:
    meeting = Meeting(
        meeting_id="mtg-brief-1",
        user_id="usr-1",
        source=MeetingSource.ICS,
        external_id="uid-1@example.com",
        feed_id="feed-abc",
        title="Acme renewal",
        start_time=START,
        end_time=START + timedelta(minutes=45),
        attendees=["dee@acme.example", "ben@example.com"],
        attendee_names={"dee@acme.example": "Dee Buyer", "ben@example.com": "Ben Ops"},
        join_url="https://meet.google.com/abc-defg-hij",
    )
    store.upsert_meeting_calendar(meeting)
    assert store.get_meeting("mtg-brief-1") == meeting
    changed = meeting.model_copy(update={"attendee_names": {}, "join_url": "", "feed_id": "f2"})
    store.upsert_meeting_calendar(changed)
    stored = store.get_meeting("mtg-brief-1")
    assert stored is not None
    assert (stored.attendee_names, stored.join_url, stored.feed_id) == ({}, "", "f2")


def test_saved_brief_is_kept_with_the_meeting_and_nothing_else_changes(store: Store) -> None:
    from exec_assistant.errors import NotFoundError
    from exec_assistant.models import MeetingStatus

    meeting = Meeting(
        meeting_id="mtg-brief-2",
        user_id="usr-1",
        title="Staff 1:1",
        start_time=START,
        end_time=START + timedelta(minutes=30),
        created_at=START - timedelta(days=1),
        updated_at=START - timedelta(days=1),
    )
    store.upsert_meeting_calendar(meeting)
    assert store.transition_meeting(
        meeting.meeting_id, MeetingStatus.PREP_IN_PROGRESS, now=START - timedelta(hours=2)
    )
    before = store.get_meeting(meeting.meeting_id)
    assert before is not None and before.brief is None
    done = START - timedelta(hours=1)
    store.save_meeting_brief(meeting.meeting_id, '{"brief": 1}', now=done)
    after = store.get_meeting(meeting.meeting_id)
    assert after == before.model_copy(update={"brief": '{"brief": 1}', "updated_at": done})
    # listed with it, and kept across a re-import (not a calendar field)
    (listed,) = store.list_meetings_for_user("usr-1", START, START + timedelta(hours=1))
    assert listed.brief == '{"brief": 1}'
    store.upsert_meeting_calendar(meeting.model_copy(update={"title": "Staff 1:1 (moved)"}))
    reimported = store.get_meeting(meeting.meeting_id)
    assert reimported is not None and reimported.brief == '{"brief": 1}'
    store.save_meeting_brief(meeting.meeting_id, '{"brief": 2}', now=done)  # a later one replaces
    replaced = store.get_meeting(meeting.meeting_id)
    assert replaced is not None and replaced.brief == '{"brief": 2}'
    with pytest.raises(NotFoundError):
        store.save_meeting_brief("mtg-none", "{}", now=done)
