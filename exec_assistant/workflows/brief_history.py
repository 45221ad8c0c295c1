"""Since last time: the previous occurrence's prep, and the open items carried forward.

The brief is stored with the meeting (``Meeting.brief``, JSON; ``Store.save_meeting_brief``)
when the prep conversation ends, before the meeting moves to PREP_COMPLETED; it outlives the chat
session (whose record expires a week after the meeting). :func:`previous_prep` finds the most
recent earlier meeting of the same series (same UID), or else with the same set of attendees,
whose prep produced a brief (read with the meeting itself: no further store call); its open items
are asked about ("which are done?", :func:`done_question`) and what stays open is carried to this
brief.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from exec_assistant.models import Meeting
from exec_assistant.store.base import Store
from exec_assistant.workflows.brief import Brief, PreviousPrep
from exec_assistant.workflows.calendar_sync import series_uid

DONE_KEY = "_done"
#: How far back the previous occurrence is looked for.
HISTORY = timedelta(days=120)
_CARRIED_LABELS = ("goal", "topic")


@dataclass(frozen=True)
class Question:
    key: str  # where the answer is stored in ChatSession.prep_answers
    label: str  # heading of the answer in the prep brief
    text: str


def meeting_brief(meeting: Meeting) -> Brief | None:
    """The brief stored with ``meeting`` (None before its prep was completed, or when what is
    stored no longer reads as a brief)."""
    if meeting.brief is None:
        return None
    try:
        return Brief.model_validate_json(meeting.brief)
    except ValidationError:
        return None


def _attendee_set(meeting: Meeting) -> frozenset[str]:
    return frozenset(a.lower() for a in meeting.attendees)


def previous_prep(store: Store, meeting: Meeting) -> PreviousPrep | None:
    """The prep of the previous occurrence (same series, else the same attendees), if any."""
    uid = series_uid(meeting.external_id) if meeting.external_id else None
    people = _attendee_set(meeting)
    earlier = store.list_meetings_for_user(
        meeting.user_id, meeting.start_time - HISTORY, meeting.start_time
    )
    for candidate in reversed(earlier):
        if candidate.meeting_id == meeting.meeting_id:
            continue
        same_series = (
            uid is not None
            and candidate.external_id is not None
            and (series_uid(candidate.external_id) == uid)
        )
        if not same_series and not (people and _attendee_set(candidate) == people):
            continue
        brief = meeting_brief(candidate)  # read with the candidate: no further store call
        if brief is None:
            continue
        return PreviousPrep(
            meeting_id=candidate.meeting_id,
            when=brief.facts.when,
            answers=[a for a in brief.answers if a.label.lower().startswith(_CARRIED_LABELS)],
            open_items=brief.open_items,
        )
    return None


def done_question(previous: PreviousPrep) -> Question:
    listed = "\n".join(f"{n}. {item}" for n, item in enumerate(previous.open_items, 1))
    return Question(
        DONE_KEY,
        "Done since last time",
        f"Last time these were open:\n{listed}\n"
        "Which are done? Reply with their numbers, “all” or “none”.",
    )


def still_open(previous: PreviousPrep, answer: str) -> list[str]:
    """The previous open items the answer to :func:`done_question` did not mark done."""
    lowered = answer.strip().lower()
    if lowered.startswith("all"):
        return []
    done = {int(n) for n in re.findall(r"\d+", lowered)}
    return [item for n, item in enumerate(previous.open_items, 1) if n not in done]
