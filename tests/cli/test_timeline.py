"""``exec-assistant timeline``: a meeting's cycles from the ledger, as a table and as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from exec_assistant.models import (
    AckAction,
    Acknowledgement,
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    DeliveryReceipt,
    ErrorClass,
    LedgerState,
    ReceiptStatus,
)
from exec_assistant.workflows.reminders import escalation_reminder_id
from tests.cli.conftest import Cli, add_meeting, add_user, assert_one_line_error


def _deliver(cli: Cli, key: str, attempts: list[DeliveryAttempt], now: datetime) -> None:
    store = cli.store()
    store.claim_notification(key, "mtg-1", owner="w", now=now, lease_seconds=60)
    for attempt in attempts:
        store.record_attempt(key, owner="w", attempt=attempt.model_copy(update={"owner": "w"}))
        store.complete_attempt(key, owner="w", attempt=attempt.model_copy(update={"owner": "w"}))
    store.finish_notification(
        key, owner="w", state=LedgerState.DELIVERED, delivered_channel=attempts[-1].channel, now=now
    )


def test_timeline_shows_cycles_attempts_and_the_acknowledgement(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    now = datetime.now(UTC)
    failed = DeliveryAttempt(
        seq=0,
        channel=Channel.SLACK,
        status=AttemptStatus.FAILED,
        error_class=ErrorClass.PERMANENT,
        error_code="channel_not_found",
        started_at=now,
        completed_at=now,
    )
    sms = DeliveryAttempt(
        seq=1,
        channel=Channel.SMS,
        status=AttemptStatus.DELIVERED,
        provider_id="SM0123",
        started_at=now,
        completed_at=now,
    )
    _deliver(cli, "mtg-1#prep", [failed, sms], now)
    escalation = f"mtg-1#reminder:{escalation_reminder_id('mtg-1', 'mtg-1#prep')}"
    email = DeliveryAttempt(
        seq=0,
        channel=Channel.EMAIL,
        status=AttemptStatus.DELIVERED,
        provider_id="ses-1",
        started_at=now + timedelta(minutes=30),
        completed_at=now + timedelta(minutes=30),
    )
    _deliver(cli, escalation, [email], now + timedelta(minutes=30))
    ack = Acknowledgement(
        channel=Channel.SMS,
        action=AckAction.REMIND_LATER,
        at=now + timedelta(minutes=31),
        remind_at=now + timedelta(minutes=61),
        detail="LATER 30",
    )
    cli.store().acknowledge_notification(escalation, ack)

    result = cli("timeline", "mtg-1", "--json")
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.stdout)
    assert [(c["kind"], c["state"]) for c in timeline["cycles"]] == [
        ("prep", "delivered"),
        ("escalation", "delivered"),
    ]
    prep, esc = timeline["cycles"]
    assert [
        (a["channel"], a["status"], a["error_code"], a["provider_id"]) for a in prep["attempts"]
    ] == [
        ("slack", "failed", "channel_not_found", None),
        ("sms", "delivered", None, "SM0123"),
    ]
    assert prep["acknowledgement"] is None
    assert esc["acknowledgement"]["channel"] == "sms"
    assert esc["acknowledgement"]["action"] == "remind_later"

    table = cli("timeline", "mtg-1")
    assert table.exit_code == 0, table.output
    for text in (
        "claimed",
        "attempt 0",
        "channel_not_found",
        "SM0123",
        "acknowledged",
        "remind_later",
    ):
        assert text in table.stdout


def test_timeline_of_a_quiet_meeting_and_of_a_missing_one(cli: Cli) -> None:
    add_user(cli)
    add_meeting(cli)
    result = cli("timeline", "mtg-1")
    assert result.exit_code == 0
    assert "no notification sent yet" in result.stdout
    missing = cli("timeline", "mtg-nope")
    assert_one_line_error(missing, contains="mtg-nope")
    assert missing.exit_code == 2


def test_timeline_shows_receipts_and_pending_follow_ups(cli: Cli) -> None:
    from exec_assistant.events.base import BusEvent, ScheduledEvent
    from exec_assistant.events.local import LocalEventBus
    from exec_assistant.events.local_scheduler import LocalScheduler

    add_user(cli)
    add_meeting(cli)
    now = datetime.now(UTC)
    sid = "SM" + "1" * 32
    sms = DeliveryAttempt(
        seq=0,
        channel=Channel.SMS,
        status=AttemptStatus.DELIVERED,
        provider_id=sid,
        started_at=now,
        completed_at=now,
    )
    _deliver(cli, "mtg-1#prep", [sms], now)
    failed = DeliveryReceipt(
        status=ReceiptStatus.FAILED,
        provider_status="undelivered",
        error_class=ErrorClass.TRANSIENT,
        error_code="30003",
        at=now + timedelta(minutes=1),
        received_at=now + timedelta(minutes=1),
    )
    assert cli.store().record_receipt("mtg-1#prep", seq=0, provider_id=sid, receipt=failed).recorded
    check = escalation_reminder_id("mtg-1", "mtg-1#prep")
    scheduler = LocalScheduler(cli.db, LocalEventBus())
    event = BusEvent(
        source="exec-assistant.reminders", detail_type="MeetingPrepRequired", detail={}
    )
    scheduler.schedule(ScheduledEvent(name=check, fire_at=now + timedelta(minutes=30), event=event))
    scheduler.close()

    result = cli("timeline", "mtg-1", "--json")
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.stdout)
    (attempt,) = timeline["cycles"][0]["attempts"]
    receipt = attempt["receipt"]
    assert (receipt["status"], receipt["provider_status"]) == ("failed", "undelivered")
    assert (receipt["error_class"], receipt["error_code"]) == ("transient", "30003")
    assert [(p["name"], p["kind"]) for p in timeline["pending"]] == [(check, "escalation")]

    table = cli("timeline", "mtg-1")
    assert table.exit_code == 0, table.output
    for text in ("receipt 0", "sms failed (undelivered) transient/30003", "pending", check):
        assert text in table.stdout
