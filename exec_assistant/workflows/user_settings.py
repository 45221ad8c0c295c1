"""A user's notification settings, changed the same way from the CLI (``exec-assistant users
set``) and from the Slack App Home (the settings modal).

Both read the same text for each setting (``07:30`` or ``off``, ``mon-fri``, ``22:00-07:00`` or
``off``, ``30m``) through the parsers here, with the same messages; both save through
:func:`change_settings`: the user is written whole (``Store.put_user``) and, when a setting the
morning digest depends on changed (its time or days, the quiet hours, the time zone), the digest
is re-planned (:func:`~exec_assistant.workflows.digest.plan_digest`: on AWS the user's
EventBridge Scheduler schedule, locally the scheduler loop's next event). Bad text raises
:class:`SettingError` before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from exec_assistant.errors import NotFoundError
from exec_assistant.models import QuietHours, User
from exec_assistant.store.base import Store

#: Preferences the morning digest's schedule depends on (with the user's time zone).
DIGEST_INPUTS = frozenset({"digest_time", "digest_days", "quiet_hours"})
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The longest escalation delay (``NotificationPreferences.escalation_delay_minutes``).
MAX_ESCALATION_MINUTES = 24 * 60
_DURATION = re.compile(r"^(\d{1,6})\s*([smhd]?)$")
_HOURS_MINUTES = re.compile(r"^(\d{1,3})\s*h\s*(\d{1,2})\s*m$")
_SECONDS = {"s": 1, "m": 60, "": 60, "h": 3600, "d": 86400}


class SettingError(ValueError):
    """Text that is not a valid value for ``setting`` (the message says what would be)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


def parse_quiet_hours(text: str) -> QuietHours | None:
    """``22:00-07:00`` (may wrap midnight) → QuietHours; ``off`` → None."""
    if text.strip().lower() == "off":
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise SettingError(
            "quiet_hours", f"{text!r} is not a time range such as 22:00-07:00 (or 'off')"
        ) from None
    if start == end:
        raise SettingError("quiet_hours", "quiet hours must not start and end at the same time")
    return QuietHours(start=start, end=end)


def parse_digest_time(text: str) -> time | None:
    """``07:30`` → the digest's local time; ``off`` → no digest."""
    if text.strip().lower() == "off":
        return None
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise SettingError(
            "digest_time", f"{text!r} is not a time such as 07:30 (or 'off')"
        ) from None


def parse_digest_days(text: str) -> list[int]:
    """``mon-fri``, ``mon,wed,fri`` or ``all`` → ISO weekdays (1 = Monday)."""
    value = text.strip().lower()
    if value == "all":
        return list(range(1, 8))
    days: list[int] = []
    try:
        for part in value.split(","):
            first, _, last = part.strip().partition("-")
            start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
            days.extend(range(start + 1, end + 2))
    except ValueError:
        raise SettingError(
            "digest_days", f"{text!r} is not a list of days such as mon-fri, mon,wed,fri or all"
        ) from None
    if not days:
        raise SettingError("digest_days", "give at least one day, such as mon-fri")
    return sorted(set(days))


def escalation_minutes(delay: timedelta) -> int:
    """A delay as the whole minutes the preference holds (1 minute to 24 hours)."""
    minutes = delay.total_seconds() / 60
    if minutes != int(minutes) or minutes < 1:
        raise SettingError(
            "escalation_delay", "the escalation delay is whole minutes, at least 1m (e.g. 30m, 2h)"
        )
    if minutes > MAX_ESCALATION_MINUTES:
        raise SettingError("escalation_delay", "the escalation delay is at most 24h")
    return int(minutes)


def parse_escalate_after(text: str) -> int:
    """``30m``, ``2h``, ``1h30m``, ``45`` (minutes) → whole minutes (see
    :func:`escalation_minutes`)."""
    value = text.strip().lower()
    both = _HOURS_MINUTES.match(value)
    if both is not None:
        hours, minutes = both.groups()
        return escalation_minutes(timedelta(hours=int(hours), minutes=int(minutes)))
    match = _DURATION.match(value)
    if match is None:
        raise SettingError("escalation_delay", f"{text!r} is not a duration such as 30m or 2h")
    amount, unit = match.groups()
    return escalation_minutes(timedelta(seconds=int(amount) * _SECONDS[unit]))


def format_digest_days(days: list[int]) -> str:
    """Inverse of :func:`parse_digest_days`: ``mon-fri``, ``mon,wed,fri``, ``all``."""
    if sorted(days) == list(range(1, 8)):
        return "all"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        DAY_NAMES[run[0] - 1] + (f"-{DAY_NAMES[run[-1] - 1]}" if len(run) > 1 else "")
        for run in runs
    )


def format_quiet_hours(quiet: QuietHours | None) -> str:
    """Inverse of :func:`parse_quiet_hours`."""
    return f"{quiet.start:%H:%M}-{quiet.end:%H:%M}" if quiet else "off"


def format_escalation(minutes: int) -> str:
    """``30m``, ``2h``, ``1h30m`` (accepted back by :func:`parse_escalate_after` as minutes)."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}m"
    return f"{hours}h" + (f"{rest}m" if rest else "")


class SettingsUpdate(BaseModel):
    """What :func:`change_settings` did: the user as stored, whether the digest was re-planned
    and what is planned (:func:`~exec_assistant.workflows.digest.plan_digest`'s answer)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    user: User
    replanned: bool
    planned: str | None = None


def change_settings(
    store: Store,
    user_id: str,
    *,
    fields: Mapping[str, Any],
    preferences: Mapping[str, Any],
    plan_digest: Callable[[User], str | None],
) -> SettingsUpdate:
    """Merge ``fields`` (user fields) and ``preferences`` into user ``user_id``, write the user,
    and re-plan the digest with ``plan_digest`` when a setting it depends on changed.

    Raises :class:`~exec_assistant.errors.NotFoundError` for an unknown user and pydantic's
    ``ValidationError`` for a merged user that does not validate (nothing written either way)."""
    user = store.get_user(user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id} in the store (see 'exec-assistant users list')")
    merged = user.model_dump()
    merged.update(fields)
    merged["preferences"] = {**merged["preferences"], **preferences}
    stored = store.put_user(User.model_validate(merged))
    if not (DIGEST_INPUTS & preferences.keys() or "timezone" in fields):
        return SettingsUpdate(user=stored, replanned=False)
    return SettingsUpdate(user=stored, replanned=True, planned=plan_digest(stored))
