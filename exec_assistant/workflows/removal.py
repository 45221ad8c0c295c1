"""Cancel or remove a meeting, remove a user: the store change plus the work hanging off it.

What each leaves behind is deliberate:

* **cancel** keeps the meeting (status ``CANCELLED``), deletes its pending reminders and
  escalation checks, edits its delivered Slack DMs to say it was cancelled (the same edit a
  calendar cancellation makes, :func:`~exec_assistant.workflows.calendar_changes.
  drop_meeting_work`) and ends an unfinished prep conversation;
* **remove** does all that, then deletes the meeting's record. Its ledger records stay: they are
  the history of what was sent (``exec-assistant timeline``) and expire with the ledger's
  retention;
* **remove a user** removes their meetings as above (only when asked: a user with meetings is
  refused otherwise, so a typo cannot wipe a calendar), their calendar feeds and their morning
  digest schedule, then the user's record.

Each step is idempotent, so a command that failed halfway (a store outage, a Slack error while
editing a DM) can simply be run again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.components import Runtime
from exec_assistant.errors import NotFoundError, RefusedError
from exec_assistant.logs import log_event
from exec_assistant.models import (
    ChatState,
    Meeting,
    MeetingStatus,
    User,
    chat_session_id_for,
)
from exec_assistant.workflows.calendar_changes import ChangeResult, drop_meeting_work

logger = logging.getLogger(__name__)

#: Every meeting a user can own lies between these (the store lists meetings by start time).
_ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


class MeetingRemoval(BaseModel):
    """What cancelling or removing one meeting did."""

    model_config = ConfigDict(defer_build=True)

    meeting_id: str
    title: str
    cancelled: bool = False  # the status moved to CANCELLED now (False: it already was)
    removed: bool = False  # the record was deleted
    conversation_ended: bool = False
    schedules_deleted: list[str] = Field(default_factory=list)
    messages_edited: list[str] = Field(default_factory=list)  # Slack channel:ts


class UserRemoval(BaseModel):
    """What removing one user did."""

    model_config = ConfigDict(defer_build=True)

    user_id: str
    meetings: list[MeetingRemoval] = Field(default_factory=list)
    feeds_removed: int = 0


def cancel_meeting(runtime: Runtime, meeting_id: str) -> MeetingRemoval:
    """Cancel ``meeting_id`` and drop its pending work (see the module docstring).

    Raises :class:`NotFoundError` for an unknown meeting and :class:`RefusedError` for a
    completed one; cancelling twice changes nothing more than a repeated edit."""
    meeting = _require_meeting(runtime, meeting_id)
    moved = runtime.store.transition_meeting(
        meeting_id, MeetingStatus.CANCELLED, now=runtime.clock()
    )
    if not moved:
        current = _require_meeting(runtime, meeting_id)
        if current.status is not MeetingStatus.CANCELLED:
            raise RefusedError(
                f"meeting {meeting_id} is {current.status.value}: it cannot be cancelled any more",
                code="not_cancellable",
            )
    result = _drop_work(runtime, meeting)
    result.cancelled = moved
    log_event(logger, logging.INFO, "meeting.cancelled", meeting_id=meeting_id, changed=moved)
    return result


def remove_meeting(runtime: Runtime, meeting_id: str) -> MeetingRemoval:
    """Drop ``meeting_id``'s pending work, then delete its record (its ledger stays)."""
    meeting = _require_meeting(runtime, meeting_id)
    result = _drop_work(runtime, meeting)
    result.removed = runtime.store.delete_meeting(meeting_id)
    log_event(logger, logging.INFO, "meeting.removed", meeting_id=meeting_id)
    return result


def meetings_of(runtime: Runtime, user_id: str) -> list[Meeting]:
    """Every meeting ``user_id`` owns, by start time."""
    return runtime.store.list_meetings_for_user(user_id, *_ALL_TIME)


def removable_user(
    runtime: Runtime, user_id: str, *, with_meetings: bool
) -> tuple[User, list[Meeting]]:
    """The user and the meetings :func:`remove_user` would remove, or why it would refuse:
    :class:`NotFoundError`, or :class:`RefusedError` for a user who owns meetings without
    ``with_meetings``. Changes nothing (the CLI asks for confirmation after it)."""
    user = runtime.store.get_user(user_id)
    if user is None:
        raise NotFoundError(
            f"no user {user_id} in the store (see 'exec-assistant users list')",
            code="user_not_found",
        )
    meetings = meetings_of(runtime, user_id)
    if meetings and not with_meetings:
        raise RefusedError(
            f"user {user_id} owns {len(meetings)} meeting(s): pass --with-meetings to remove "
            f"them too, or remove them first ('exec-assistant meetings list --user {user_id}')",
            code="user_has_meetings",
        )
    return user, meetings


def remove_user(runtime: Runtime, user_id: str, *, with_meetings: bool = False) -> UserRemoval:
    """Remove ``user_id``: their meetings (only with ``with_meetings``), feeds, digest, record.

    A user who still owns meetings is refused (:class:`RefusedError`, nothing changed) unless
    ``with_meetings`` is given."""
    user, meetings = removable_user(runtime, user_id, with_meetings=with_meetings)
    result = UserRemoval(user_id=user_id)
    for meeting in meetings:
        result.meetings.append(remove_meeting(runtime, meeting.meeting_id))
    result.feeds_removed = _remove_feeds(runtime, user_id)
    _stop_digest(runtime, user)
    runtime.store.delete_user(user_id)
    log_event(
        logger,
        logging.INFO,
        "user.removed",
        user_id=user_id,
        meetings=len(result.meetings),
        feeds=result.feeds_removed,
    )
    return result


def _require_meeting(runtime: Runtime, meeting_id: str) -> Meeting:
    meeting = runtime.store.get_meeting(meeting_id)
    if meeting is None:
        raise NotFoundError(f"no meeting {meeting_id} in the store", code="meeting_not_found")
    return meeting


def _drop_work(runtime: Runtime, meeting: Meeting) -> MeetingRemoval:
    changes = ChangeResult()
    drop_meeting_work(runtime, meeting, changes)
    return MeetingRemoval(
        meeting_id=meeting.meeting_id,
        title=meeting.title,
        conversation_ended=_end_conversation(runtime, meeting),
        schedules_deleted=changes.deleted,
        messages_edited=changes.edited,
    )


def _end_conversation(runtime: Runtime, meeting: Meeting) -> bool:
    """Expire the meeting's prep conversation if it is still open, so the executive's next DM
    is not taken as an answer about a meeting that is gone."""
    session = runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id))
    if session is None or session.state is not ChatState.ACTIVE:
        return False
    return runtime.store.advance_chat_session(
        session.session_id,
        expected_step=session.step,
        step=session.step,
        prep_answers=dict(session.prep_answers),
        state=ChatState.EXPIRED,
        now=runtime.clock(),
    )


def _remove_feeds(runtime: Runtime, user_id: str) -> int:
    from exec_assistant.workflows.feeds import feed_store

    feeds = feed_store(runtime)
    try:
        return sum(feeds.delete_feed(feed.feed_id) for feed in feeds.list_feeds(user_id))
    finally:
        feeds.close()


def _stop_digest(runtime: Runtime, user: User) -> None:
    from exec_assistant.workflows.digest import plan_digest

    off = user.preferences.model_copy(update={"digest_time": None})
    plan_digest(runtime, user.model_copy(update={"preferences": off}))
