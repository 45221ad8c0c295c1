"""Domain model: validation names the field, the event parser, quiet hours, the status table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from exec_assistant.models import (
    ALLOWED_TRANSITIONS,
    Channel,
    ChatSession,
    Meeting,
    MeetingStatus,
    NotificationPreferences,
    QuietHours,
    User,
    allowed_sources,
    chat_session_id_for,
    iso_utc,
    meeting_id_for,
    parse_iso,
    parse_prep_event,
)

FIXTURES = Path(__file__).parent / "fixtures"
START = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def _envelope() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "eventbridge-meeting-prep-required.json").read_text()
    )
    return data


def _meeting(**overrides: Any) -> Meeting:
    fields: dict[str, Any] = {
        "meeting_id": "mtg-1",
        "user_id": "usr-1",
        "title": "QBR",
        "start_time": START,
        "end_time": START + timedelta(hours=1),
    }
    return Meeting(**(fields | overrides))


def _error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in err["loc"]) for err in exc.errors()}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "555-0123"}, "phone"),
        ({"phone": "+0123456789"}, "phone"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"slack_user_id": "ada"}, "slack_user_id"),
        ({"name": ""}, "name"),
        ({"created_at": datetime(2026, 1, 1, 9, 0)}, "created_at"),
        (
            {"preferences": {"channel_order": ["slack", "sms", "slack"]}},
            "preferences.channel_order",
        ),
        ({"preferences": {"escalation_delay_minutes": 0}}, "preferences.escalation_delay_minutes"),
    ],
)
def test_invalid_user_names_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        User(**({"user_id": "usr-1", "name": "Ada"} | overrides))
    assert _error_fields(info.value) == {field}
    assert field in str(info.value)


def test_valid_user_normalizes_phone_and_defaults() -> None:
    user = User(user_id="usr-1", name="Ada", phone="+1 (415) 555-0123", email="ada@example.com")
    assert user.phone == "+14155550123"
    assert user.timezone == "UTC"
    assert user.preferences.channel_order == [Channel.SLACK, Channel.SMS, Channel.EMAIL]


@pytest.mark.parametrize(
    "address", ["Ada@EXAMPLE.com", "  ada@example.com ", "Ada <ada@Example.COM>"]
)
def test_email_is_normalised_as_pydantic_emailstr_does(address: str) -> None:
    from pydantic import EmailStr, TypeAdapter

    expected = TypeAdapter(EmailStr).validate_python(address)
    assert User(user_id="usr-1", name="Ada", email=address).email == expected


def test_assignment_is_validated_too() -> None:
    user = User(user_id="usr-1", name="Ada")
    with pytest.raises(ValidationError) as info:
        user.phone = "12"
    assert _error_fields(info.value) == {"phone"}
    assert user.phone is None  # nothing half-valid


def test_naive_meeting_time_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        _meeting(start_time=datetime(2026, 11, 27, 15, 0))
    assert "start_time" in _error_fields(info.value)
    assert "timezone-aware" in str(info.value)


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValidationError, match="end_time must be after start_time"):
        _meeting(end_time=START - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="end_time"):
        _meeting(end_time=START)


def test_meeting_times_are_normalized_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    meeting = _meeting(
        start_time=datetime(2026, 11, 27, 17, 0, tzinfo=plus_two),
        end_time=datetime(2026, 11, 27, 18, 0, tzinfo=plus_two),
    )
    assert meeting.start_time == START
    assert meeting.start_time.tzinfo == UTC


def test_unknown_meeting_field_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        _meeting(colour="red")
    assert _error_fields(info.value) == {"colour"}


def test_prep_window() -> None:
    meeting = _meeting(prep_hours_before=24)
    assert meeting.prep_window_start == START - timedelta(hours=24)
    assert not meeting.in_prep_window(START - timedelta(hours=25))
    assert meeting.in_prep_window(START - timedelta(hours=24))
    assert not meeting.in_prep_window(START)


def test_parse_prep_event_fixture() -> None:
    envelope, detail = parse_prep_event(_envelope())
    assert envelope.id == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert envelope.source == "exec-assistant.calendar-monitor"
    assert envelope.detail_type == "MeetingPrepRequired"
    assert envelope.time == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert (detail.meeting_id, detail.user_id) == ("mtg-2026-11-25-qbr", "usr-7f3c")
    assert detail.reminder_id is None
    # extra detail fields (meeting_type, start_time, title) are ignored, not errors
    assert not hasattr(detail, "title")
    assert detail.idempotency_key() == "mtg-2026-11-25-qbr#prep"


def test_reminder_and_replay_cycles_have_their_own_keys() -> None:
    envelope = _envelope()
    envelope["source"] = "exec-assistant.reminders"
    envelope["detail"]["reminder_id"] = "r-1"
    _, detail = parse_prep_event(envelope)
    assert detail.idempotency_key() == "mtg-2026-11-25-qbr#reminder:r-1"
    envelope["detail"] = {"meeting_id": "m", "user_id": "u", "cycle": "replay-2"}
    assert parse_prep_event(envelope)[1].idempotency_key() == "m#prep:replay-2"


@pytest.mark.parametrize("missing", ["meeting_id", "user_id"])
def test_missing_required_detail_field_is_a_validation_error(missing: str) -> None:
    envelope = _envelope()
    del envelope["detail"][missing]
    with pytest.raises(ValidationError) as info:
        parse_prep_event(envelope)
    assert _error_fields(info.value) == {missing}


def test_malformed_envelope_is_a_validation_error() -> None:
    envelope = _envelope()
    del envelope["detail-type"]
    with pytest.raises(ValidationError, match="detail-type"):
        parse_prep_event(envelope)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source", "aws.events", "unexpected source"),
        ("detail-type", "MeetingCancelled", "unexpected detail-type"),
    ],
)
def test_wrong_source_or_type_is_a_value_error(field: str, value: str, message: str) -> None:
    envelope = _envelope()
    envelope[field] = value
    with pytest.raises(ValueError, match=message) as info:
        parse_prep_event(envelope)
    assert not isinstance(info.value, ValidationError)


def test_quiet_hours_wrapping_midnight() -> None:
    quiet = QuietHours(start=time(22, 0), end=time(7, 0))
    assert quiet.contains(time(22, 0))  # start inclusive
    assert quiet.contains(time(23, 59))
    assert quiet.contains(time(0, 0))
    assert quiet.contains(time(6, 59))
    assert not quiet.contains(time(7, 0))  # end exclusive
    assert not quiet.contains(time(12, 0))
    assert not quiet.contains(time(21, 59))


def test_quiet_hours_within_a_day() -> None:
    quiet = QuietHours(start=time(12, 0), end=time(13, 0))
    assert quiet.contains(time(12, 30))
    assert not quiet.contains(time(13, 0))
    assert not quiet.contains(time(23, 0))
    prefs = NotificationPreferences(quiet_hours={"start": "12:00", "end": "13:00"})
    assert prefs.quiet_hours == quiet


_ORDER = [
    MeetingStatus.DISCOVERED,
    MeetingStatus.PREP_REQUIRED,
    MeetingStatus.PREP_SCHEDULED,
    MeetingStatus.PREP_IN_PROGRESS,
    MeetingStatus.PREP_COMPLETED,
]


def test_transition_table_only_moves_forward() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(MeetingStatus)
    terminal = {MeetingStatus.COMPLETED, MeetingStatus.CANCELLED}
    for source, targets in ALLOWED_TRANSITIONS.items():
        assert source not in targets
        if source in terminal:
            assert targets == frozenset()
            continue
        assert terminal <= targets  # any live meeting can end or be cancelled
        for target in targets - terminal:
            assert _ORDER.index(target) > _ORDER.index(source)
    assert ALLOWED_TRANSITIONS[MeetingStatus.PREP_SCHEDULED] >= {MeetingStatus.PREP_IN_PROGRESS}


def test_allowed_sources_inverts_the_table() -> None:
    for target in MeetingStatus:
        for source in MeetingStatus:
            assert (source in allowed_sources(target)) == (target in ALLOWED_TRANSITIONS[source])
    assert allowed_sources(MeetingStatus.DISCOVERED) == frozenset()


def test_iso_utc_is_fixed_width_and_ordered() -> None:
    early = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    late = datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_utc(early) == "2026-01-02T03:04:05.000000Z"
    assert len(iso_utc(late)) == len(iso_utc(early))
    assert iso_utc(early) < iso_utc(late)
    assert parse_iso(iso_utc(late)) == late
    ancient = datetime(999, 12, 31, tzinfo=UTC)  # strftime's %Y wrote "999" here
    assert iso_utc(ancient) == "0999-12-31T00:00:00.000000Z" < iso_utc(early)
    assert parse_iso(iso_utc(ancient)) == ancient
    with pytest.raises(ValueError):
        iso_utc(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        parse_iso("2026-01-01T00:00:00")


def test_derived_ids_are_deterministic() -> None:
    first = meeting_id_for("usr-1", "ics", "uid-1@example.com")
    assert first == meeting_id_for("usr-1", "ics", "uid-1@example.com")
    assert first != meeting_id_for("usr-2", "ics", "uid-1@example.com")
    assert first.startswith("mtg-")
    assert chat_session_id_for(first) == f"chat-{first}"


def test_chat_session_for_meeting() -> None:
    meeting = _meeting()
    user = User(user_id="usr-1", name="Ada", slack_user_id="U123")
    now = START - timedelta(hours=3)
    session = ChatSession.for_meeting(meeting, user, now=now, channel_id="D1")
    assert session.session_id == chat_session_id_for("mtg-1")
    assert (session.slack_user_id, session.slack_channel_id) == ("U123", "D1")
    assert session.expires_at == meeting.end_time + timedelta(days=7)
    assert session.created_at == session.updated_at == now
