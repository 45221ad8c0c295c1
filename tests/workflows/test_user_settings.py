"""The settings text the CLI and the App Home's modal share: every value the parsers accept is
shown back by the formatters in a form they accept again, and everything else is refused with the
setting's name (never a crash, never a half-parsed value)."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exec_assistant.workflows.user_settings import (
    DAY_NAMES,
    SettingError,
    format_digest_days,
    format_escalation,
    format_quiet_hours,
    parse_digest_days,
    parse_digest_time,
    parse_escalate_after,
    parse_quiet_hours,
)

PARSERS = {
    "digest_time": parse_digest_time,
    "digest_days": parse_digest_days,
    "quiet_hours": parse_quiet_hours,
    "escalation_delay": parse_escalate_after,
}


@given(st.sets(st.integers(1, 7), min_size=1))
def test_digest_days_round_trip(days: set[int]) -> None:
    shown = format_digest_days(sorted(days))
    assert parse_digest_days(shown) == sorted(days)


@given(st.integers(1, 24 * 60))
def test_escalation_round_trip(minutes: int) -> None:
    assert parse_escalate_after(format_escalation(minutes)) == minutes


@given(st.times(), st.times())
def test_quiet_hours_round_trip(start: time, end: time) -> None:
    text = f"{start:%H:%M}-{end:%H:%M}"
    if start.replace(second=0, microsecond=0) == end.replace(second=0, microsecond=0):
        with pytest.raises(SettingError):
            parse_quiet_hours(text)
        return
    parsed = parse_quiet_hours(text)
    assert parsed is not None and format_quiet_hours(parsed) == text


@pytest.mark.parametrize(
    ("text", "days"),
    [("mon-fri", [1, 2, 3, 4, 5]), ("mon,wed-thu", [1, 3, 4]), ("all", list(range(1, 8)))],
)
def test_digest_days_examples(text: str, days: list[int]) -> None:
    assert parse_digest_days(text) == days
    assert format_digest_days(days) == text


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("45", 45), ("2h", 120), ("1h30m", 90), ("1h 5m", 65), ("1d", 1440)],
)
def test_escalation_examples(text: str, minutes: int) -> None:
    assert parse_escalate_after(text) == minutes


@given(st.sampled_from(sorted(PARSERS)), st.text(max_size=24))
def test_any_text_parses_or_is_refused_with_the_setting_named(setting: str, text: str) -> None:
    try:
        PARSERS[setting](text)
    except SettingError as exc:
        assert exc.setting == setting
        assert str(exc)


def test_day_names_are_isoweekday_order() -> None:
    assert DAY_NAMES[0] == "mon" and DAY_NAMES[6] == "sun"
