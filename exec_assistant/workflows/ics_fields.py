"""Reading one VEVENT's fields as the import stores them: attendees (``mailto:`` dropped, names
from ``CN``), the organizer's address, the video link (Google's and Exchange's own properties
first, then one found in the location or description) and times without a zone read in the
owner's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from exec_assistant.workflows.brief_facts import find_join_url


def address(value: Any) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def attendees(event: Any) -> list[str]:
    raw = event.get("ATTENDEE")
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else [raw]
    return [address(v) for v in values]


def attendee_names(event: Any) -> dict[str, str]:
    raw = event.get("ATTENDEE")
    values = [] if raw is None else raw if isinstance(raw, list) else [raw]
    names: dict[str, str] = {}
    for value in values:
        name = getattr(value, "params", {}).get("CN")
        if name:
            names[address(value)] = str(name)[:200]
    return names


#: Properties in which Google and Exchange put the meeting's video link.
_CONFERENCE_PROPERTIES = ("X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")


def join_url(event: Any, location: str, description: str) -> str:
    for name in _CONFERENCE_PROPERTIES:
        value = str(event.get(name, "")).strip()
        if value.startswith("https://"):
            return value[:2_000]
    return find_join_url(location, description)


def aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)
