"""Parsing what people type (dates, durations), opening the configured store for a command, and
finding the user or meeting a command names (one message for each, whichever command asks)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from exec_assistant.components import Runtime
from exec_assistant.config import SettingsModel, get_settings
from exec_assistant.errors import NotFoundError
from exec_assistant.models import Meeting, User
from exec_assistant.store import Store, default_sqlite_path, open_store

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


def store_location(settings: SettingsModel) -> str:
    """Which store the commands use, resolved: the SQLite file's absolute path, or the tables."""
    from exec_assistant.runtime import uses_aws

    if uses_aws(settings):
        return f"DynamoDB tables {settings.table_name('users').replace('-users-', '-*-')}"
    url = settings.exec_assistant_store
    path = Path(url.removeprefix("sqlite:///")).expanduser() if url else default_sqlite_path()
    return f"SQLite file {path.resolve()}"


@contextmanager
def store_session(settings: SettingsModel | None = None) -> Iterator[Store]:
    """The store named by ``settings`` (default: ``EXEC_ASSISTANT_STORE``), closed when the
    command ends."""
    store = open_store(settings or get_settings())
    try:
        yield store
    finally:
        store.close()


@contextmanager
def runtime_session() -> Iterator[Runtime]:
    """The runtime built from the environment (store, scheduler, channels), closed when the
    command ends. Built lazily: commands that only read the store use :func:`store_session`."""
    from exec_assistant.runtime import build_runtime

    runtime = build_runtime()
    try:
        yield runtime
    finally:
        runtime.close()


def require_user(store: Store, user_id: str) -> User:
    """The user ``user_id``; a missing one is bad input (exit 2), worded the same everywhere."""
    user = store.get_user(user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id} in the store (see 'exec-assistant users list')")
    return user


def require_meeting(store: Store, meeting_id: str) -> Meeting:
    """The meeting ``meeting_id``; a missing one is bad input (exit 2)."""
    meeting = store.get_meeting(meeting_id)
    if meeting is None:
        raise NotFoundError(
            f"no meeting {meeting_id} in the store (see 'exec-assistant meetings list')"
        )
    return meeting


YesFlag = Annotated[
    bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not on a terminal).")
]


def interactive() -> bool:
    """Whether someone at a terminal can answer a question."""
    return sys.stdin.isatty()


def confirm_or_refuse(question: str, *, yes: bool) -> None:
    """Go on if ``yes`` or the person at the terminal says so; otherwise stop, changing nothing.

    Without a terminal (a script, CI) and without ``--yes`` this is bad input (exit 2): a
    destructive command never goes ahead on an answer nobody gave."""
    if yes:
        return
    if not interactive():
        raise typer.BadParameter(f"{question} Pass --yes to confirm (stdin is not a terminal).")
    if not typer.confirm(question, default=False):
        raise typer.Abort()
