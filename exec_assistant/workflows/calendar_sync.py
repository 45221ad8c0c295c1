"""Reconcile one feed's occurrences with the stored meetings: what changed, moved or went away.

Identity is RFC 5545's: a non-recurring event is its UID, an occurrence of a series is UID +
RECURRENCE-ID (its original instant, ``external_id = "UID/20261201T150000Z"``). For each
occurrence the import found (see :mod:`exec_assistant.workflows.ics_import`):

* **unchanged** — same calendar fields as stored (the occurrence's *fingerprint*): nothing is
  written, so re-importing an unchanged feed writes nothing;
* **updated** — a changed field is written (calendar fields only); a changed start is also
  reported as **moved**, so its pending work can be re-timed
  (:mod:`exec_assistant.workflows.calendar_changes`);
* **series edits** — moving a series' DTSTART or changing its RRULE gives its occurrences new
  RECURRENCE-IDs. A stored occurrence of the same UID left without a match is paired with a new
  occurrence of that UID *on the same local day* and updated in place (same meeting, work
  re-timed) instead of being orphaned; what has no partner is cancelled or created;
* **deleted** — a stored meeting of this feed starting inside the imported range that the feed no
  longer has (no ``STATUS:CANCELLED``, just gone) is cancelled and reported. Before that, the feed
  is searched for it outside the range (an event moved out of the window is updated, not
  cancelled). A series the import could not read (malformed, reported as skipped) cancels nothing,
  and a feed that failed to download or parse never gets here.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.logs import log_event
from exec_assistant.models import (
    CALENDAR_FIELDS,
    AwareDatetime,
    Meeting,
    MeetingSource,
    MeetingStatus,
    meeting_id_for,
)
from exec_assistant.store.base import Store

logger = logging.getLogger(__name__)

_OCCURRENCE_SUFFIX = re.compile(r"/\d{8}T\d{6}Z$")
_FINAL = frozenset({MeetingStatus.CANCELLED, MeetingStatus.COMPLETED})


class SkippedEvent(BaseModel):
    model_config = ConfigDict(defer_build=True)

    uid: str | None
    summary: str | None = None
    start: str | None = None
    reason: str


class MovedMeeting(BaseModel):
    model_config = ConfigDict(defer_build=True)

    meeting_id: str
    old_start: AwareDatetime
    new_start: AwareDatetime


class ImportReport(BaseModel):
    model_config = ConfigDict(defer_build=True)

    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    #: Meetings whose start changed (a subset of ``updated``): their work is re-timed.
    moved: list[MovedMeeting] = Field(default_factory=list)
    #: Cancelled in the calendar (``STATUS:CANCELLED``).
    cancelled: list[str] = Field(default_factory=list)
    #: Gone from the feed inside the imported range: cancelled here.
    deleted: list[str] = Field(default_factory=list)
    unchanged: int = 0
    skipped: list[SkippedEvent] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class Occurrence(BaseModel):
    """One expanded occurrence: ``meeting`` None means cancelled in the calendar."""

    model_config = ConfigDict(defer_build=True)

    uid: str
    external_id: str
    meeting: Meeting | None


def series_uid(external_id: str) -> str:
    """The UID part of an ``external_id`` (``UID`` or ``UID/<original instant>``)."""
    return _OCCURRENCE_SUFFIX.sub("", external_id)


def fingerprint(meeting: Meeting) -> tuple[Any, ...]:
    """What the calendar says about a meeting: equal fingerprints mean nothing to write."""
    return tuple(getattr(meeting, name) for name in CALENDAR_FIELDS)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def calendar_digest(meeting: Meeting) -> str:
    """A digest of :func:`fingerprint` that can be stored: equal fingerprints give equal digests
    (instants as their distance from the epoch, whatever their zone; mappings in key order) and
    different ones different digests."""
    canonical = tuple(
        value - _EPOCH
        if isinstance(value, datetime)
        else sorted(value.items())
        if isinstance(value, dict)
        else value
        for value in fingerprint(meeting)
    )
    return hashlib.blake2b(repr(canonical).encode(), digest_size=16).hexdigest()


@dataclass
class Reconciler:
    """Applies one import of one feed to the store and fills ``report``."""

    store: Store
    user_id: str
    feed_id: str
    zone: ZoneInfo
    start: datetime
    end: datetime
    now: datetime
    #: UIDs whose series could not be read: their stored meetings are left alone.
    broken: set[str]
    #: Finds a stored meeting's occurrence anywhere in the feed (outside the range too).
    locate: Callable[[Meeting], Occurrence | None]
    report: ImportReport = field(default_factory=ImportReport)
    _stored: list[Meeting] | None = field(default=None, init=False, repr=False)

    def stored(self) -> list[Meeting]:
        """This feed's stored meetings starting in the range (read once, by the first caller)."""
        if self._stored is None:
            self._stored = [
                m
                for m in self.store.list_meetings_for_user(self.user_id, self.start, self.end)
                if m.source == MeetingSource.ICS and m.feed_id == self.feed_id
            ]
        return self._stored

    def run(self, found: list[Occurrence], kept: Collection[str] = ()) -> ImportReport:
        """Apply ``found``; ``kept`` are stored meetings (ids) the import already knows to be
        unchanged (series it did not need to expand): counted, left alone, never leftovers."""
        existing = self.stored()
        by_external = {m.external_id: m for m in existing}
        matched: set[str] = set(kept)
        self.report.unchanged += len(matched)
        unmatched: list[tuple[str, Meeting]] = []  # (series UID, new meeting)
        for occurrence in found:
            current = by_external.get(occurrence.external_id) or self.store.get_meeting(
                meeting_id_for(self.user_id, MeetingSource.ICS.value, occurrence.external_id)
            )
            if current is not None:
                matched.add(current.meeting_id)
            if occurrence.meeting is None:
                if current is not None:
                    self.cancel(current, self.report.cancelled)
            elif current is None:
                unmatched.append((occurrence.uid, occurrence.meeting))
            else:
                self.write(current, occurrence.meeting)
        leftover = [m for m in existing if m.meeting_id not in matched and m.status not in _FINAL]
        for uid, new in unmatched:
            twin = self.partner(uid, new, leftover)
            if twin is None:
                self.create(new)
            else:
                leftover.remove(twin)
                self.write(twin, new)
        for meeting in leftover:
            if series_uid(meeting.external_id or "") in self.broken:
                continue
            located = self.locate(meeting)
            if located is not None and located.meeting is not None:
                self.write(meeting, located.meeting)
            else:
                self.cancel(meeting, self.report.deleted)
        return self.report

    def partner(self, uid: str, new: Meeting, leftover: list[Meeting]) -> Meeting | None:
        """A stored occurrence of series ``uid`` on ``new``'s local day (a series edit)."""
        day = new.start_time.astimezone(self.zone).date()
        candidates = [
            m
            for m in leftover
            if series_uid(m.external_id or "") == uid
            and m.start_time.astimezone(self.zone).date() == day
        ]
        return min(candidates, key=lambda m: abs(m.start_time - new.start_time), default=None)

    def create(self, meeting: Meeting) -> None:
        new = meeting.model_copy(update={"feed_id": self.feed_id})
        stored = self.store.upsert_meeting_calendar(new)
        self.report.created.append(stored.meeting_id)
        self.warn_if_past(stored)

    def write(self, current: Meeting, found: Meeting) -> None:
        new = found.model_copy(update={"meeting_id": current.meeting_id, "feed_id": self.feed_id})
        if fingerprint(new) == fingerprint(current):
            self.report.unchanged += 1
            return
        self.store.upsert_meeting_calendar(new)
        self.report.updated.append(current.meeting_id)
        if new.start_time != current.start_time:
            self.report.moved.append(
                MovedMeeting(
                    meeting_id=current.meeting_id,
                    old_start=current.start_time,
                    new_start=new.start_time,
                )
            )
        self.warn_if_past(new)

    def cancel(self, meeting: Meeting, into: list[str]) -> None:
        if self.store.transition_meeting(meeting.meeting_id, MeetingStatus.CANCELLED, now=self.now):
            into.append(meeting.meeting_id)
            log_event(
                logger,
                logging.INFO,
                "ics_import.meeting_cancelled",
                meeting_id=meeting.meeting_id,
                user_id=self.user_id,
                reason="cancelled in the calendar"
                if into is self.report.cancelled
                else "no longer in the feed",
            )

    def warn_if_past(self, meeting: Meeting) -> None:
        if meeting.start_time < self.now:
            self.report.warnings.append(
                f"meeting {meeting.meeting_id} starts in the past "
                f"({meeting.start_time.astimezone(self.zone):%Y-%m-%d %H:%M %Z}): "
                "no prep notification will be sent for it"
            )
            log_event(
                logger,
                logging.WARNING,
                "ics_import.meeting_in_past",
                meeting_id=meeting.meeting_id,
                start_time=meeting.start_time.isoformat(),
            )
