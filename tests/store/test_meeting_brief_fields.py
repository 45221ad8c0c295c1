"""The calendar fields the brief reads (join link, attendee names, feed) round-trip on every store,
and re-import updates them like any calendar field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
