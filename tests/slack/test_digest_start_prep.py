"""Start Prep pressed in the morning digest: prep starts as from the prep notification (through
the acknowledgement), and only that meeting's line of the digest changes.

The digest is sent by the real digest workflow to the Slack fake; the click is the payload Slack
sends for it (its ``message`` carries the digest's text and blocks), signed and delivered through
``lambda_handler``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from exec_assistant.models import (
    AckAction,
    Channel,
    Meeting,
    MeetingStatus,
    User,
    chat_session_id_for,
)
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.acknowledge import latest_cycle_key
from exec_assistant.workflows.digest import send_digest
from exec_assistant.workflows.digest_blocks import PREP_STARTED, digest_block_id
from tests.fakes.slack_api import FakeSlackAPI, dm_channel_for
from tests.slack.conftest import T0, make_meeting, notify_prep
from tests.slack.harness import (
    OTHER_SLACK_ID,
    OWNER_SLACK_ID,
    LambdaTransport,
    Payloads,
    blocks_of,
)

DM = dm_channel_for(OWNER_SLACK_ID)


def _digest(runtime: Runtime, owner: User, fake_slack: FakeSlackAPI) -> dict[str, Any]:
    """Send today's digest; the message as Slack holds it (ts, text, blocks)."""
    assert send_digest(runtime, owner.user_id).action == "sent"
    message = fake_slack.messages_in(DM)[-1]
    assert str(message["text"]).startswith("Today")
    return message


def _click(payloads: Payloads, digest: dict[str, Any], meeting: Meeting, **kw: Any) -> Any:
    return payloads.block_action(
        "start_prep",
        value=meeting.meeting_id,
        block_id=digest_block_id(meeting.meeting_id),
        message_ts=str(digest["ts"]),
        message={"text": digest["text"], "blocks": blocks_of(digest)},
        **kw,
    )


def _line(blocks: list[dict[str, Any]], meeting: Meeting) -> dict[str, Any]:
    (line,) = [b for b in blocks if b.get("block_id") == digest_block_id(meeting.meeting_id)]
    return line


def test_start_prep_in_digest_rewrites_only_that_line_and_starts_prep(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    later = make_meeting(runtime, owner, "mtg-investors", T0 + timedelta(hours=7), "Investors")
    digest = _digest(runtime, owner, fake_slack)
    sent = blocks_of(digest)
    fake_slack.reset()

    reply = via_lambda.send(_click(payloads, digest, meeting))

    assert reply.status == 200
    (update,) = fake_slack.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (DM, digest["ts"])
    assert update.params["text"] == digest["text"]
    rebuilt = blocks_of(update.params)
    assert len(rebuilt) == len(sent)
    started = _line(rebuilt, meeting)
    assert PREP_STARTED in started["text"]["text"]
    assert "15:00" in started["text"]["text"]  # still the meeting's time, in Paris
    assert "accessory" not in started  # no button once prep started
    # every other block exactly as sent: the header and the investors' line with its button
    assert [b for b in rebuilt if b is not started] == [
        b for b in sent if b != _line(sent, meeting)
    ]
    assert _line(rebuilt, later)["accessory"]["value"] == later.meeting_id
    # prep started as from the notification: the session, the status, the first question
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    assert runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id)) is not None
    (opening,) = fake_slack.calls_to("chat.postMessage")
    assert opening.params["channel"] == DM
    assert fake_slack.calls_to("views.publish") == []

    # a double click (or Slack's retry): nothing posted twice, the line stays as it is
    via_lambda.send(_click(payloads, digest, meeting))
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert blocks_of(fake_slack.calls_to("chat.update")[-1].params) == rebuilt


def test_digest_click_acknowledges_the_delivered_cycle_and_edits_its_dm(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    notified = notify_prep(runtime, meeting)
    assert notified.status == MeetingStatus.PREP_SCHEDULED
    notification = fake_slack.messages_in(DM)[-1]
    digest = _digest(runtime, owner, fake_slack)
    fake_slack.reset()

    via_lambda.send(_click(payloads, digest, notified))

    key = latest_cycle_key(notified)
    assert key is not None
    record = runtime.store.get_notification(key)
    assert record is not None and record.acknowledgement is not None
    assert (record.acknowledgement.channel, record.acknowledgement.action) == (
        Channel.SLACK,
        AckAction.START_PREP,
    )
    updated = {c.params["ts"]: c.params for c in fake_slack.calls_to("chat.update")}
    # the notification's DM says where prep started, its buttons gone; the digest line too
    assert set(updated) == {notification["ts"], digest["ts"]}
    assert "Prep started from Slack" in updated[notification["ts"]]["text"]
    assert "start_prep" not in json.dumps(updated[notification["ts"]]["blocks"])
    assert PREP_STARTED in json.dumps(_line(blocks_of(updated[digest["ts"]]), notified))


def test_digest_click_by_someone_else_is_refused_and_changes_nothing(
    runtime: Runtime,
    owner: User,
    other: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    digest = _digest(runtime, owner, fake_slack)
    fake_slack.reset()
    via_lambda.send(_click(payloads, digest, meeting, user=OTHER_SLACK_ID))
    assert fake_slack.calls_to("chat.update") == []
    assert fake_slack.calls_to("chat.postEphemeral")[0].params["user"] == OTHER_SLACK_ID
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.DISCOVERED


def test_digest_click_without_the_message_blocks_starts_prep_and_leaves_the_digest(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    """A payload that does not carry the digest's blocks: nothing to rebuild from, so the digest
    is left as it is (never replaced by something else); prep still starts."""
    digest = _digest(runtime, owner, fake_slack)
    fake_slack.reset()
    click = payloads.block_action(
        "start_prep",
        value=meeting.meeting_id,
        block_id=digest_block_id(meeting.meeting_id),
        message_ts=str(digest["ts"]),
    )
    via_lambda.send(click)
    assert fake_slack.calls_to("chat.update") == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
