"""LocalEventBus: EventBridge-shaped envelopes, routing by (source, detail-type), errors surface."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.errors import TransientError
from exec_assistant.events.base import BusEvent
from exec_assistant.events.local import LocalEventBus
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCE, parse_prep_event

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eventbridge-meeting-prep-required.json"


def test_envelope_has_the_aws_shape() -> None:
    seen: list[Mapping[str, Any]] = []
    bus = LocalEventBus(clock=lambda: datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    bus.subscribe(PREP_EVENT_SOURCE, PREP_EVENT_DETAIL_TYPE, seen.append)
    aws = json.loads(FIXTURE.read_text())

    ids = bus.publish(
        [BusEvent(source=aws["source"], detail_type=aws["detail-type"], detail=aws["detail"])]
    )

    assert len(seen) == 1
    envelope = seen[0]
    assert set(envelope) == set(aws)
    assert envelope["id"] == ids[0]
    assert envelope["time"] == aws["time"]
    assert envelope["detail"] == aws["detail"]
    assert parse_prep_event(envelope)[1].meeting_id == aws["detail"]["meeting_id"]


def test_routing_is_by_source_and_detail_type() -> None:
    prep: list[Mapping[str, Any]] = []
    other: list[Mapping[str, Any]] = []
    bus = LocalEventBus()
    bus.subscribe(PREP_EVENT_SOURCE, PREP_EVENT_DETAIL_TYPE, prep.append)
    bus.subscribe("x", PREP_EVENT_DETAIL_TYPE, other.append)

    bus.publish([BusEvent(source=PREP_EVENT_SOURCE, detail_type="Other", detail={})])
    bus.publish([BusEvent(source=PREP_EVENT_SOURCE, detail_type=PREP_EVENT_DETAIL_TYPE, detail={})])

    assert len(prep) == 1
    assert other == []


def test_a_subscriber_failure_reaches_the_publisher() -> None:
    def fail(_: Mapping[str, Any]) -> None:
        raise TransientError("down")

    bus = LocalEventBus()
    bus.subscribe(PREP_EVENT_SOURCE, PREP_EVENT_DETAIL_TYPE, fail)
    with pytest.raises(TransientError):
        bus.publish(
            [BusEvent(source=PREP_EVENT_SOURCE, detail_type=PREP_EVENT_DETAIL_TYPE, detail={})]
        )
