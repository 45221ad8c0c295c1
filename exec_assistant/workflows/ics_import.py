"""Import meetings from an iCalendar file or feed (icalendar + recurring-ical-events).

* Sources (:mod:`~exec_assistant.workflows.ics_source`): a local path, ``file://``, or
  ``https://`` (``webcal://`` is read as https) — the secret-address feeds Google Calendar and
  Outlook publish. Plain http is refused (the address is a secret).
* Recurring events are expanded within a window (default: now → 14 days); EXDATE, RDATE and
  moved occurrences (RECURRENCE-ID) are honoured by recurring-ical-events.
* Time zones: TZIDs resolve through icalendar, which maps the Windows names Exchange/Outlook
  write ("Pacific Standard Time") to IANA zones and uses a file's own VTIMEZONE definitions;
  ``X-WR-TIMEZONE`` (Google) is applied; floating times are read in the user's zone.
* All-day events and cancelled ones (``STATUS:CANCELLED``) are skipped; a cancelled occurrence
  that was imported before is moved to CANCELLED.
* ``external_id`` is the UID (plus the occurrence's original instant for a recurring series), so
  re-import finds the same meeting and updates only its calendar fields — workflow state is never
  touched. An event without a UID gets one derived from its summary and start. What changed,
  moved or disappeared is decided by :mod:`~exec_assistant.workflows.calendar_sync`.
* One malformed event is reported and skipped; a file that is not iCalendar is a
  :class:`~exec_assistant.errors.PermanentError`. So is a series that recurs like no meeting
  does (more than once an hour, or more than a few times a day):
  :mod:`~exec_assistant.workflows.ics_limits`.
* ``meeting_type`` and ``prep_hours_before`` come from
  :class:`~exec_assistant.workflows.import_rules.ImportRules`.
* Given the feed store (a feed check and ``meetings import`` do), a series whose source did not
  change since the feed's last import, and whose stored meetings are as that import left them,
  is not expanded again (:mod:`~exec_assistant.workflows.ics_series`).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from exec_assistant.errors import NotFoundError
from exec_assistant.logs import log_event
from exec_assistant.models import (
    Meeting,
    MeetingSource,
    meeting_id_for,
    utcnow,
)
from exec_assistant.store.base import Store
from exec_assistant.store.feed_series import SeriesStore
from exec_assistant.workflows.calendar_sync import (
    ImportReport,
    Occurrence,
    Reconciler,
    SkippedEvent,
    series_uid,
)
from exec_assistant.workflows.ics_fields import address, attendee_names, attendees, aware, join_url
from exec_assistant.workflows.ics_limits import rule_problem, too_many
from exec_assistant.workflows.ics_series import SeriesMemory, import_context
from exec_assistant.workflows.ics_source import (
    FETCH_TIMEOUT_SECONDS,
    MAX_BYTES,
    feed_id_for,
    parse_calendar,
    read_source,
)
from exec_assistant.workflows.import_rules import ImportRules

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(days=14)
#: An event with a start but neither DTEND nor DURATION lasts this long.
DEFAULT_DURATION = timedelta(minutes=30)
#: How far outside the imported range a stored meeting is looked for before it counts as deleted.
LOCATE_MARGIN = timedelta(days=366)


# --- expansion ------------------------------------------------------------------------------


def _uid(event: Any) -> str:
    uid = event.get("UID")
    if uid:
        return str(uid)
    start = event.get("DTSTART")
    basis = f"{event.get('SUMMARY', '')}|{start.to_ical().decode() if start is not None else ''}"
    return "derived-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def _series(calendar: Any) -> dict[str, list[Any]]:
    """VEVENTs grouped by UID: a series is its master plus its moved occurrences."""
    groups: dict[str, list[Any]] = {}
    for event in calendar.walk("VEVENT"):
        groups.setdefault(_uid(event), []).append(event)
    return groups


def _sub_calendar(calendar: Any, events: Iterable[Any]) -> Any:
    """A calendar with the original's properties and time zones and one series only."""
    import icalendar

    sub = icalendar.Calendar()
    for name, value in calendar.items():
        sub[name] = value
    for timezone in calendar.walk("VTIMEZONE"):
        sub.add_component(timezone)
    for event in events:
        sub.add_component(event)
    return sub


def _problem(events: list[Any]) -> str | None:
    for event in events:
        errors = getattr(event, "errors", None)
        if errors:
            name, message = errors[0]
            return f"malformed {name}: {message}"
        if event.get("DTSTART") is None:
            return "missing DTSTART"
    return rule_problem(events)


@dataclass
class _Expansion:
    """One import's fixed inputs and its report, shared by the per-event steps."""

    user_id: str
    zone: ZoneInfo
    start: datetime
    end: datetime
    rules: ImportRules
    report: ImportReport = field(default_factory=ImportReport)
    #: The calendar's series by UID (kept to look a stored meeting up outside the range).
    series: dict[str, list[Any]] = field(default_factory=dict)
    #: UIDs of series that could not be read.
    broken: set[str] = field(default_factory=set)
    #: What the feed's last imports remember of its series (None: expand every series).
    memory: SeriesMemory | None = None

    def skip(self, uid: str, summary: str | None, reason: str, start: str | None = None) -> None:
        self.report.skipped.append(
            SkippedEvent(uid=uid, summary=summary, start=start, reason=reason)
        )

    def run(self, calendar: Any) -> list[Occurrence]:
        memory = self.memory
        skipped = [u for u, e in self.series.items() if memory is not None and memory.skip(u, e)]
        found, outside = self.expand_each(calendar, skipped)
        kept = [o for o in found if o.external_id]
        reused = memory is not None and bool(memory.kept)  # stored meetings starting in range
        if skipped and not kept and not reused and memory is not None:
            # nothing starts in the range: the warning below counts every series' occurrences
            memory.unskip(skipped)
            more, more_outside = self.expand_each(
                calendar, [u for u in self.series if u not in skipped]
            )
            kept += [o for o in more if o.external_id]
            outside += more_outside
        if outside and not kept and not reused:
            self.report.warnings.append(
                f"{outside} event(s) in the calendar lie outside {self.start:%Y-%m-%d %H:%M} → "
                f"{self.end:%Y-%m-%d %H:%M} UTC: import a wider range to include them"
            )
        return kept

    def expand_each(self, calendar: Any, leave: list[str]) -> tuple[list[Occurrence], int]:
        """The occurrences of the series not in ``leave``, and how many of them (readable) have
        no occurrence in the range."""
        found: list[Occurrence] = []
        outside = 0
        left = set(leave)
        for uid, events in self.series.items():
            if uid in left:
                continue
            occurrences = self.expand(calendar, uid, events, self.start, self.end, learn=True)
            outside += not occurrences and uid not in self.broken
            found.extend(occurrences)
        return found, outside

    def expand(
        self,
        calendar: Any,
        uid: str,
        events: list[Any],
        start: datetime,
        end: datetime,
        *,
        learn: bool = False,
    ) -> list[Occurrence]:
        """The occurrences of one series in ``[start, end)``; a broken series is reported. With
        ``learn`` (and a memory), the series is expanded a little further and remembered."""
        import recurring_ical_events

        summary = str(events[0].get("SUMMARY", "")) or None
        problem = _problem(events)
        if problem:
            self.skip(uid, summary, problem)
            self.broken.add(uid)
            return []
        recurring = len(events) > 1 or any(
            e.get("RRULE") is not None or e.get("RDATE") is not None for e in events
        )
        try:
            query = recurring_ical_events.of(_sub_calendar(calendar, events))
            components = query.between(start, end)
            problem = too_many(len(components), start, end)
            if problem:
                self.skip(uid, summary, problem)
                self.broken.add(uid)
                return []
            found = [self.occurrence(o, uid, recurring=recurring, since=start) for o in components]
            if learn and self.memory is not None:  # and what begins just after, to remember
                horizon = self.memory.horizon(uid, events)
                after = [
                    self.occurrence(o, uid, recurring=recurring, since=end)
                    for o in (query.between(end, horizon) if horizon > end else [])
                ]
                self.memory.learn(uid, events, found + after)
        except Exception as exc:  # noqa: BLE001 - one broken series is reported, not fatal
            self.skip(uid, summary, f"{type(exc).__name__}: {exc}")
            self.broken.add(uid)
            return []
        return found

    def locate(self, calendar: Any, meeting: Meeting) -> Occurrence | None:
        """``meeting``'s occurrence anywhere within a year of the imported range, if the feed
        still has it (an event moved out of the window is not a deletion)."""
        uid = series_uid(meeting.external_id or "")
        events = self.series.get(uid)
        if not events:
            return None
        start, end = self.start - LOCATE_MARGIN, self.end + LOCATE_MARGIN
        report = self.report
        self.report = ImportReport()  # what this search skips was reported by the import
        try:
            found = self.expand(calendar, uid, events, start, end)
        finally:
            self.report = report
        return next((o for o in found if o.external_id == meeting.external_id), None)

    def occurrence(self, event: Any, uid: str, *, recurring: bool, since: datetime) -> Occurrence:
        zone = self.zone
        begin = event["DTSTART"].dt
        summary = str(event.get("SUMMARY", "")).strip()
        if not isinstance(begin, datetime):
            self.skip(uid, summary, "all-day event", str(begin))
            return Occurrence(uid=uid, external_id="", meeting=None)
        begin = aware(begin, zone).astimezone(UTC)
        instance = event.get("RECURRENCE-ID")
        original = aware(instance.dt, zone) if instance is not None else begin
        external_id = f"{uid}/{original.astimezone(UTC):%Y%m%dT%H%M%SZ}" if recurring else uid
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            self.skip(uid, summary, "cancelled", begin.isoformat())
            return Occurrence(uid=uid, external_id=external_id, meeting=None)
        if begin < since:  # overlaps the window but began before it: not upcoming
            return Occurrence(uid=uid, external_id="", meeting=None)
        raw_end = event.get("DTEND")
        finish = aware(raw_end.dt, zone) if raw_end is not None else begin
        if not isinstance(finish, datetime) or finish <= begin:
            finish = begin + DEFAULT_DURATION
        invited = attendees(event)
        title = summary or "(no title)"
        meeting_type, prep_hours = self.rules.classify(title, len(invited))
        organizer = event.get("ORGANIZER")
        description = str(event.get("DESCRIPTION", ""))[:20_000]
        location = str(event.get("LOCATION", ""))[:2_000]
        meeting = Meeting(
            meeting_id=meeting_id_for(self.user_id, MeetingSource.ICS.value, external_id),
            user_id=self.user_id,
            source=MeetingSource.ICS,
            external_id=external_id,
            title=title[:512],
            description=description,
            location=location,
            join_url=join_url(event, location, description),
            attendee_names=attendee_names(event),
            start_time=begin,
            end_time=finish.astimezone(UTC),
            attendees=invited,
            organizer=address(organizer) if organizer is not None else None,
            meeting_type=meeting_type,
            prep_hours_before=prep_hours,
        )
        return Occurrence(uid=uid, external_id=external_id, meeting=meeting)


# --- import ---------------------------------------------------------------------------------


def import_ics(
    store: Store,
    user_id: str,
    source: str | Path,
    *,
    now: datetime | None = None,
    start: datetime | None = None,
    window: timedelta = DEFAULT_WINDOW,
    rules: ImportRules | None = None,
    feed_id: str | None = None,
    max_bytes: int = MAX_BYTES,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
    series: SeriesStore | None = None,
) -> ImportReport:
    """Import the meetings of ``source`` starting in ``[start, start + window)`` for ``user_id``
    (``start`` defaults to ``now``, the current time). ``feed_id`` defaults to
    :func:`feed_id_for` the source: deletions are judged within one feed. ``series``: see
    :func:`import_calendar`."""
    user = store.get_user(user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found; create the user first")
    now = now or utcnow()
    start = start or now
    data = read_source(source, max_bytes=max_bytes, timeout=timeout, ssl_context=ssl_context)
    return import_calendar(
        store,
        user_id,
        data,
        zone=user.zone,
        start=start,
        end=start + window,
        rules=rules,
        feed_id=feed_id if feed_id is not None else feed_id_for(source),
        now=now,
        series=series,
    )


def import_calendar(
    store: Store,
    user_id: str,
    data: bytes,
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    rules: ImportRules | None = None,
    feed_id: str = "",
    now: datetime | None = None,
    series: SeriesStore | None = None,
) -> ImportReport:
    """Import already-read iCalendar ``data`` (see :func:`import_ics` and
    :mod:`~exec_assistant.workflows.calendar_sync` for what changes). With ``series`` (the
    feed store), series unchanged since the feed's last import are not expanded again
    (:mod:`~exec_assistant.workflows.ics_series`)."""
    calendar = parse_calendar(data)  # a feed that does not parse raises here: nothing changes
    rules = rules or ImportRules()
    expansion = _Expansion(user_id, zone, start, end, rules, series=_series(calendar))
    reconciler = Reconciler(
        store=store,
        user_id=user_id,
        feed_id=feed_id,
        zone=zone,
        start=start,
        end=end,
        now=now or start,
        broken=expansion.broken,
        locate=lambda meeting: expansion.locate(calendar, meeting),
        report=expansion.report,
    )
    if series is not None:
        expansion.memory = SeriesMemory.load(
            series,
            feed_id,
            expansion.series,
            context=import_context(
                calendar, user_id=user_id, zone=zone, rules=rules.model_dump_json()
            ),
            start=start,
            end=end,
            existing=reconciler.stored(),
        )
    memory = expansion.memory
    report = reconciler.run(expansion.run(calendar), kept=memory.kept if memory else ())
    if memory is not None:
        memory.save()
    log_event(
        logger,
        logging.INFO,
        "ics_import.done",
        user_id=user_id,
        feed_id=feed_id,
        created=len(report.created),
        updated=len(report.updated),
        moved=len(report.moved),
        cancelled=len(report.cancelled),
        deleted=len(report.deleted),
        unchanged=report.unchanged,
        skipped=len(report.skipped),
        remembering=memory is not None,
        series_reused=len(memory.skipped) if memory else 0,
        series=len(expansion.series),
    )
    return report
