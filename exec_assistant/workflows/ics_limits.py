"""How often a calendar series may recur before an import refuses it.

A feed is outside input: a mistaken or hostile recurrence rule (``FREQ=MINUTELY``, or an
hourly rule with a list of minutes) would otherwise become one stored meeting, and one prep
notification, per occurrence — 18,720 for a minutely series over a 14-day window — and a
``FREQ=SECONDLY`` rule would exhaust the import's memory and time before anything was written.
No meeting that needs preparing recurs like that, so such a series is skipped and reported
(``SkippedEvent``), like a malformed one, and its stored meetings are left as they are:

* :func:`rule_problem` — before expansion (so the cost is never paid): a rule that can recur
  more than once an hour (``FREQ=SECONDLY`` or ``MINUTELY``, several ``BYSECOND`` or
  ``BYMINUTE`` values);
* :func:`occurrence_limit` — after it: more than :data:`MAX_PER_DAY` occurrences a day on
  average over the imported range (an hourly series, thousands of ``RDATE`` values).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

#: Occurrences a day, on average over the imported range, one series may have.
MAX_PER_DAY = 4
#: Rule parts that, with more than one value, make a rule recur more than once an hour.
_SUB_HOURLY_PARTS = ("BYSECOND", "BYMINUTE")
_SUB_HOURLY_FREQ = ("SECONDLY", "MINUTELY")


def _rules(event: Any) -> list[Any]:
    rule = event.get("RRULE")
    if rule is None:
        return []
    return list(rule) if isinstance(rule, list) else [rule]


def _values(rule: Any, part: str) -> list[Any]:
    value = rule.get(part) or []
    return list(value) if isinstance(value, list | tuple) else [value]


def rule_problem(events: list[Any]) -> str | None:
    """Why a series' recurrence rules make it no meeting series (None: they do not)."""
    for event in events:
        for rule in _rules(event):
            freq = [str(f).upper() for f in _values(rule, "FREQ")]
            if any(f in _SUB_HOURLY_FREQ for f in freq):
                return f"recurs more than once an hour (RRULE FREQ={freq[0]})"
            for part in _SUB_HOURLY_PARTS:
                if len(_values(rule, part)) > 1:
                    return f"recurs more than once an hour (RRULE {part} has several values)"
    return None


def occurrence_limit(start: datetime, end: datetime) -> int:
    """How many occurrences one series may have in ``[start, end)``."""
    days = max(1, math.ceil((end - start) / timedelta(days=1)))
    return MAX_PER_DAY * days


def too_many(count: int, start: datetime, end: datetime) -> str | None:
    """Why ``count`` occurrences in ``[start, end)`` are too many for one series (None: not)."""
    limit = occurrence_limit(start, end)
    if count <= limit:
        return None
    return (
        f"too many occurrences: {count} between {start:%Y-%m-%d} and {end:%Y-%m-%d} "
        f"(at most {limit}: {MAX_PER_DAY} a day)"
    )
