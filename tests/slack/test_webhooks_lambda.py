"""The webhooks Lambda (``exec_assistant.interfaces.webhooks.lambda_handler``): API Gateway HTTP
API v2 events → the same answer routes ``serve`` mounts.

SMS replies are signed here as Twilio signs them (for the public URL, ``PUBLIC_BASE_URL`` + path,
not the address the function sees) and checked by twilio's own ``RequestValidator``; bodies come
base64-encoded as API Gateway passes form posts; email links are made by the email channel's own
:class:`ActionLinks`. The real runtime, the Slack channel on the loopback Slack fake.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr

from exec_assistant import snapshots
from exec_assistant.config import Settings
from exec_assistant.interfaces import webhooks
from exec_assistant.models import AckAction, Channel, Meeting, MeetingStatus, User
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import bot_settings
from tests.slack.harness import LAMBDA_CONTEXT
from tests.slack.test_acknowledgements import PHONE, notify, standing, twilio_signature
from tests.slack.test_action_links import links

AUTH_TOKEN = "tw-auth-token-0123456789abcdef"
LINK_KEY = "link-signing-key-0123456789abcdef0123456789"
PUBLIC = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
#: What API Gateway puts in ``host``: the same host here; Twilio signed PUBLIC's URL either way.
HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def settings(fake_slack: FakeSlackAPI, tmp_path: Any) -> Settings:
    return bot_settings(
        fake_slack,
        tmp_path,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        action_link_secret=SecretStr(LINK_KEY),
        public_base_url=PUBLIC,
    )


@pytest.fixture
def phone_owner(runtime: Runtime, owner: User) -> User:
    return runtime.store.put_user(owner.model_copy(update={"phone": PHONE}))


@pytest.fixture
def handler(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``lambda_handler`` serving the test runtime, handed over as ``get_runtime()`` would."""
    import exec_assistant.runtime as runtime_module

    monkeypatch.setattr(runtime_module, "get_runtime", lambda: runtime)
    webhooks.reset_router()
    yield
    webhooks.reset_router()


def event(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    b64: bool = True,
    query: str = "",
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event, as API Gateway builds it (lower-case headers)."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": HOST, "x-forwarded-proto": "https", **(headers or {})}
        | {"content-length": str(len(body))},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": HOST,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1"},
            "requestId": "JKJaXmPLvHcESHA=",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode() if b64 else body.decode(),
        "isBase64Encoded": b64,
    }


def call(ev: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = webhooks.lambda_handler(ev, LAMBDA_CONTEXT)
    return response


FORM = {"content-type": "application/x-www-form-urlencoded"}


def sms_event(text: str, *, sign_url: str = PUBLIC + "/twilio/sms", **kw: Any) -> dict[str, Any]:
    params = {
        "MessageSid": "SM" + "c" * 32,
        "AccountSid": "AC" + "d" * 32,
        "From": PHONE,
        "To": "+15005550006",
        "Body": text,
    }
    signature = twilio_signature(AUTH_TOKEN, sign_url, params)
    headers = FORM | {"x-twilio-signature": signature}
    return event("POST", "/twilio/sms", body=urlencode(params).encode(), headers=headers, **kw)


def state(runtime: Runtime, meeting: Meeting) -> tuple[Any, ...]:
    return (
        runtime.store.get_meeting(meeting.meeting_id),
        runtime.store.list_notifications_for_meeting(meeting.meeting_id),
        runtime.scheduler.pending(""),
    )


@pytest.mark.parametrize("b64", [True, False])
def test_a_signed_sms_reply_through_the_lambda_acts_once(
    handler: None, runtime: Runtime, phone_owner: User, meeting: Meeting, b64: bool
) -> None:
    notify(runtime, meeting)
    response = call(sms_event("LATER 20", b64=b64))
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/xml"
    assert "Snoozed until" in response["body"]
    assert response["isBase64Encoded"] is False
    ack = standing(runtime, meeting)
    assert (ack.channel, ack.action) == (Channel.SMS, AckAction.REMIND_LATER)


def test_twilio_signs_the_public_url_not_the_one_the_function_sees(
    handler: None, runtime: Runtime, phone_owner: User, meeting: Meeting
) -> None:
    notify(runtime, meeting)
    before = state(runtime, meeting)
    # signed for another address (a stage prefix, http): refused, nothing changes
    for url in (PUBLIC + "/prod/twilio/sms", "http://" + HOST + "/twilio/sms"):
        assert call(sms_event("PREP", sign_url=url))["statusCode"] == 403
    unsigned = event("POST", "/twilio/sms", body=b"From=%2B33612345678&Body=PREP", headers=FORM)
    assert call(unsigned)["statusCode"] == 403
    assert state(runtime, meeting) == before


def test_email_links_get_a_page_then_act_on_post(
    handler: None, runtime: Runtime, owner: User, meeting: Meeting
) -> None:
    notify(runtime, meeting)
    token = links(runtime, meeting, owner)[AckAction.START_PREP]
    before = state(runtime, meeting)
    shown = call(event("GET", f"/actions/{token}"))
    assert shown["statusCode"] == 200
    assert shown["headers"]["content-type"].startswith("text/html")
    assert '<form method="post"' in shown["body"] and "Q1 board review" in shown["body"]
    assert state(runtime, meeting) == before  # a GET (a mail scanner) changes nothing

    done = call(event("POST", f"/actions/{token}", headers=FORM))
    assert done["statusCode"] == 200 and "Prep started from email" in done["body"]
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    after = state(runtime, meeting)
    replayed = call(event("POST", f"/actions/{token}", headers=FORM))
    assert replayed["statusCode"] == 409 and "Link already used" in replayed["body"]
    assert state(runtime, meeting) == after


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/twilio/sms", 405),
        ("DELETE", "/actions/abc", 405),
        ("POST", "/slack/webhook", 404),  # the Slack bot's route, never served here
        ("GET", "/healthz", 404),
        ("GET", "/", 404),
    ],
)
def test_other_paths_and_methods(handler: None, method: str, path: str, status: int) -> None:
    response = call(event(method, path))
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"]


def test_a_body_that_does_not_decode_is_400_and_changes_nothing(
    handler: None, runtime: Runtime, phone_owner: User, meeting: Meeting
) -> None:
    notify(runtime, meeting)
    before = state(runtime, meeting)
    broken = sms_event("PREP") | {"body": "%%% not base64 %%%"}
    assert call(broken)["statusCode"] == 400
    assert state(runtime, meeting) == before


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT"]),
    path=st.sampled_from(["/twilio/sms", "/twilio/status", "/actions/x", "/actions/"]).flatmap(
        lambda p: st.builds(lambda s: p + s, st.text(max_size=20))
    ),
    body=st.binary(max_size=300),
    b64=st.booleans(),
    headers=st.dictionaries(
        st.sampled_from(["x-twilio-signature", "content-type", "X-Twilio-Signature", "host"]),
        st.text(max_size=40),
    ),
)
def test_fuzzed_events_never_5xx_and_change_nothing(
    handler: None,
    runtime: Runtime,
    phone_owner: User,
    meeting: Meeting,
    method: str,
    path: str,
    body: bytes,
    b64: bool,
    headers: dict[str, str],
) -> None:
    notify_once(runtime, meeting)
    before = state(runtime, meeting)
    if not b64:
        body = body.decode("utf-8", "replace").encode()
    response = call(event(method, path, body=body, headers=headers, b64=b64))
    assert response["statusCode"] < 500
    assert state(runtime, meeting) == before


def notify_once(runtime: Runtime, meeting: Meeting) -> None:
    stored = runtime.store.get_meeting(meeting.meeting_id)
    if stored is not None and stored.status != MeetingStatus.PREP_SCHEDULED:
        notify(runtime, meeting)


def _top_level_modules_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return {m.split(".")[0] for m in json.loads(result.stdout.strip().splitlines()[-1])}


def test_importing_the_handler_pulls_in_neither_twilio_nor_itsdangerous() -> None:
    """Cold start: the SDKs a request may need are imported by that request."""
    heavy = {"twilio", "itsdangerous", "slack_bolt"}
    assert _top_level_modules_after("import exec_assistant.interfaces.webhooks") & heavy == set()
    # the check sees an SDK when one is imported
    both = "import exec_assistant.interfaces.webhooks, itsdangerous"
    assert _top_level_modules_after(both) & heavy == {"itsdangerous"}


def test_before_snapshot_builds_the_routes_once_for_the_snapshot(
    handler: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed: list[tuple[str, ...]] = []
    monkeypatch.setattr(snapshots, "warm_aws", warmed.append)
    webhooks.before_snapshot()
    assert warmed == [webhooks.AWS_SERVICES]
    built = webhooks.router()
    assert webhooks.router() is built  # the snapshot's router serves every request
    response = call(event("GET", "/actions/not-a-token"))
    assert response["statusCode"] == 404  # through the same router: a link it does not know
    assert webhooks.router() is built


def test_status_callbacks_reach_the_receipts_through_the_lambda(
    handler: None, runtime: Runtime, phone_owner: User, meeting: Meeting
) -> None:
    notify(runtime, meeting)
    before = state(runtime, meeting)
    params = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered", "To": PHONE}
    body = urlencode(params).encode()
    unsigned = call(event("POST", "/twilio/status", body=body, headers=FORM))
    assert unsigned["statusCode"] == 403
    signature = twilio_signature(AUTH_TOKEN, PUBLIC + "/twilio/status", params)
    signed = event(
        "POST", "/twilio/status", body=body, headers=FORM | {"x-twilio-signature": signature}
    )
    assert call(signed)["statusCode"] == 200  # a message this ledger never sent: nothing to do
    assert state(runtime, meeting) == before
