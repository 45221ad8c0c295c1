"""The Store contract for bounded meeting listings (``limit``, ``exclude``), on every backend.

A limited listing must be exactly the first ``limit`` meetings of the unlimited one (same order,
ties on the start time broken by id), and must read and validate only about that many meetings,
so ``/meetings`` and the App Home cost the same with 10 or 1,000 meetings in the window.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from exec_assistant.models import Meeting, MeetingStatus
from exec_assistant.store.base import Store
from tests.store.conftest import NOW, make_meeting

S = MeetingStatus
#: (meeting id, hours from NOW, status): ties at 5 h and at 8 h, mixed statuses.
SEED = [
    ("m-09", 8, S.DISCOVERED),
    ("m-01", 1, S.DISCOVERED),
    ("m-05", 5, S.CANCELLED),
    ("m-04", 5, S.DISCOVERED),
    ("m-06", 5, S.PREP_REQUIRED),
    ("m-03", 3, S.CANCELLED),
    ("m-08", 8, S.CANCELLED),
    ("m-10", 8, S.DISCOVERED),
    ("m-02", 2, S.PREP_REQUIRED),
    ("m-07", 6, S.DISCOVERED),
    ("m-11", 11, S.DISCOVERED),
    ("m-12", 24, S.DISCOVERED),  # == start_until below: outside the window
]
WINDOW = (NOW, NOW + timedelta(hours=24))


def _seed(store: Store) -> None:
    for meeting_id, hours, status in SEED:
        store.upsert_meeting_calendar(make_meeting(meeting_id, hours=hours))
        if status != S.DISCOVERED:
            store.transition_meeting(meeting_id, status, now=NOW)


def _ids(meetings: list[Meeting]) -> list[str]:
    return [m.meeting_id for m in meetings]


def test_limited_listing_is_the_prefix_of_the_full_one(store: Store) -> None:
    _seed(store)
    full = _ids(store.list_meetings_for_user("usr-1", *WINDOW))
    assert full == [f"m-{i:02d}" for i in range(1, 12)]
    for excluded in ((), (S.CANCELLED,), (S.CANCELLED, S.PREP_REQUIRED)):
        wanted = [
            m.meeting_id
            for m in store.list_meetings_for_user("usr-1", *WINDOW)
            if m.status not in excluded
        ]
        for limit in range(len(full) + 2):
            got = store.list_meetings_for_user("usr-1", *WINDOW, limit=limit, exclude=excluded)
            assert _ids(got) == wanted[:limit], (excluded, limit)


def test_limited_listing_by_status_is_the_prefix_of_the_full_one(store: Store) -> None:
    _seed(store)
    full = _ids(store.list_meetings_by_status(S.DISCOVERED, *WINDOW))
    assert full == ["m-01", "m-04", "m-07", "m-09", "m-10", "m-11"]
    for limit in range(len(full) + 2):
        got = store.list_meetings_by_status(S.DISCOVERED, *WINDOW, limit=limit)
        assert _ids(got) == full[:limit], limit


def test_limited_listing_validates_only_what_it_returns(
    store: Store, validations: list[str]
) -> None:
    for i in range(60):
        store.upsert_meeting_calendar(make_meeting(f"m-{i:03d}", hours=1 + i))
    validations.clear()
    shown = store.list_meetings_for_user("usr-1", *WINDOW, limit=5, exclude=(S.CANCELLED,))
    assert _ids(shown) == [f"m-{i:03d}" for i in range(5)]
    assert validations == _ids(shown)
    validations.clear()
    assert len(store.list_meetings_by_status(S.DISCOVERED, *WINDOW, limit=3)) == 3
    assert len(validations) == 3


def test_a_negative_limit_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_meetings_for_user("usr-1", *WINDOW, limit=-1)
