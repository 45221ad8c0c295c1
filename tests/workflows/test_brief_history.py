"""Since last time: a completed prep stores its brief with the meeting; the next occurrence of the
series shows it, asks which open items are done, and carries the rest forward."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from exec_assistant.components import Runtime
from exec_assistant.models import (
    ChatSession,
    Meeting,
    MeetingSource,
    MeetingStatus,
    User,
    chat_session_id_for,
)
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.brief import Brief
from exec_assistant.workflows.brief_history import meeting_brief
from exec_assistant.workflows.prep_conversation import QUESTIONS, QuestionnaireEngine
from tests.workflows.conftest import NOW, Clock


def occurrence(runtime: Runtime, user: User, n: int) -> Meeting:
    start = NOW + timedelta(days=7 * n, hours=2)
    meeting = Meeting(
        meeting_id=f"mtg-staff-{n}",
        user_id=user.user_id,
        source=MeetingSource.ICS,
        external_id=f"staff@example.com/{start:%Y%m%dT%H%M%SZ}",
        title="Staff 1:1",
        start_time=start,
        end_time=start + timedelta(minutes=30),
        attendees=["bo@example.com"],
    )
    runtime.store.upsert_meeting_calendar(meeting)
    assert runtime.store.transition_meeting(
        meeting.meeting_id, MeetingStatus.PREP_IN_PROGRESS, now=NOW
    )
    return meeting


def brief_of(runtime: Runtime, meeting: Meeting) -> Brief | None:
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    return meeting_brief(stored)


def run_prep(
    runtime: Runtime, user: User, meeting: Meeting, clock: Clock, replies: list[str]
) -> tuple[str, list[str]]:
    engine = QuestionnaireEngine(runtime.store, clock=clock)
    session, _ = runtime.store.create_chat_session(
        ChatSession.for_meeting(meeting, user, now=clock())
    )
    opening = engine.start(session, meeting, user)
    texts = []
    for n, text in enumerate(replies):
        current = runtime.store.get_chat_session(session.session_id)
        assert current is not None
        turn = engine.reply(current, meeting, user, text, message_ts=f"{meeting.meeting_id}.{n}")
        texts.append(turn.reply_text)
    return opening, texts


def test_open_items_are_asked_about_and_carried_forward(
    runtime: Runtime, user: User, clock: Clock
) -> None:
    first = occurrence(runtime, user, 0)
    run_prep(
        runtime, user, first, clock, ["Unblock hiring", "- price cap\n- SLA credits", "-", "none"]
    )
    brief = brief_of(runtime, first)
    assert brief is not None and brief.open_items == ["price cap", "SLA credits"]
    assert brief.previous is None

    # the chat session is gone (its record expires a week after the meeting): the history
    # reads the brief kept with the meeting
    store = runtime.store
    assert isinstance(store, SQLiteStore)
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM chat_sessions WHERE meeting_id=?", (first.meeting_id,))
    assert runtime.store.get_chat_session(chat_session_id_for(first.meeting_id)) is None
    second = occurrence(runtime, user, 1)
    opening, texts = run_prep(
        runtime, user, second, clock, ["1", "Agree the plan", "Q1 budget", "-", "none"]
    )
    assert "Last time these were open:\n1. price cap\n2. SLA credits" in opening
    assert texts[0] == QUESTIONS[0].text
    later = brief_of(runtime, second)
    assert later is not None and later.previous is not None
    assert later.previous.meeting_id == first.meeting_id
    assert [a.text for a in later.previous.answers] == [
        "Unblock hiring",
        "- price cap\n- SLA credits",
    ]
    assert later.open_items == ["SLA credits", "Q1 budget"]  # price cap was done
    assert "Since last time" in texts[-1] and "Still open:\n  - SLA credits" in texts[-1]
    stored = runtime.store.get_meeting(second.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_COMPLETED


def test_the_questionnaire_follows_the_meeting_type(
    runtime: Runtime, user: User, clock: Clock
) -> None:
    from exec_assistant.workflows.meeting_types import load_meeting_types

    meeting = occurrence(runtime, user, 0)
    runtime.store.upsert_meeting_calendar(meeting.model_copy(update={"meeting_type": "vendor"}))
    vendor = runtime.store.get_meeting(meeting.meeting_id)
    assert vendor is not None
    types = load_meeting_types()
    engine = QuestionnaireEngine(runtime.store, clock=clock, question_sets=types.question_sets())
    session, _ = runtime.store.create_chat_session(ChatSession.for_meeting(vendor, user, now=NOW))
    assert "vendor conversation" in engine.start(session, vendor, user)
    assert "3 quick questions" in engine.start(session, vendor, user)
