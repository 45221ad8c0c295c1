"""The prep conversation held in the executive's Slack DM after Start Prep.

:class:`ConversationEngine` is the seam: the Slack bot asks an engine for the opening line and for
each reply, and posts what it returns. The built-in :class:`QuestionnaireEngine` asks a fixed
sequence of questions; an AI coordinator can replace it later without touching the bot.

Idempotency: progress is saved with ``Store.advance_chat_session(expected_step=...)``, so two
deliveries of the same DM racing each other advance the conversation once; a later redelivery
(a Slack retry after the first was processed) is recognised by the Slack message ``ts`` kept on
the stored user message. Either way the duplicate gets ``accepted=False`` and nothing is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.logs import log_event
from exec_assistant.models import (
    ChatMessage,
    ChatSession,
    ChatState,
    Meeting,
    MeetingStatus,
    User,
    utcnow,
)
from exec_assistant.notifications.rendering import format_when, mrkdwn_escape, truncate
from exec_assistant.store.base import Store
from exec_assistant.workflows.brief import (
    Answer,
    BriefMaterial,
    BriefWriter,
    BuiltinWriter,
    PreviousPrep,
    brief_blocks,
    brief_text,
    split_items,
)
from exec_assistant.workflows.brief_facts import meeting_brief_facts
from exec_assistant.workflows.brief_history import (
    DONE_KEY,
    Question,
    done_question,
    previous_prep,
    still_open,
)

logger = logging.getLogger(__name__)

#: How much of one answer the brief shows (a Block Kit text holds 3000 characters).
_ANSWER_LIMIT = 2500
#: Longest answer kept (a DM can be 40k characters; a brief has no use for that much).
_STORED_ANSWER_LIMIT = 10_000


QUESTIONS: tuple[Question, ...] = (
    Question("goal", "Goal", "What is the goal of this meeting — what would make it a success?"),
    Question("topics", "Topics to raise", "Which topics do you want to raise?"),
    Question("attendees", "About the attendees", "What should I know about the attendees?"),
    Question(
        "materials",
        "Material to review",
        "Is there material to review beforehand (documents, links, numbers)? Say “none” if not.",
    ),
)


class ConversationTurn(BaseModel):
    """What an engine answers to one user message."""

    model_config = ConfigDict(defer_build=True)

    reply_text: str
    step: int = Field(ge=0)
    answers: dict[str, str] = Field(default_factory=dict)
    finished: bool = False
    #: False when the message was a duplicate delivery: nothing was saved, nothing is to be posted.
    accepted: bool = True
    #: Block Kit for the reply (the prep brief at the end); ``reply_text`` is its fallback.
    blocks: list[dict[str, Any]] | None = None


class ConversationEngine(Protocol):
    def start(self, session: ChatSession, meeting: Meeting, user: User) -> str:
        """The opening message of a new session (recorded in the session)."""
        ...

    def reply(
        self,
        session: ChatSession,
        meeting: Meeting,
        user: User,
        text: str,
        *,
        message_ts: str | None = None,
    ) -> ConversationTurn:
        """Take the user's message (``message_ts``: its Slack ts, for dedupe) and answer it."""
        ...


def prep_brief_blocks(
    meeting: Meeting, user: User, answers: dict[str, str]
) -> list[dict[str, Any]]:
    """The built-in brief of ``meeting`` with ``answers`` (keyed like :data:`QUESTIONS`)."""
    return brief_blocks(BuiltinWriter().write(_material(meeting, user, QUESTIONS, answers, None)))


def _material(
    meeting: Meeting,
    user: User,
    questions: tuple[Question, ...],
    answers: dict[str, str],
    previous: PreviousPrep | None,
) -> BriefMaterial:
    shown = [
        Answer(label=q.label, text=truncate(answers.get(q.key, "").strip(), _ANSWER_LIMIT))
        for q in questions
        if q.key != DONE_KEY
    ]
    topics = "\n".join(a.text for a in shown if a.label.lower().startswith("topic"))
    carried = still_open(previous, answers.get(DONE_KEY, "")) if previous else []
    return BriefMaterial(
        facts=meeting_brief_facts(meeting, user),
        answers=shown,
        previous=previous,
        open_items=[*carried, *(i for i in split_items(topics) if i not in carried)][:20],
    )


class QuestionnaireEngine:
    """Asks :data:`QUESTIONS` in order, stores each answer, ends with the prep brief and marks
    the meeting PREP_COMPLETED. ``session.step`` is the number of questions answered."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        questions: tuple[Question, ...] = QUESTIONS,
        question_sets: Mapping[str, tuple[Question, ...]] | None = None,
        writer: BriefWriter | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._questions = questions
        self._sets = dict(question_sets or {})
        self._writer = writer or BuiltinWriter()

    def _plan(self, meeting: Meeting) -> tuple[tuple[Question, ...], PreviousPrep | None]:
        """The questions for this meeting (by its type; first "which are done?" when the
        previous occurrence left open items) and that previous prep."""
        previous = previous_prep(self._store, meeting)
        questions = self._sets.get(meeting.meeting_type, self._questions)
        if previous is not None and previous.open_items:
            questions = (done_question(previous), *questions)
        return questions, previous

    def start(self, session: ChatSession, meeting: Meeting, user: User) -> str:
        questions, _ = self._plan(meeting)
        opening = (
            f"Let's get you ready for *{mrkdwn_escape(meeting.title)}* "
            f"({format_when(meeting, user)}). "
            f"{len(questions)} quick questions.\n\n{questions[0].text}"
        )
        self._store.append_chat_message(
            session.session_id, ChatMessage(role="assistant", text=opening), now=self._clock()
        )
        return opening

    def reply(
        self,
        session: ChatSession,
        meeting: Meeting,
        user: User,
        text: str,
        *,
        message_ts: str | None = None,
    ) -> ConversationTurn:
        step = session.step
        if message_ts and any(
            m.role == "user" and m.slack_ts == message_ts for m in session.messages
        ):
            return self._duplicate(session, "seen")
        questions, previous = self._plan(meeting)
        answer = text.strip()
        if not answer or step >= len(questions):
            question = questions[min(step, len(questions) - 1)]
            return ConversationTurn(
                reply_text=f"I need a few words to go on. {question.text}",
                step=step,
                answers=dict(session.prep_answers),
            )
        answers = {**session.prep_answers, questions[step].key: answer[:_STORED_ANSWER_LIMIT]}
        finished = step + 1 == len(questions)
        now = self._clock()
        saved = self._store.advance_chat_session(
            session.session_id,
            expected_step=step,
            step=step + 1,
            prep_answers=answers,
            state=ChatState.COMPLETED if finished else ChatState.ACTIVE,
            now=now,
        )
        if not saved:
            return self._duplicate(session, "concurrent")
        self._store.append_chat_message(
            session.session_id,
            ChatMessage(role="user", text=answer, ts=now, slack_ts=message_ts),
            now=now,
        )
        blocks: list[dict[str, Any]] | None = None
        stored: str | None = None
        if finished:
            brief = self._writer.write(_material(meeting, user, questions, answers, previous))
            reply_text, blocks = brief_text(brief), brief_blocks(brief)
            stored = brief.model_dump_json()
        else:
            reply_text = questions[step + 1].text
        self._store.append_chat_message(
            session.session_id,
            ChatMessage(role="assistant", text=reply_text[:40_000], ts=now, brief=stored),
            now=now,
        )
        if stored is not None:  # the brief kept with the meeting (the session expires)
            self._store.save_meeting_brief(meeting.meeting_id, stored, now=now)
            self._complete_meeting(meeting, now)
        log_event(
            logger,
            logging.INFO,
            "prep.answer_saved",
            session_id=session.session_id,
            meeting_id=meeting.meeting_id,
            step=step + 1,
            finished=finished,
        )
        return ConversationTurn(
            reply_text=reply_text, step=step + 1, answers=answers, finished=finished, blocks=blocks
        )

    def _complete_meeting(self, meeting: Meeting, now: datetime) -> None:
        moved = self._store.transition_meeting(
            meeting.meeting_id,
            MeetingStatus.PREP_COMPLETED,
            now=now,
            expected=[MeetingStatus.PREP_IN_PROGRESS],
        )
        log_event(
            logger,
            logging.INFO if moved else logging.WARNING,
            "prep.completed" if moved else "prep.completed_status_unchanged",
            meeting_id=meeting.meeting_id,
        )

    @staticmethod
    def _duplicate(session: ChatSession, why: str) -> ConversationTurn:
        log_event(
            logger,
            logging.INFO,
            "prep.duplicate_message",
            session_id=session.session_id,
            reason=why,
        )
        return ConversationTurn(
            reply_text="", step=session.step, answers=dict(session.prep_answers), accepted=False
        )
