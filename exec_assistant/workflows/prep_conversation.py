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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

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

logger = logging.getLogger(__name__)

#: Block Kit limits: a section's text, and how much of one answer the brief shows.
_SECTION_LIMIT = 3000
_ANSWER_LIMIT = 2500
#: Longest answer kept (a DM can be 40k characters; a brief has no use for that much).
_STORED_ANSWER_LIMIT = 10_000


@dataclass(frozen=True)
class Question:
    key: str  # where the answer is stored in ChatSession.prep_answers
    label: str  # heading of the answer in the prep brief
    text: str


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
    """The prep brief: meeting details, then each answer under its question's label."""
    details = [f"*When:* {mrkdwn_escape(format_when(meeting, user))}"]
    if meeting.location:
        details.append(f"*Where:* {mrkdwn_escape(meeting.location)}")
    if meeting.attendees:
        details.append(f"*Attendees:* {mrkdwn_escape(', '.join(meeting.attendees))}")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"Prep brief: {meeting.title}", 150)},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate("\n".join(details), _SECTION_LIMIT)},
        },
        {"type": "divider"},
    ]
    for question in QUESTIONS:
        answer = answers.get(question.key, "").strip() or "—"
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{question.label}*\n{truncate(mrkdwn_escape(answer), _ANSWER_LIMIT)}",
                },
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Prep complete. Good luck in the meeting!"}],
        }
    )
    return blocks


def prep_brief_text(meeting: Meeting, user: User, answers: dict[str, str]) -> str:
    """Plain-text fallback of :func:`prep_brief_blocks` (notifications, screen readers)."""
    lines = [f"Prep brief: {meeting.title} — {format_when(meeting, user)}"]
    lines += [f"{q.label}: {answers.get(q.key, '').strip() or '—'}" for q in QUESTIONS]
    return "\n".join(lines)


class QuestionnaireEngine:
    """Asks :data:`QUESTIONS` in order, stores each answer, ends with the prep brief and marks
    the meeting PREP_COMPLETED. ``session.step`` is the number of questions answered."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        questions: tuple[Question, ...] = QUESTIONS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._questions = questions

    def start(self, session: ChatSession, meeting: Meeting, user: User) -> str:
        opening = (
            f"Let's get you ready for *{mrkdwn_escape(meeting.title)}* "
            f"({format_when(meeting, user)}). "
            f"{len(self._questions)} quick questions.\n\n{self._questions[0].text}"
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
        answer = text.strip()
        if not answer or step >= len(self._questions):
            question = self._questions[min(step, len(self._questions) - 1)]
            return ConversationTurn(
                reply_text=f"I need a few words to go on. {question.text}",
                step=step,
                answers=dict(session.prep_answers),
            )
        answers = {**session.prep_answers, self._questions[step].key: answer[:_STORED_ANSWER_LIMIT]}
        finished = step + 1 == len(self._questions)
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
        if finished:
            reply_text = prep_brief_text(meeting, user, answers)
            blocks: list[dict[str, Any]] | None = prep_brief_blocks(meeting, user, answers)
            self._complete_meeting(meeting, now)
        else:
            reply_text, blocks = self._questions[step + 1].text, None
        self._store.append_chat_message(
            session.session_id, ChatMessage(role="assistant", text=reply_text, ts=now), now=now
        )
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
