"""The prep brief: facts from Google, Outlook/Teams and Exchange exports, Block Kit limits, the
Bedrock writer against a loopback Converse fake (success, throttling, timeout, malformed output,
each falling back to the built-in writer), and hypothesis on the parsed outside input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exec_assistant.models import Meeting, MeetingSource, User, meeting_id_for
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.bedrock_writer import BedrockBriefWriter
from exec_assistant.workflows.brief import (
    MAX_BLOCKS,
    TEXT_LIMIT,
    Answer,
    BriefMaterial,
    BuiltinWriter,
    brief_blocks,
    brief_text,
)
from exec_assistant.workflows.brief_facts import agenda_from, find_join_url, meeting_brief_facts
from exec_assistant.workflows.ics_import import import_calendar
from tests.fakes.bedrock import FakeBedrock

BRIEF = Path(__file__).parents[1] / "fixtures" / "ics" / "brief"
START = datetime(2026, 11, 30, tzinfo=UTC)
ADA = User(user_id="usr-ada", name="Ada Exec", email="ada@example.com", timezone="Europe/London")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "brief.db")
    store.put_user(ADA)
    yield store
    store.close()


def imported(store: SQLiteStore, name: str) -> Meeting:
    report = import_calendar(
        store,
        ADA.user_id,
        (BRIEF / name).read_bytes(),
        zone=ZoneInfo(ADA.timezone),
        start=START,
        end=START + timedelta(days=14),
    )
    (meeting_id,) = report.created
    meeting = store.get_meeting(meeting_id)
    assert meeting is not None
    return meeting


def test_google_invite_facts(store: SQLiteStore) -> None:
    facts = meeting_brief_facts(imported(store, "google-invite.ics"), ADA)
    assert facts.when == "Wed 2 Dec, 17:00\u201317:45 GMT"
    assert facts.duration_minutes == 45
    assert facts.join_url == "https://meet.google.com/abc-defg-hij"  # X-GOOGLE-CONFERENCE
    assert facts.organizer is not None and facts.organizer.label == "Dee Buyer (dee@acme.example)"
    assert [(p.name, p.external) for p in facts.attendees] == [
        ("Dee Buyer", True),  # another domain than the executive's
        ("Ben Ops", False),
    ]  # the executive herself is not listed
    assert facts.external_count == 1
    assert facts.agenda.startswith("Renewal of the Acme platform contract.\n\nAgenda:\n1. Usage")
    assert "https://docs.example.com/acme/pricing?v=3" in facts.agenda  # links kept
    assert "Google Meet" not in facts.agenda and "PIN" not in facts.agenda  # boilerplate gone


def test_outlook_teams_invite_facts(store: SQLiteStore) -> None:
    meeting = imported(store, "outlook-teams.ics")
    facts = meeting_brief_facts(meeting, ADA)
    assert facts.when == "Thu 3 Dec, 13:00\u201314:30 GMT"  # W. Europe Standard Time → London
    assert facts.join_url.startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert not facts.join_url.endswith(">")
    assert facts.agenda == "Quarterly business review.\nPlease bring your region's numbers."
    assert [p.label for p in facts.attendees if p.external] == [
        "Eve Advisor (eve@advisors.example)"
    ]
    assert len(facts.attendees) == 3


def test_exchange_zoom_invite_facts(store: SQLiteStore) -> None:
    facts = meeting_brief_facts(imported(store, "exchange-zoom.ics"), ADA)
    assert facts.join_url == "https://example.zoom.us/j/98765432101?pwd=QWERTY.1"
    assert facts.agenda == "Scorecards: https://ats.example.com/candidates/42"
    assert facts.organizer is not None and not facts.organizer.external
    assert [p.name for p in facts.attendees] == ["Gus Eng"]


def _material(store: SQLiteStore) -> BriefMaterial:
    meeting = imported(store, "google-invite.ics")
    return BriefMaterial(
        facts=meeting_brief_facts(meeting, ADA),
        answers=[
            Answer(label="Goal", text="Renew at a flat price"),
            Answer(label="Topics to raise", text="- usage\n- price cap; SLA credits"),
        ],
        open_items=["usage", "price cap", "SLA credits"],
    )


def test_builtin_brief_facts_first_and_within_block_kit_limits(store: SQLiteStore) -> None:
    brief = BuiltinWriter().write(_material(store))
    assert brief.talking_points[:3] == ["usage", "price cap", "SLA credits"]
    blocks = brief_blocks(brief)
    assert blocks[0]["text"]["text"] == "Prep brief: Acme renewal"
    assert blocks[1]["text"]["text"].startswith("*When:* Wed 2 Dec, 17:00\u201317:45 GMT (45 min)")
    assert "<https://meet.google.com/abc-defg-hij|video call link>" in blocks[1]["text"]["text"]
    text = brief_text(brief)
    assert "Join: https://meet.google.com/abc-defg-hij" in text
    assert "Attendees (2, 1 external): Dee Buyer (dee@acme.example) (external)" in text


# --- Bedrock writer against the loopback Converse fake --------------------------------------


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL", fake.origin)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield fake


MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def test_bedrock_writer_drafts_talking_points(store: SQLiteStore, bedrock: FakeBedrock) -> None:
    writer = BedrockBriefWriter(MODEL, max_tokens=300, timeout_seconds=2)
    brief = writer.write(_material(store))
    assert brief.writer == f"bedrock:{MODEL}"
    assert brief.talking_points == ["Agree the renewal price", "Confirm next steps"]
    (request,) = bedrock.requests
    assert request["path"] == f"/model/{MODEL.replace(':', '%3A')}/converse"
    assert request["inferenceConfig"]["maxTokens"] == 300
    sent = json.loads(request["messages"][0]["content"][0]["text"])
    assert sent["facts"]["title"] == "Acme renewal"  # the same material as the built-in writer


@pytest.mark.parametrize("failure", ["throttled", "timeout", "malformed", "wrong_shape"])
def test_bedrock_writer_falls_back_to_builtin(
    store: SQLiteStore, bedrock: FakeBedrock, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    if failure == "throttled":
        bedrock.throttle_next()
    elif failure == "timeout":
        bedrock.hang_next(seconds=3)
    elif failure == "malformed":
        bedrock.answer_next("Sure! Here are some talking points: 1. price")
    else:
        bedrock.answer_next(json.dumps({"talking_points": "not a list"}))
    writer = BedrockBriefWriter(MODEL, timeout_seconds=0.5)
    material = _material(store)
    brief = writer.write(material)
    assert brief == BuiltinWriter().write(material)
    (record,) = [r for r in caplog.records if "brief.writer_fallback" in r.getMessage()]
    expected = {
        "throttled": ("transient", "ThrottlingException"),
        "timeout": ("transient", "timeout"),
        "malformed": ("permanent", "malformed_output"),
        "wrong_shape": ("permanent", "malformed_output"),
    }[failure]
    fields = record.__dict__["fields"]
    assert (fields["error_class"], fields["error_code"]) == expected
    assert len(bedrock.requests) == 1  # no retry: the time budget has no room


# --- hypothesis: outside input stays bounded ------------------------------------------------


_text = st.text(st.characters(codec="utf-8"), max_size=4000)


@settings(max_examples=150, deadline=None)
@given(_text)
def test_agenda_and_join_url_take_any_text(description: str) -> None:
    agenda = agenda_from(description)
    assert len(agenda) <= 1500
    url = find_join_url(description)
    assert url == "" or url.startswith("https://")


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(min_size=1, max_size=512),
    description=_text,
    attendees=st.lists(st.emails(), max_size=80),
    location=st.text(max_size=2000),
)
def test_any_meeting_renders_within_block_kit_limits(
    title: str, description: str, attendees: list[str], location: str
) -> None:
    if not title.strip():
        title = "x"
    start = START
    meeting = Meeting(
        meeting_id=meeting_id_for("u", MeetingSource.ICS.value, "x"),
        user_id="u",
        title=title,
        description=description,
        location=location,
        start_time=start,
        end_time=start + timedelta(minutes=30),
        attendees=attendees,
    )
    answers = [Answer(label="Topics to raise", text=description)]
    brief = BuiltinWriter().write(
        BriefMaterial(facts=meeting_brief_facts(meeting, ADA), answers=answers)
    )
    blocks = brief_blocks(brief)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= TEXT_LIMIT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
