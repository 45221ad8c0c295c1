"""Calendar changes → a meeting's pending work: re-time or delete its schedules, edit its DMs.

After an import (:class:`~exec_assistant.workflows.calendar_sync.ImportReport`):

* a **moved** meeting (its start changed) keeps its prep state. Its prep window needs nothing
  here: the calendar monitor derives it from the stored start on every pass. Its pending
  *reminders* move with the meeting (same lead time before the new start); its pending
  *escalation check* keeps its time (it is "delivered + delay"), and either is deleted when it
  would now come at or after the new start. A reminder whose moved time has already passed fires
  at once. Every Slack DM already delivered for it is edited (``chat.update``) to show the new
  time, with a line saying what it was;
* a **cancelled** meeting (cancelled in the calendar or gone from its feed) loses every pending
  schedule and its delivered DMs are edited to say it was cancelled, without buttons.

Pending work is found by name prefix (:func:`~exec_assistant.workflows.reminders.
meeting_schedule_prefixes`) on either scheduler; DMs from the ledger's delivered Slack attempts.
Nothing is posted: an edit is idempotent, so a repeated pass sends nothing twice. A failure on one
meeting is logged with its id and class and reported; the others go on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.components import Runtime
from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import log_event
from exec_assistant.models import AttemptStatus, Channel, Meeting, MeetingStatus, User
from exec_assistant.notifications.rendering import (
    Block,
    format_when,
    meeting_blocks,
    one_line,
    prep_actions_block,
    status_block,
    truncate,
)
from exec_assistant.notifications.types import DeliveryError, MessageEditor
from exec_assistant.workflows.calendar_sync import ImportReport, MovedMeeting
from exec_assistant.workflows.reminders import meeting_schedule_prefixes

logger = logging.getLogger(__name__)

#: A re-timed reminder whose time has passed fires this soon instead.
CATCH_UP = timedelta(minutes=1)

_AWAITING = frozenset(
    {MeetingStatus.DISCOVERED, MeetingStatus.PREP_REQUIRED, MeetingStatus.PREP_SCHEDULED}
)
_STATE_LINES = {
    MeetingStatus.PREP_IN_PROGRESS: "Prep started: answer the questions in our DM.",
    MeetingStatus.PREP_COMPLETED: "Prep done: the brief is in our DM.",
}
CANCELLED_HEADER = "Cancelled: no prep needed"
CANCELLED_LINE = "This meeting was cancelled or removed from your calendar."


class ChangeResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    rescheduled: list[str] = Field(default_factory=list)  # schedule names
    deleted: list[str] = Field(default_factory=list)  # schedule names
    edited: list[str] = Field(default_factory=list)  # Slack channel:ts
    failed: list[str] = Field(default_factory=list)  # meeting ids


def apply_calendar_changes(runtime: Runtime, report: ImportReport) -> ChangeResult:
    """Re-time the work of ``report.moved``; drop the work of cancelled and deleted meetings."""
    result = ChangeResult()
    for moved in report.moved:
        _guarded(runtime, result, moved.meeting_id, moved)
    for meeting_id in [*report.cancelled, *report.deleted]:
        _guarded(runtime, result, meeting_id, None)
    return result


def _guarded(
    runtime: Runtime, result: ChangeResult, meeting_id: str, moved: MovedMeeting | None
) -> None:
    try:
        meeting = runtime.store.get_meeting(meeting_id)
        if meeting is None:
            return
        if moved is not None and meeting.status not in (
            MeetingStatus.CANCELLED,
            MeetingStatus.COMPLETED,
        ):
            retime_meeting(runtime, meeting, moved.old_start, result)
        elif meeting.status == MeetingStatus.CANCELLED:
            drop_meeting_work(runtime, meeting, result)
    except (ExecAssistantError, DeliveryError) as exc:
        result.failed.append(meeting_id)
        log_event(
            logger,
            logging.ERROR,
            "calendar_change.failed",
            meeting_id=meeting_id,
            error_class=str(getattr(exc, "error_class", "unknown")),
            error=str(exc),
        )


def retime_meeting(
    runtime: Runtime, meeting: Meeting, old_start: datetime, result: ChangeResult
) -> None:
    """Move or delete ``meeting``'s pending schedules and edit its delivered DMs."""
    shift = meeting.start_time - old_start
    now = runtime.clock()
    reminders, escalations = meeting_schedule_prefixes(meeting.meeting_id)
    for prefix, moves in ((reminders, True), (escalations, False)):
        for item in runtime.scheduler.pending(prefix):
            fire_at = item.fire_at + shift if moves else item.fire_at
            fire_at = max(fire_at, now + CATCH_UP) if fire_at <= now else fire_at
            if fire_at >= meeting.start_time:
                if runtime.scheduler.cancel(item.name):
                    result.deleted.append(item.name)
            elif fire_at != item.fire_at and runtime.scheduler.reschedule(
                item.model_copy(update={"fire_at": fire_at})
            ):
                result.rescheduled.append(item.name)
    user = runtime.store.get_user(meeting.user_id)
    if user is None:
        return
    was = meeting.model_copy(
        update={"start_time": old_start, "end_time": old_start + meeting.duration}
    )
    note = status_block(f"Moved: now {format_when(meeting, user)} (was {format_when(was, user)}).")
    footer = (
        prep_actions_block(meeting.meeting_id)
        if meeting.status in _AWAITING
        else status_block(_STATE_LINES.get(meeting.status, "Prep state unchanged."))
    )
    blocks = [*meeting_blocks(meeting, user, footer=footer)[:-1], note, footer]
    text = f"Moved: {one_line(meeting.title)} is now {format_when(meeting, user)}."
    _edit_delivered(runtime, meeting, text=text, blocks=blocks, result=result)
    log_event(
        logger,
        logging.INFO,
        "calendar_change.retimed",
        meeting_id=meeting.meeting_id,
        old_start=old_start.isoformat(),
        new_start=meeting.start_time.isoformat(),
    )


def drop_meeting_work(runtime: Runtime, meeting: Meeting, result: ChangeResult) -> None:
    """Delete every pending schedule of a cancelled meeting and mark its DMs cancelled."""
    for prefix in meeting_schedule_prefixes(meeting.meeting_id):
        for item in runtime.scheduler.pending(prefix):
            if runtime.scheduler.cancel(item.name):
                result.deleted.append(item.name)
    user = runtime.store.get_user(meeting.user_id)
    if user is None:
        return
    blocks = cancelled_blocks(meeting, user)
    text = f"Cancelled: {one_line(meeting.title)} ({format_when(meeting, user)})."
    _edit_delivered(runtime, meeting, text=text, blocks=blocks, result=result)
    log_event(logger, logging.INFO, "calendar_change.dropped", meeting_id=meeting.meeting_id)


def cancelled_blocks(meeting: Meeting, user: User) -> list[Block]:
    """The meeting card headed "Cancelled", with a closing line instead of the buttons."""
    blocks = meeting_blocks(meeting, user, footer=status_block(CANCELLED_LINE))
    header = {"type": "header", "text": {"type": "plain_text", "text": CANCELLED_HEADER}}
    return [header, *blocks[1:]]


def _edit_delivered(
    runtime: Runtime, meeting: Meeting, *, text: str, blocks: list[Block], result: ChangeResult
) -> None:
    editor = runtime.channels.get(Channel.SLACK)
    if not isinstance(editor, MessageEditor):
        return
    records = runtime.store.list_notifications_for_meeting(meeting.meeting_id)
    delivered = sorted(
        {
            attempt.provider_id
            for record in records
            for attempt in record.attempts
            if attempt.channel == Channel.SLACK
            and attempt.status == AttemptStatus.DELIVERED
            and attempt.provider_id
        }
    )
    for provider_id in delivered:
        editor.update(provider_id, text=truncate(text, 3000), blocks=blocks)
        result.edited.append(provider_id)
        log_event(
            logger,
            logging.INFO,
            "calendar_change.dm_edited",
            meeting_id=meeting.meeting_id,
            message=provider_id,
        )
