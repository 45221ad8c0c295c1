"""EventBridgeBus: real boto3 against moto (a rule with an SQS target captures what was put),
and a scripted client for partial failures (moto never fails single entries)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exec_assistant.errors import TransientError
from exec_assistant.events.base import BusEvent
from exec_assistant.events.eventbridge import EventBridgeBus
from exec_assistant.models import PREP_EVENT_DETAIL_TYPE, PREP_EVENT_SOURCE, parse_prep_event

BUS = "exec-assistant-bus-test"


def _event(n: int) -> BusEvent:
    return BusEvent(
        source=PREP_EVENT_SOURCE,
        detail_type=PREP_EVENT_DETAIL_TYPE,
        detail={"meeting_id": f"mtg-{n}", "user_id": "usr-1"},
    )


def _capture_queue(events_client: Any, sqs_client: Any) -> str:
    events_client.create_event_bus(Name=BUS)
    queue_url = sqs_client.create_queue(QueueName="capture")["QueueUrl"]
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events_client.put_rule(
        Name="prep",
        EventBusName=BUS,
        EventPattern=json.dumps(
            {"source": [PREP_EVENT_SOURCE], "detail-type": [PREP_EVENT_DETAIL_TYPE]}
        ),
    )
    events_client.put_targets(
        Rule="prep", EventBusName=BUS, Targets=[{"Id": "capture", "Arn": queue_arn}]
    )
    return str(queue_url)


def _drain(sqs_client: Any, queue_url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_published_events_reach_a_rule_target_in_the_lambda_envelope_shape(
    events_client: Any, sqs_client: Any
) -> None:
    queue_url = _capture_queue(events_client, sqs_client)
    bus = EventBridgeBus(BUS, events_client)

    ids = bus.publish([_event(n) for n in range(23)])  # three put_events batches

    assert len(ids) == 23
    assert len(set(ids)) == 23
    delivered = _drain(sqs_client, queue_url)
    assert sorted(d["detail"]["meeting_id"] for d in delivered) == sorted(
        f"mtg-{n}" for n in range(23)
    )
    assert {d["id"] for d in delivered} == set(ids)
    sample = delivered[0]
    # moto leaves out "account"; the rest is the envelope AWS hands a target.
    assert {"version", "id", "detail-type", "source", "time", "region", "resources"} <= set(sample)
    _, detail = parse_prep_event(sample)  # what the trigger will parse
    assert detail.user_id == "usr-1"


def test_nothing_matches_when_the_source_differs(events_client: Any, sqs_client: Any) -> None:
    queue_url = _capture_queue(events_client, sqs_client)
    EventBridgeBus(BUS, events_client).publish(
        [BusEvent(source="someone.else", detail_type=PREP_EVENT_DETAIL_TYPE, detail={})]
    )
    assert _drain(sqs_client, queue_url) == []


class ScriptedClient:
    """put_events whose per-entry results follow a script: entry -> attempts to fail first."""

    def __init__(self, failures: dict[str, int]) -> None:
        self.failures = dict(failures)
        self.calls: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [json.loads(e["Detail"])["meeting_id"] for e in Entries]
        self.calls.append(ids)
        results: list[dict[str, Any]] = []
        for meeting_id in ids:
            if self.failures.get(meeting_id, 0) > 0:
                self.failures[meeting_id] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                results.append({"EventId": f"id-{meeting_id}"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}


def test_only_the_failed_entries_are_retried() -> None:
    client = ScriptedClient({"mtg-3": 1, "mtg-7": 2})
    sleeps: list[float] = []
    bus = EventBridgeBus(BUS, client, max_attempts=3, sleep=sleeps.append)

    ids = bus.publish([_event(n) for n in range(12)])

    assert ids == [f"id-mtg-{n}" for n in range(12)]
    assert client.calls[0] == [f"mtg-{n}" for n in range(10)]
    assert client.calls[1] == ["mtg-3", "mtg-7"]
    assert client.calls[2] == ["mtg-7"]
    assert client.calls[3] == ["mtg-10", "mtg-11"]
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]


def test_entries_still_failing_after_the_last_attempt_raise_transient() -> None:
    client = ScriptedClient({"mtg-1": 5})
    bus = EventBridgeBus(BUS, client, max_attempts=3, sleep=lambda _: None)

    with pytest.raises(TransientError, match="1 of 2 events") as info:
        bus.publish([_event(0), _event(1)])

    assert info.value.code == "ThrottlingException"
    assert client.calls == [["mtg-0", "mtg-1"], ["mtg-1"], ["mtg-1"]]


def test_a_failing_call_is_transient() -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://events.example")

    with pytest.raises(TransientError):
        EventBridgeBus(BUS, Down()).publish([_event(0)])
