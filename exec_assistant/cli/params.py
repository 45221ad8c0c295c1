"""Parsing what people type (dates, durations) and opening the configured store for a command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer

from exec_assistant.config import Settings, get_settings
from exec_assistant.store import Store, open_store

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")
]

_RELATIVE = re.compile(r"^([+-])?(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

WHEN_HELP = (
    "ISO date or time (2026-11-25, 2026-11-25T09:30, 2026-11-25T09:30+01:00), 'now', or relative "
    "to now (+2h, -30m, +1d). Without an offset, the local time zone applies."
)


def parse_duration(value: str) -> timedelta:
    """``30m``, ``1h``, ``2d`` → a timedelta (a leading sign is allowed)."""
    match = _RELATIVE.match(value.strip().lower())
    if not match:
        raise typer.BadParameter(f"{value!r} is not a duration such as 30m, 2h or 1d")
    sign, amount, unit = match.groups()
    delta = timedelta(**{_UNITS[unit]: int(amount)})
    return -delta if sign == "-" else delta


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO date/time, ``now`` or ``+2h``-style offset → a timezone-aware datetime.

    A bare date means its midnight; a time without an offset is in the local time zone.
    """
    text = value.strip()
    current = now or datetime.now(UTC)
    if text.lower() == "now":
        return current
    if _RELATIVE.match(text.lower()) and text[0] in "+-":
        return current + parse_duration(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day).astimezone()
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or time (e.g. 2026-11-25 or 2026-11-25T09:30)"
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


@contextmanager
def store_session(settings: Settings | None = None) -> Iterator[Store]:
    """The store named by ``settings`` (default: ``EXEC_ASSISTANT_STORE``), closed when the
    command ends."""
    store = open_store(settings or get_settings())
    try:
        yield store
    finally:
        store.close()
