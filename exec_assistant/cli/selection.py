"""Choosing meetings by owner, status and start time (``meetings list`` and ``replay``).

``--status`` takes a lifecycle status (``PREP_REQUIRED``…) or a notification outcome
(``failed``, ``delivered``, ``none``). Several values of one kind are alternatives; the two kinds
combine with AND (``--status PREP_REQUIRED --status failed``).
"""

from __future__ import annotations

from datetime import datetime

import typer

from exec_assistant.cli.params import require_user
from exec_assistant.models import Meeting, MeetingStatus, NotificationStatus
from exec_assistant.store import Store

STATUS_HELP = (
    "Meeting status (DISCOVERED, PREP_REQUIRED, PREP_SCHEDULED, …) or notification outcome "
    "(failed, delivered, none). Repeatable."
)


def parse_statuses(values: list[str]) -> tuple[set[MeetingStatus], set[NotificationStatus]]:
    lifecycle: set[MeetingStatus] = set()
    notification: set[NotificationStatus] = set()
    for value in values:
        if value.lower() in {s.value for s in NotificationStatus}:
            notification.add(NotificationStatus(value.lower()))
        elif value.upper() in {s.value for s in MeetingStatus}:
            lifecycle.add(MeetingStatus(value.upper()))
        else:
            choices = [s.value for s in MeetingStatus] + [s.value for s in NotificationStatus]
            raise typer.BadParameter(f"unknown status {value!r}; use one of {', '.join(choices)}")
    return lifecycle, notification


def select_meetings(
    store: Store,
    *,
    since: datetime,
    until: datetime,
    users: list[str],
    statuses: list[str],
) -> list[Meeting]:
    """Meetings starting in ``[since, until)`` that match every given filter, by start time."""
    if until <= since:
        raise typer.BadParameter("the end of the range must be after its start")
    lifecycle, notification = parse_statuses(statuses)
    found: dict[str, Meeting] = {}
    if users:
        for user_id in users:
            require_user(store, user_id)
            found.update(
                (m.meeting_id, m) for m in store.list_meetings_for_user(user_id, since, until)
            )
    else:
        for status in lifecycle or set(MeetingStatus):
            found.update(
                (m.meeting_id, m) for m in store.list_meetings_by_status(status, since, until)
            )
    return sorted(
        (
            m
            for m in found.values()
            if (not lifecycle or m.status in lifecycle)
            and (not notification or m.notification_status in notification)
        ),
        key=lambda m: (m.start_time, m.meeting_id),
    )
