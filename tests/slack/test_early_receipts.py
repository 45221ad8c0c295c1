"""Receipts that beat their delivery's own ledger write, end to end: the real runtime (SQLite,
local bus, the prep trigger), the real twilio client on the loopback fake and SES on moto.

The fault is injected where it happens: Twilio's status callback is posted (signed, to the URL
the message carried) while Twilio is still answering the send; it is kept on the ledger record
and applied once the trigger has recorded the delivery. Forged callbacks naming a cycle change
nothing. (An SES bounce before the write: tests/slack/test_email_receipts.py.)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from exec_assistant.interfaces.twilio_webhooks import STATUS_PATH, WebhookReply, handle_status
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    LedgerState,
    Meeting,
    ReceiptStatus,
    User,
)
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.receipts import follow_up_key
from tests.fakes.fixtures import fake_ses, fake_twilio, moto_server
from tests.fakes.ses import FakeSES
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.slack.test_acknowledgements import AUTH_TOKEN, PUBLIC, notify, twilio_signature
from tests.slack.test_receipts import prep_record, settings, sms_first, status

__all__ = ["fake_ses", "fake_twilio", "moto_server", "settings", "sms_first"]


def test_a_twilio_failure_callback_before_the_delivery_write_moves_the_cycle_on(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
) -> None:
    replies: list[WebhookReply] = []

    def callback_now(request: Any) -> None:  # Twilio created the message, has not answered yet
        sid, url = fake_twilio.created[-1]["sid"], request.params["StatusCallback"]
        for _ in range(2):  # and repeats itself
            replies.append(status(runtime, sid, "undelivered", error_code="30003", url=url))
        record = prep_record(runtime, meeting)
        assert record.attempts[0].status == AttemptStatus.STARTED  # the write is yet to come

    fake_twilio.on("messages.create", "acted", callback_now)
    notify(runtime, meeting)
    assert [r.status for r in replies] == [200, 200]
    record = prep_record(runtime, meeting)
    sid = str(record.attempts[0].provider_id)
    receipt = record.attempts[0].receipt
    assert receipt is not None and (receipt.status, receipt.error_code) == (
        ReceiptStatus.FAILED,
        "30003",
    )
    follow_up = runtime.store.get_notification(follow_up_key(record.key, sid))
    assert follow_up is not None and follow_up.delivered_channel == Channel.EMAIL
    assert len(fake_ses.delivered) == 1 and len(fake_twilio.created) == 1
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.notification_cycle == f"prep#receipt:{sid}"
    # the event redelivered: nothing more is sent
    notify(runtime, meeting)
    assert len(fake_ses.delivered) == 1 and len(fake_twilio.created) == 1


def test_serve_checks_the_signature_of_the_url_the_sms_carried(
    runtime: Runtime,
    sms_first: User,
    meeting: Meeting,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
) -> None:
    """Over ``serve``'s loopback HTTP: Twilio signs the callback URL with its query; the server
    rebuilds it from PUBLIC_BASE_URL, the path and the raw query string."""
    import urllib.error
    import urllib.request

    from exec_assistant.interfaces.local_server import start_slack_server

    notify(runtime, meeting)
    record = prep_record(runtime, meeting)
    sid = str(record.attempts[0].provider_id)
    (message,) = fake_twilio.messages
    url = str(message.params["StatusCallback"])
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    server = start_slack_server(runtime, host="127.0.0.1", port=0)

    def post(signed_url: str) -> int:
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": twilio_signature(AUTH_TOKEN, signed_url, params),
        }
        local = server.origin + url.removeprefix(PUBLIC)
        request = urllib.request.Request(local, data=urlencode(params).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert post(PUBLIC + STATUS_PATH) == 403  # signed without the query: not this URL
        assert prep_record(runtime, meeting) == record
        assert post(url) == 200
        follow_up = runtime.store.get_notification(follow_up_key(record.key, sid))
        assert follow_up is not None and follow_up.delivered_channel == Channel.EMAIL
    finally:
        server.stop()


# --- forged callbacks ----------------------------------------------------------------------------

_KEY = "mtg-board-review#prep"
_ATTEMPTS = st.one_of(st.just("0"), st.integers(-2, 2000).map(str), st.text(max_size=6))
_KEYS = st.one_of(st.just(_KEY), st.text(max_size=60))


def _in_flight(runtime: Runtime, meeting: Meeting) -> None:
    """The meeting's cycle with its SMS request out: what a receipt would be parked on."""
    if runtime.store.get_notification(_KEY) is None:
        now = runtime.clock()
        runtime.store.claim_notification(
            _KEY, meeting.meeting_id, owner="w", now=now, lease_seconds=60
        )
        attempt = DeliveryAttempt(seq=0, channel=Channel.SMS, owner="w", started_at=now)
        runtime.store.record_attempt(_KEY, owner="w", attempt=attempt)


def _callback(key: str, attempt: str) -> tuple[str, dict[str, str]]:
    url = f"{PUBLIC}{STATUS_PATH}?{urlencode({'key': key, 'attempt': attempt})}"
    params = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    return url, params


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=_KEYS,
    attempt=_ATTEMPTS,
    signature=st.one_of(st.none(), st.just("other-token"), st.just("other-url"), st.text()),
)
def test_forged_callbacks_carrying_a_cycles_key_change_nothing(
    runtime: Runtime, sms_first: User, meeting: Meeting, key: str, attempt: str, signature: Any
) -> None:
    _in_flight(runtime, meeting)
    before = runtime.store.get_notification(_KEY)
    url, params = _callback(key, attempt)
    headers: dict[str, str] = {}
    if signature == "other-token":  # signed, but not with this deployment's token
        headers["x-twilio-signature"] = twilio_signature("not-" + AUTH_TOKEN, url, params)
    elif signature == "other-url":  # a real signature for another address (key moved in)
        headers["x-twilio-signature"] = twilio_signature(AUTH_TOKEN, PUBLIC + STATUS_PATH, params)
    elif signature is not None:
        headers["x-twilio-signature"] = signature
    reply = handle_status(runtime, url=url, headers=headers, body=urlencode(params).encode())
    assert reply.status == 403
    assert runtime.store.get_notification(_KEY) == before


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_KEYS, attempt=_ATTEMPTS)
def test_fuzzed_signed_targets_never_5xx_and_touch_only_the_cycle_they_name(
    runtime: Runtime, sms_first: User, meeting: Meeting, key: str, attempt: str
) -> None:
    _in_flight(runtime, meeting)
    before = runtime.store.get_notification(_KEY)
    assert before is not None
    url, params = _callback(key, attempt)
    headers = {"x-twilio-signature": twilio_signature(AUTH_TOKEN, url, params)}
    reply = handle_status(runtime, url=url, headers=headers, body=urlencode(params).encode())
    assert reply.status == 200
    after = runtime.store.get_notification(_KEY)
    assert after is not None and after.state == LedgerState.IN_PROGRESS
    if (key, attempt) != (_KEY, "0"):
        assert after == before
    else:  # parked (or dropped once full), never applied: the delivery is not recorded
        assert after.attempts == before.attempts
