"""The built-in questionnaire engine on its own: answers stored in order, duplicates (racing or
redelivered) accepted once, empty answers re-asked, the brief within Block Kit's limits."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from exec_assistant.models import ChatSession, ChatState, Meeting, MeetingStatus, User
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.prep_conversation import (
    QUESTIONS,
    ConversationTurn,
    QuestionnaireEngine,
    prep_brief_blocks,
)
from tests.slack.conftest import Clock


def _session(runtime: Runtime, meeting: Meeting, owner: User, clock: Clock) -> ChatSession:
    runtime.store.transition_meeting(
        meeting.meeting_id, MeetingStatus.PREP_IN_PROGRESS, now=clock()
    )
    session, created = runtime.store.create_chat_session(
        ChatSession.for_meeting(meeting, owner, now=clock(), channel_id="D0EXEC001")
    )
    assert created
    return session


def _fresh(runtime: Runtime, session: ChatSession) -> ChatSession:
    stored = runtime.store.get_chat_session(session.session_id)
    assert stored is not None
    return stored


def test_questions_in_order_then_brief_and_completed(
    runtime: Runtime, meeting: Meeting, owner: User, clock: Clock
) -> None:
    engine = QuestionnaireEngine(runtime.store, clock=clock)
    session = _session(runtime, meeting, owner, clock)
    opening = engine.start(session, meeting, owner)
    assert QUESTIONS[0].text in opening
    assert "15:00" in opening  # in the owner's time zone
    turns: list[ConversationTurn] = []
    for n, question in enumerate(QUESTIONS):
        clock.advance(timedelta(minutes=1))
        turns.append(
            engine.reply(
                _fresh(runtime, session), meeting, owner, f"answer {n}", message_ts=f"1.{n}"
            )
        )
        assert turns[-1].step == n + 1
        assert turns[-1].answers[question.key] == f"answer {n}"
    assert [t.finished for t in turns] == [False, False, False, True]
    assert turns[-1].blocks is not None
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_COMPLETED
    assert _fresh(runtime, session).state == ChatState.COMPLETED


def test_redelivered_message_is_not_taken_as_the_next_answer(
    runtime: Runtime, meeting: Meeting, owner: User, clock: Clock
) -> None:
    engine = QuestionnaireEngine(runtime.store, clock=clock)
    session = _session(runtime, meeting, owner, clock)
    first = engine.reply(_fresh(runtime, session), meeting, owner, "the goal", message_ts="1.1")
    again = engine.reply(_fresh(runtime, session), meeting, owner, "the goal", message_ts="1.1")
    assert first.accepted
    assert not again.accepted
    stored = _fresh(runtime, session)
    assert stored.step == 1
    assert stored.prep_answers == {"goal": "the goal"}


def test_racing_duplicates_advance_once(
    runtime: Runtime, meeting: Meeting, owner: User, clock: Clock
) -> None:
    engine = QuestionnaireEngine(runtime.store, clock=clock)
    session = _session(runtime, meeting, owner, clock)
    snapshot = _fresh(runtime, session)  # both deliveries read the same step
    barrier = threading.Barrier(8)
    results: list[ConversationTurn] = []

    def deliver() -> None:
        barrier.wait()
        results.append(engine.reply(snapshot, meeting, owner, "the goal", message_ts="1.1"))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.accepted for r in results) == 1
    stored = _fresh(runtime, session)
    assert stored.step == 1
    assert [m.role for m in stored.messages] == ["user", "assistant"]


def test_empty_answer_is_asked_again_without_progress(
    runtime: Runtime, meeting: Meeting, owner: User, clock: Clock
) -> None:
    engine = QuestionnaireEngine(runtime.store, clock=clock)
    session = _session(runtime, meeting, owner, clock)
    turn = engine.reply(_fresh(runtime, session), meeting, owner, "   ", message_ts="1.1")
    assert turn.accepted and turn.step == 0
    assert QUESTIONS[0].text in turn.reply_text
    assert _fresh(runtime, session).step == 0


def test_brief_escapes_and_fits_block_kit(meeting: Meeting, owner: User) -> None:
    answers = {q.key: "<!channel> & " * 1000 for q in QUESTIONS}
    blocks = prep_brief_blocks(meeting, owner, answers)
    text = json.dumps(blocks)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    assert blocks[0]["text"]["text"] == "Prep brief: Q1 board review"
