"""Re-import without re-expanding: a series whose source did not change is not expanded again.

A feed is re-imported whole every interval, but most of its series did not change, and
expanding them (recurring-ical-events, then a ``Meeting`` per occurrence) is most of an import.
So each import remembers, per series of the feed (a
:class:`~exec_assistant.store.feed_series.SeriesState` in the feed store):

* ``source`` — a digest of everything that decides the series' occurrences: its VEVENTs (the
  master and its RECURRENCE-ID overrides, serialized, without the DTSTAMP that feeds renew on
  every download), the calendar's own properties
  (``X-WR-TIMEZONE``…) and every VTIMEZONE definition, the owner's id and time zone, the import
  rules (meeting type, prep hours), the icalendar and recurring-ical-events versions and
  :data:`EXPANSION_VERSION` (raise it when the expansion's output changes);
* the range it was expanded over: the import's range plus :data:`LOOKAHEAD` (so the range
  moving forward with each feed check is still covered), and each occurrence starting in it,
  with its start and the :func:`~exec_assistant.workflows.calendar_sync.calendar_digest` of the
  meeting it makes.

A later import of the feed skips a series when (1) its source digest is the same, (2) the new
range lies inside the remembered one, and (3) the feed's stored meetings of that series in the
new range are exactly the remembered occurrences starting in it, with the same calendar digests.
Then a full expansion would have found each of them unchanged and nothing else, so skipping
changes nothing: the stored meetings are counted unchanged and left alone. Anything else — an
edit, an override added or removed, a time-zone definition or a rule changed, the range moved
past the remembered one, a stored meeting changed, removed or re-created — expands the series as
before, and what that expansion finds is remembered instead.

Series whose occurrences over a range are not a plain filter of a wider expansion are always
expanded: cancelled ones (``STATUS:CANCELLED``) and all-day ones (reported as skipped for the
range), times without a zone (read in the range's zone by recurring-ical-events), an end before
the start, an RDATE that is not a date-time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from exec_assistant.errors import StoreUnavailableError
from exec_assistant.logs import log_event
from exec_assistant.models import Meeting
from exec_assistant.store.feed_series import SeriesState, SeriesStore
from exec_assistant.workflows.calendar_sync import Occurrence, calendar_digest, series_uid

logger = logging.getLogger(__name__)

#: Raise when the import makes different meetings from the same source (a new field read, a
#: rule applied differently): every remembered series is then expanded once again.
EXPANSION_VERSION = 1
#: How far past the import's range a series is expanded to be remembered: a feed checked every
#: 15 minutes expands each unchanged series about once a day.
LOOKAHEAD = timedelta(days=1)


@cache
def _library_versions() -> str:
    from importlib.metadata import version

    return (
        f"icalendar {version('icalendar')} recurring-ical-events {version('recurring-ical-events')}"
    )


def _ical(value: Any) -> bytes:
    return value.to_ical() if hasattr(value, "to_ical") else str(value).encode()


def import_context(calendar: Any, *, user_id: str, zone: ZoneInfo, rules: str) -> bytes:
    """What every series' occurrences depend on besides its own VEVENTs (``rules``: the import
    rules as JSON)."""
    digest = hashlib.sha256()
    for part in (f"expansion {EXPANSION_VERSION}", _library_versions(), user_id, str(zone), rules):
        digest.update(repr(part).encode())
    for name, value in calendar.property_items(recursive=False):
        digest.update(repr((name, _ical(value))).encode())
    for timezone in calendar.walk("VTIMEZONE"):
        digest.update(timezone.to_ical())
    return digest.digest()


def _without_stamp(ical: bytes) -> bytes:
    """A serialized VEVENT without its DTSTAMP lines: Google and Outlook stamp every event with
    the time of each download, and neither recurring-ical-events nor the import reads it."""
    lines = ical.split(b"\r\n")
    return b"\r\n".join(x for x in lines if not x.startswith((b"DTSTAMP:", b"DTSTAMP;")))


def _zoned(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _values(raw: Any) -> list[Any]:
    return [] if raw is None else raw if isinstance(raw, list) else [raw]


def rememberable(events: list[Any]) -> bool:
    """Whether the series' occurrences in any range are those of a wider expansion starting in
    it (see the module's docstring for the series that are not)."""
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            return False
        start, end, duration = event.get("DTSTART"), event.get("DTEND"), event.get("DURATION")
        if start is None or not _zoned(start.dt):
            return False
        if end is not None and not (_zoned(end.dt) and end.dt >= start.dt):
            return False
        if duration is not None and not (
            isinstance(duration.dt, timedelta) and duration.dt >= timedelta(0)
        ):
            return False
        instance = event.get("RECURRENCE-ID")
        if instance is not None and not _zoned(instance.dt):
            return False
        for name in ("RDATE", "EXDATE"):
            for values in _values(event.get(name)):
                if not all(
                    _zoned(v.dt) or (name == "EXDATE" and not isinstance(v.dt, datetime))
                    for v in values.dts
                ):
                    return False
    return True


@dataclass
class SeriesMemory:
    """One import's use of the remembered series of its feed: which to skip, what to remember."""

    store: SeriesStore
    feed_id: str
    context: bytes
    start: datetime
    end: datetime
    #: The stored states of the feed's series (by UID).
    remembered: dict[str, SeriesState]
    #: The feed's stored meetings starting in the range, by series UID.
    stored: dict[str, list[Meeting]]
    #: Stored meetings (ids) of the skipped series: unchanged.
    kept: list[str] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)
    learned: dict[str, SeriesState] = field(default_factory=dict)
    _sources: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        store: SeriesStore,
        feed_id: str,
        series: dict[str, list[Any]],
        *,
        context: bytes,
        start: datetime,
        end: datetime,
        existing: list[Meeting],
    ) -> SeriesMemory | None:
        """The feed's remembered series; None (logged) if they cannot be read."""
        stored: dict[str, list[Meeting]] = {}
        for meeting in existing:
            stored.setdefault(series_uid(meeting.external_id or ""), []).append(meeting)
        try:
            remembered = store.get_series(feed_id, list(series))
        except StoreUnavailableError as exc:  # every series is expanded, as without a memory
            _unavailable("read", feed_id, exc)
            return None
        return cls(store, feed_id, context, start, end, remembered, stored)

    def source(self, uid: str, events: list[Any]) -> str | None:
        """The series' source digest, or None if it is not :func:`rememberable`."""
        if uid not in self._sources:
            digest = None
            if rememberable(events):
                hashed = hashlib.sha256(self.context)
                for event in events:
                    hashed.update(_without_stamp(event.to_ical()))
                digest = hashed.hexdigest()
            self._sources[uid] = digest
        return self._sources[uid]

    def skip(self, uid: str, events: list[Any]) -> bool:
        """Whether the series can be left unexpanded (its stored meetings are then ``kept``)."""
        state = self.remembered.get(uid)
        if (
            state is None
            or state.source != self.source(uid, events)
            or self.start < state.start
            or self.end > state.until
        ):
            return False
        expected = {
            external_id: digest
            for external_id, (begin, digest) in state.occurrences.items()
            if self.start <= begin < self.end
        }
        stored = self.stored.get(uid, [])
        found = {m.external_id or "": calendar_digest(m) for m in stored}
        if len(stored) != len(expected) or found != expected:
            return False
        self.kept += [m.meeting_id for m in stored]
        self.skipped.add(uid)
        return True

    def unskip(self, uids: Collection[str]) -> None:
        """Forget that these series were skipped (the import expands them after all)."""
        dropped = {m.meeting_id for uid in uids for m in self.stored.get(uid, [])}
        self.kept = [m for m in self.kept if m not in dropped]
        self.skipped -= set(uids)

    def horizon(self, uid: str, events: list[Any]) -> datetime:
        """Where the series' expansion ends: :data:`LOOKAHEAD` past the range if it can be
        remembered."""
        return self.end + LOOKAHEAD if self.source(uid, events) is not None else self.end

    def learn(self, uid: str, events: list[Any], occurrences: list[Occurrence]) -> None:
        """Remember the series' expansion over ``[start, horizon)``."""
        source = self.source(uid, events)
        found = [o for o in occurrences if o.external_id]
        entries: dict[str, tuple[datetime, str]] = {}
        for occurrence in found:
            if source is None or occurrence.meeting is None:
                return
            meeting = occurrence.meeting.model_copy(update={"feed_id": self.feed_id})
            entries[occurrence.external_id] = (meeting.start_time, calendar_digest(meeting))
        if source is None or len(entries) != len(found):  # one id twice: not a plain filter
            return
        self.learned[uid] = SeriesState(
            uid=uid,
            source=source,
            start=self.start,
            until=self.horizon(uid, events),
            occurrences=entries,
        )

    def save(self) -> None:
        """Store what was learned; drop the states of the series expanded without being learned.
        A failure is logged, not raised: the meetings are written by then and the import's
        report still has to be acted on; a state not stored only costs an expansion."""
        drop = [u for u in self.remembered if u not in self.learned and u not in self.skipped]
        try:
            if self.learned or drop:
                self.store.update_series(self.feed_id, list(self.learned.values()), drop)
        except StoreUnavailableError as exc:
            _unavailable("write", self.feed_id, exc)


def _unavailable(step: str, feed_id: str, exc: StoreUnavailableError) -> None:
    log_event(
        logger,
        logging.WARNING,
        "ics_import.series_memory_unavailable",
        step=step,
        feed_id=feed_id,
        error_class=exc.error_class.value,
        error=str(exc),
    )
